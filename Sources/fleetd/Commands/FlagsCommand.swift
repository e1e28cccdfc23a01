import ArgumentParser
import Fleet
import Foundation

/// `fleetd flags`: every flag's value for a context, and the rule that decided it.
struct FlagsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "flags",
        abstract: "Show every feature flag's resolved value for a context and which rule decided it."
    )

    @OptionGroup var options: ConfigOptions

    @Option(help: "Environment whose overrides apply.")
    var environment: String?

    @Option(name: .customLong("agent-type"), help: "Agent type whose overrides apply.")
    var agentType: String?

    @Option(name: .customLong("context"), help: ArgumentHelp("A stickiness value, e.g. tenantId=acme (repeatable).", valueName: "key=value"))
    var context: [String] = []

    @Flag(help: "Print one JSON object instead of a table.")
    var json = false

    func run() async throws {
        let loaded = try options.load()
        let flagContext = FlagContext(agentType: agentType, environment: environment, properties: try parseContext(context))
        let decisions = loaded.config.features.evaluateAll(in: flagContext)
        if json {
            print(try renderJSON(decisions))
        } else {
            printWarnings(loaded.warnings)
            let width = decisions.map(\.name.count).max() ?? 4
            print("FLAG".padding(toLength: width, withPad: " ", startingAt: 0) + "  VALUE  RULE")
            for decision in decisions {
                let name = decision.name.padding(toLength: width, withPad: " ", startingAt: 0)
                print("\(name)  \(decision.enabled ? "on " : "off")    \(decision.rule)")
            }
        }
    }

    func renderJSON(_ decisions: [FlagDecision]) throws -> String {
        struct Entry: Encodable { var enabled: Bool; var rule: String }
        struct Output: Encodable { var flags: [String: Entry] }
        let output = Output(flags: Dictionary(uniqueKeysWithValues: decisions.map { ($0.name, Entry(enabled: $0.enabled, rule: $0.rule)) }))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(output), as: UTF8.self)
    }
}
