import FleetSupport
import Yams

// Rules that span fields, checked after decoding. Positions come from the node tree.

extension FleetConfig {
    static func validate(_ config: FleetConfig, root: Node, sink: DiagnosticSink) {
        let requested = config.agents.reduce(0) { $0 + $1.count }
        if requested > config.fleet.maxAgents {
            sink.warning("agents", at: root["agents"]?.mark,
                         "the agents ask for \(requested) instances but fleet.maxAgents is \(config.fleet.maxAgents); only \(config.fleet.maxAgents) will run")
        }
        validateComponents(config, root: root, sink: sink)
        validateAgentAccess(config, root: root, sink: sink)
    }

    /// `agents[].config.models` must name configured models and `providers` known providers:
    /// the router confines the type's tasks to them.
    static func validateAgentAccess(_ config: FleetConfig, root: Node, sink: DiagnosticSink) {
        let names = Set(config.routing.models.map(\.name))
        for (index, agent) in config.agents.enumerated() {
            let node = root["agents"]?[index]?["config"]
            let path = "agents[\(index)].config"
            for problem in AgentToolConfig.parse(agent.config).1 {
                let key = String(problem.path.prefix { $0 != "[" && $0 != "." })
                sink.error("\(path).\(problem.path)", at: node?[key]?.mark ?? node?.mark, problem.message)
            }
            if let value = agent.config["models"] {
                guard let models = value.stringList, !models.isEmpty, models.count == value.listCount else {
                    sink.error("\(path).models", at: node?["models"]?.mark, "expected a list of model names")
                    continue
                }
                for model in models where !names.contains(model) {
                    var message = "'\(model)' names no model in routing.models"
                    if let near = Suggestion.closest(to: model, in: Array(names)) { message += " (did you mean '\(near)'?)" }
                    sink.error("\(path).models", at: node?["models"]?.mark, message)
                }
            }
            if let value = agent.config["providers"] {
                guard let providers = value.stringList, !providers.isEmpty, providers.count == value.listCount else {
                    sink.error("\(path).providers", at: node?["providers"]?.mark, "expected a list of provider names")
                    continue
                }
                for provider in providers where ProviderKind(rawValue: provider) == nil {
                    sink.error("\(path).providers", at: node?["providers"]?.mark,
                               "unknown provider '\(provider)'; expected \(ProviderKind.allCases.map(\.rawValue).joined(separator: ", "))")
                }
            }
        }
    }
}

private extension ConfigValue {
    /// How many values a list (or a single scalar) holds.
    var listCount: Int {
        if case .list(let values) = self { return values.count }
        return 1
    }
}
