import Agents
import ArgumentParser
import Fleet
import Foundation
import Routing

/// `fleetd route`: explain a routing decision without calling any model.
struct RouteCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "route",
        abstract: "Explain which model a task would go to, and why, without calling any model.",
        discussion: """
        With TEXT: the selection and its full reasoning (complexity factors, every candidate and why \
        it was kept or excluded, the fallback chain). With --jsonl FILE: one task per line \
        ({"id": …, "prompt": …, "type"?: …}) in, one selection per line out, in input order. \
        Budgets and quotas are those of --data-dir when given (with database.type: postgres, the \
        shared store's); otherwise none apply. Models whose \
        API key is not set in this command's environment are excluded, as `fleetd serve` skips them.
        """
    )

    @OptionGroup var options: ConfigOptions

    @Argument(help: "The task's text.")
    var text: String?

    @Option(help: ArgumentHelp("The task type (code, reasoning, math, …); inferred when absent.", valueName: "type"))
    var type: String?

    @Flag(help: "Print the selection as JSON.")
    var json = false

    @Option(help: ArgumentHelp("Route every task in a JSON-lines file ('-' for standard input).", valueName: "file"))
    var jsonl: String?

    @Option(name: .customLong("data-dir"), help: ArgumentHelp("Use this data directory's budgets, quotas and routing history.", valueName: "dir"))
    var dataDir: String?

    @Flag(help: "Rank with what predictive routing learned (the default when the predictiveRouting flag is on globally).")
    var predictive = false

    func validate() throws {
        if (text == nil) == (jsonl == nil) { throw ValidationError("give either the task's TEXT or --jsonl FILE") }
        if let type, TaskType(rawValue: type) == nil {
            throw ValidationError("unknown --type '\(type)'; known: \(TaskType.allCases.map(\.rawValue).joined(separator: ", "))")
        }
    }

    func run() async throws {
        var config = try options.load().config
        config.routing.enabled = true
        // The models `fleetd serve` would call with this environment: one whose key is not set is
        // off (the trace says "no API key (… not set)"), and the local last resort stands in for an
        // uncallable default model, exactly as serve decides at start-up.
        config.routing = EffectiveModels.routing(for: config.routing, environment: ProcessInfo.processInfo.environment).0
        guard let dataDir else {
            return try await route(config: config, router: ModelRouter(configuration: config.routing, scorer: ComplexityAnalyzer(weights: config.routing.complexity)))
        }
        // With `database.type: postgres` the budgets, quotas and history are the shared store's.
        try await withSharedStore(config) { postgres in
            let plane = try await DataPlane.open(config: config, dataDirectory: URL(fileURLWithPath: dataDir), postgres: postgres)
            try await route(config: config, router: plane.router)
        }
    }

    private func route(config: FleetConfig, router: ModelRouter) async throws {
        let learning = predictive || config.features.evaluateAll(in: FlagContext(agentType: nil, environment: nil, properties: [:]))
            .contains { $0.name == "predictiveRouting" && $0.enabled }
        if let jsonl {
            let data: Data
            if jsonl == "-" {
                data = FileHandle.standardInput.readDataToEndOfFile()
            } else {
                guard let contents = FileManager.default.contents(atPath: jsonl) else { throw UserError("cannot read \(jsonl)") }
                data = contents
            }
            FileHandle.standardOutput.write(await RoutingBatch(router: router, useLearning: learning).run(data))
            return
        }
        var task = RoutingTask(taskId: "explain-\(UUID().uuidString.prefix(8).lowercased())", prompt: text ?? "", type: type.flatMap(TaskType.init))
        // The answer's limit a task of the first agent type asks for (as POST /v1/route counts it):
        // the context-window check holds the input and that much answer.
        task.outputTokenLimit = AgentRole(config: config.agents.first?.config ?? [:]).maxTokens ?? AgentRole.defaultOutputTokenCeiling
        do {
            let selection = try await router.explain(task, useLearning: learning)
            print(json ? try SelectionRenderer.json(selection) : SelectionRenderer.text(selection))
        } catch let error as RouterError {
            if json { print(try SelectionRenderer.json(error)) }
            throw UserError(SelectionRenderer.text(error))
        }
    }
}
