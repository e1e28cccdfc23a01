import ArgumentParser
import Fleet

/// `fleetd validate --config PATH`: exit 0 with a one-line summary, or 1 with every error.
struct ValidateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Check a config file and report every problem with its line and column."
    )

    @OptionGroup var options: ConfigOptions

    func run() async throws {
        let loaded = try options.load()
        printWarnings(loaded.warnings)
        print("\(options.path): valid. \(loaded.config.summary)")
    }
}

extension FleetConfig {
    /// One line describing what this config runs.
    var summary: String {
        let instances = agents.reduce(0) { $0 + $1.count }
        let on = features.global.filter { $0.value.enabled }.keys.sorted()
        var parts = [
            "fleet '\(fleet.id)'",
            "\(agents.count) agent type\(agents.count == 1 ? "" : "s") (\(min(instances, fleet.maxAgents)) instance\(instances == 1 ? "" : "s"))",
        ]
        parts.append(contentsOf: componentSummary)
        parts.append("flags on: \(on.isEmpty ? "none (v1.0.4 behaviour)" : on.joined(separator: ", "))")
        return parts.joined(separator: ", ")
    }
}
