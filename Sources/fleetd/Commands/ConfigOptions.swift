import ArgumentParser
import Fleet
import Foundation

/// `--config PATH`, shared by every command that reads the config file.
struct ConfigOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The fleet config file (YAML or JSON).", valueName: "path"))
    var config: String?

    /// `--config`, else `$CONFIG_FILE` (v1.0.4's variable), else `config/fleet.yaml`.
    var path: String {
        config ?? ProcessInfo.processInfo.environment["CONFIG_FILE"] ?? "config/fleet.yaml"
    }

    /// Loads and validates the config, or throws a ``UserError`` listing every problem.
    func load() throws -> LoadedConfig {
        do {
            return try ConfigLoader.load(path: path)
        } catch let error as ConfigError {
            let count = error.errors.count
            throw UserError("\(path) is not a valid config (\(count) error\(count == 1 ? "" : "s")):\n\(error)")
        }
    }
}

/// `--environment` and `--data-dir`, shared by the commands that run the fleet (`serve`, `mcp`).
struct ServiceOptions: ParsableArguments {
    @Option(help: "Environment whose flag overrides apply (default: $FLEETD_ENVIRONMENT).")
    var environment: String?

    @Option(name: .customLong("data-dir"), help: ArgumentHelp("Where the database and runtime state live.", valueName: "dir"))
    var dataDir: String = "data"

    /// The data directory, created if missing.
    func dataDirectory() throws -> URL {
        let url = URL(fileURLWithPath: dataDir, isDirectory: true)
        do {
            try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        } catch {
            throw UserError("cannot create the data directory \(dataDir): \(error.localizedDescription)")
        }
        return url
    }
}

/// `--context key=value`, parsed.
func parseContext(_ pairs: [String]) throws -> [String: String] {
    var result: [String: String] = [:]
    for pair in pairs {
        guard let equals = pair.firstIndex(of: "="), equals != pair.startIndex else {
            throw ValidationError("--context takes key=value, got '\(pair)'")
        }
        result[String(pair[..<equals])] = String(pair[pair.index(after: equals)...])
    }
    return result
}

/// Prints warnings to standard error, one per line.
func printWarnings(_ warnings: [ConfigDiagnostic]) {
    for warning in warnings {
        FileHandle.standardError.write(Data("\(warning)\n".utf8))
    }
}
