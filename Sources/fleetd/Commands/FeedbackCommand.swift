import ArgumentParser
import Fleet
import Foundation
import Routing

/// `fleetd feedback --jsonl FILE`: teach `predictiveRouting` from outcomes collected elsewhere.
struct FeedbackCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "feedback",
        abstract: "Import task outcomes for predictive routing into a data directory.",
        discussion: """
        One outcome per line: {"prompt": …, "type"?: …, "model": …, "score": 0…1, "tenant"?: …, "label"?: …}. \
        Each is learned as if it had come through POST /v1/tasks/{id}/feedback and added to the cells \
        stored in the data directory, in one transaction. A fleetd serving on the same directory \
        keeps what it learned too and routes with the import within about a second; a fleetd started \
        later (or `fleetd route --data-dir`) routes with it from the start. Bad lines are reported \
        on standard error and skipped; the command fails only when no line could be imported.
        """
    )

    @OptionGroup var options: ConfigOptions

    @Option(help: ArgumentHelp("The outcomes, as JSON lines ('-' for standard input).", valueName: "file"))
    var jsonl: String

    @Option(name: .customLong("data-dir"), help: ArgumentHelp("The data directory to learn into.", valueName: "dir"))
    var dataDir: String = "data"

    func run() async throws {
        let config = try options.load().config
        let data: Data
        if jsonl == "-" {
            data = FileHandle.standardInput.readDataToEndOfFile()
        } else {
            guard let contents = FileManager.default.contents(atPath: jsonl) else { throw UserError("cannot read \(jsonl)") }
            data = contents
        }
        let directory = URL(fileURLWithPath: dataDir)
        let (summary, cells) = try await Self.importOutcomes(data, config: config, dataDirectory: directory)
        for problem in summary.problems {
            FileHandle.standardError.write(Data("fleetd feedback: \(problem)\n".utf8))
        }
        let skipped = summary.problems.isEmpty ? "" : " (\(summary.problems.count) line\(summary.problems.count == 1 ? "" : "s") skipped)"
        print("imported \(summary.imported) outcome\(summary.imported == 1 ? "" : "s")\(skipped) into \(storeDescription(config, dataDirectory: directory)); \(cells) learned cells")
        if summary.imported == 0 { throw UserError("no outcome imported from \(jsonl)") }
    }

    /// Learns the outcomes in `data` and adds them to the cells stored in the data directory's
    /// SQLite file, in one transaction (``ModelRouter/syncLearning()``): whatever a fleetd serving on
    /// the same directory stored meanwhile is added to, not written over, and that fleetd takes the
    /// import in at its next sync. With `database.type: postgres` the cells are the shared store's,
    /// each outcome added to them in place as every instance's are. Returns what was imported and
    /// how many cells are stored now.
    static func importOutcomes(_ data: Data, config: FleetConfig, dataDirectory: URL) async throws -> (summary: OutcomeImport.Summary, cells: Int) {
        try await withSharedStore(config) { postgres in
            let plane = try await DataPlane.open(config: config, dataDirectory: dataDirectory, postgres: postgres)
            let summary = await OutcomeImport(router: plane.router).run(data)
            do {
                try await plane.router.syncLearning()
            } catch {
                throw UserError("the imported outcomes could not be stored in \(storeDescription(config, dataDirectory: dataDirectory)): \(error)")
            }
            await plane.records.flush()
            return (summary, plane.router.learner.snapshot().count)
        }
    }
}
