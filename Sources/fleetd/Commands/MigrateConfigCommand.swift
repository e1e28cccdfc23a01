import ArgumentParser
import Fleet
import Foundation

/// `fleetd migrate-config IN [--output OUT] [--check]`: v1.0.4 → v1.0.5.
struct MigrateConfigCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate-config",
        abstract: "Migrate a v1.0.4 config (YAML or JSON) to v1.0.5.",
        discussion: """
        Prints the migrated config, or writes it to --output atomically. The input is never \
        overwritten unless --output names it. A v1.0.5 input comes out unchanged. With --check \
        nothing is written: exit 0 when the file is already v1.0.5, 1 when it needs migrating.
        """
    )

    @Argument(help: ArgumentHelp("The v1.0.4 config.", valueName: "in"))
    var input: String

    @Option(name: .shortAndLong, help: ArgumentHelp("Where to write the v1.0.5 config.", valueName: "out"))
    var output: String?

    @Flag(help: "Only report whether a migration is needed.")
    var check = false

    @Flag(help: "Overwrite --output if it exists (and is not the input).")
    var force = false

    func run() async throws {
        guard let data = FileManager.default.contents(atPath: input) else {
            throw UserError("cannot read \(input): no such file or not readable")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw UserError("\(input) is not UTF-8 text")
        }
        let outcome: ConfigMigrator.Outcome
        do {
            outcome = try ConfigMigrator.migrate(text: text, file: input)
        } catch let error as ConfigMigrator.MigrationError {
            throw UserError(error.message)
        }
        switch outcome {
        case .alreadyCurrent:
            // Passed through unchanged, so `script OLD > NEW` (or a second run of it) never
            // leaves an empty config behind.
            if !check {
                if let output {
                    try write(text, to: output)
                } else {
                    print(text, terminator: "")
                }
            }
            FileHandle.standardError.write(Data("\(input) is already a v1.0.5 config; nothing changed.\n".utf8))
        case .migrated(let migrated, let added, let warnings):
            for warning in warnings {
                FileHandle.standardError.write(Data("warning: \(input): \(warning)\n".utf8))
            }
            if check {
                FileHandle.standardError.write(Data("\(input) is a v1.0.4 config; migrating adds: \(added.joined(separator: ", ")).\n".utf8))
                throw ExitCode.failure
            }
            guard let output else {
                print(migrated, terminator: "")
                return
            }
            try write(migrated, to: output)
            FileHandle.standardError.write(Data("migrated \(input) -> \(output) (added: \(added.joined(separator: ", "))).\n".utf8))
        }
    }

    /// Writes to a temporary file beside the target, then renames it over: readers see the old
    /// file or the new one, never half of one.
    private func write(_ text: String, to path: String) throws {
        let target = URL(fileURLWithPath: path)
        let sameAsInput = target.standardizedFileURL.resolvingSymlinksInPath() == URL(fileURLWithPath: input).standardizedFileURL.resolvingSymlinksInPath()
        if FileManager.default.fileExists(atPath: path), !sameAsInput, !force {
            throw UserError("\(path) exists; pass --force to overwrite it")
        }
        let temporary = target.deletingLastPathComponent()
            .appendingPathComponent(".\(target.lastPathComponent).\(ProcessInfo.processInfo.processIdentifier).tmp")
        do {
            try Data(text.utf8).write(to: temporary)
            // rename(2) replaces the target in one step on the same file system.
            guard rename(temporary.path, target.path) == 0 else {
                throw UserError("cannot write \(path): \(String(cString: strerror(errno)))")
            }
        } catch let error as UserError {
            try? FileManager.default.removeItem(at: temporary)
            throw error
        } catch {
            try? FileManager.default.removeItem(at: temporary)
            throw UserError("cannot write \(path): \(error.localizedDescription)")
        }
    }
}
