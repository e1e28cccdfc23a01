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

    @Option(help: "Environment whose overrides apply (default: $FLEETD_ENVIRONMENT, as serve reads it).")
    var environment: String?

    @Option(name: .customLong("data-dir"), help: ArgumentHelp("Where fleetd keeps its data: the flag changes made at runtime there apply.",
                                                              valueName: "dir"))
    var dataDir: String = "data"

    @Option(name: .customLong("agent-type"), help: "Agent type whose overrides apply.")
    var agentType: String?

    @Option(name: .customLong("context"), help: ArgumentHelp("A stickiness value, e.g. tenantId=acme (repeatable).", valueName: "key=value"))
    var context: [String] = []

    @Flag(help: "Print one JSON object instead of a table.")
    var json = false

    func run() async throws {
        let loaded = try options.load()
        // An agent type the fleet does not run would silently show the global flags.
        if let agentType {
            let known = loaded.config.agents.isEmpty ? [loaded.config.defaultAgentType] : loaded.config.agents.map(\.type)
            guard known.contains(agentType) else {
                throw UserError("no agent type '\(agentType)' in \(options.path); known agent types: \(known.joined(separator: ", "))")
            }
        }
        let environment = environment ?? ProcessInfo.processInfo.environment["FLEETD_ENVIRONMENT"]
        let flagContext = FlagContext(agentType: agentType, environment: environment, properties: try parseContext(context))
        // The changes made at runtime (dashboard, PUT /v1/flags) on top of the file, as serve has them.
        let file = URL(fileURLWithPath: dataDir, isDirectory: true).appendingPathComponent("runtime-flags.json")
        let changes: [RuntimeFlagStore.Change]
        do {
            changes = try RuntimeFlagStore(url: file).load()
        } catch {
            throw UserError("\(error)")
        }
        let decisions = ConfigReloader.apply(changes, to: loaded.config).effectiveFlags(in: flagContext)
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
