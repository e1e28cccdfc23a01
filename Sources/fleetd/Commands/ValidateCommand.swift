import ArgumentParser
import Fleet
import Foundation
import Providers

/// `fleetd validate --config PATH`: exit 0 with a one-line summary, or 1 with every error. The
/// CA file `FLEETD_EXTRA_CA_CERTS` names, when set, is checked too: `serve` would refuse it.
struct ValidateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Check a config file and report every problem with its line and column."
    )

    @OptionGroup var options: ConfigOptions

    func run() async throws {
        let loaded = try options.load()
        printWarnings(loaded.warnings)
        let trust: ProviderTrust
        do {
            trust = try ProviderTrust.fromEnvironment(ProcessInfo.processInfo.environment)
        } catch {
            throw UserError(error.message)
        }
        print("\(options.path): valid. \(loaded.config.summary)")
        if let path = trust.path {
            print("\(ProviderTrust.environmentVariable): \(trust.extraCount) CA certificate\(trust.extraCount == 1 ? "" : "s") from \(path), trusted beside the system's")
        }
    }
}

extension FleetConfig {
    /// One line describing what this config runs.
    var summary: String {
        let allocation = agentAllocation
        let instances = allocation.reduce(0) { $0 + $1.count }
        let on = features.global.filter { $0.value.enabled }.keys.sorted()
        // What each type really runs (maxAgents may cut the counts).
        let perType = allocation.map { "\($0.type) \($0.count)" }.joined(separator: ", ")
        var parts = [
            "fleet '\(fleet.id)'",
            "\(agents.count) agent type\(agents.count == 1 ? "" : "s") (\(instances) instance\(instances == 1 ? "" : "s")\(perType.isEmpty ? "" : ": \(perType)"))",
        ]
        parts.append(contentsOf: componentSummary)
        parts.append("flags on: \(on.isEmpty ? "none (v1.0.4 behaviour)" : on.joined(separator: ", "))")
        return parts.joined(separator: ", ")
    }
}
