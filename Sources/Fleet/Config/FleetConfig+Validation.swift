import FleetSupport
import Yams

// Rules that span fields, checked after decoding. Positions come from the node tree.

extension FleetConfig {
    static func validate(_ config: FleetConfig, root: Node, sink: DiagnosticSink) {
        let requested = config.agents.reduce(0) { $0 + $1.count }
        if requested > config.fleet.maxAgents {
            let cut = zip(config.agents, config.agentAllocation).filter { $1.count < $0.count }
                .map { "\($0.type) gets \($1.count) of \($0.count)" }
            sink.warning("agents", at: root["agents"]?.mark,
                         "the agents ask for \(requested) instances but fleet.maxAgents is \(config.fleet.maxAgents); only \(config.fleet.maxAgents) will run: "
                            + cut.joined(separator: ", "))
        }
        validateComponents(config, root: root, sink: sink)
        validateAgentAccess(config, root: root, sink: sink)
        validateOverrideAgentTypes(config, root: root, sink: sink)
    }

    /// `featureOverrides.agentType` keys should name configured agent types: an override for a
    /// misspelt one (`revewer:`) applies to no task.
    static func validateOverrideAgentTypes(_ config: FleetConfig, root: Node, sink: DiagnosticSink) {
        guard let level = root["featureOverrides"]?["agentType"], case .mapping(let mapping) = level else { return }
        let types = config.agentTypeNames
        for (key, _) in mapping {
            guard let name = key.scalar?.string, !types.contains(name) else { continue }
            var message = "'\(name)' names no agent type in agents, so its overrides apply to no task"
            if let near = Suggestion.closest(to: name, in: types) {
                message += " (did you mean '\(near)'?)"
            } else {
                message += "; configured: \(types.joined(separator: ", "))"
            }
            sink.warning(MappingReader.join("featureOverrides.agentType", name), at: key.mark, message)
        }
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

extension FleetConfig {
    /// How many agents each entry of ``agents`` really runs, in order, within `fleet.maxAgents`:
    /// its count when the counts fit; otherwise every type with a count of at least 1 gets one
    /// agent first (while `maxAgents` allows), then what is left goes to the types in order, each
    /// up to its count. No type is starved by one listed before it.
    public var agentAllocation: [(type: String, count: Int)] {
        var left = fleet.maxAgents
        var given = agents.map { agent -> Int in
            let one = agent.count > 0 && left > 0 ? 1 : 0
            left -= one
            return one
        }
        for (index, agent) in agents.enumerated() where left > 0 {
            let more = max(0, min(agent.count - given[index], left))
            given[index] += more
            left -= more
        }
        return zip(agents, given).map { (type: $0.type, count: $1) }
    }
}
