extension FleetConfig {
    /// The agent type of a task that names none: the first configured, else `default`.
    public var defaultAgentType: String { agents.first?.type ?? "default" }

    /// The agent types a flag override can name: the configured ones, in order (the default type
    /// when none is configured).
    public var agentTypeNames: [String] {
        guard !agents.isEmpty else { return [defaultAgentType] }
        var seen = Set<String>()
        return agents.map(\.type).filter { seen.insert($0).inserted }
    }

    /// The flags as a task gets them: the features' verdicts for `context` (a context with no
    /// agent type takes the default type's overrides, as such a task runs on it), with the
    /// sections' master switches applied: a flag that is on does nothing while its section is off
    /// (`multiModelRouter` without `routing.enabled`, `streaming` without `streaming.enabled`,
    /// `predictiveRouting` without the router), and its rule says so. The task path, `GET
    /// /v1/flags`, `fleetd flags` and the start-up log all read this, so what they show is what
    /// tasks get.
    public func effectiveFlags(in context: FlagContext) -> [FlagDecision] {
        var context = context
        if context.agentType == nil { context.agentType = defaultAgentType }
        var decisions = features.evaluateAll(in: context)
        let routerOn = decisions.contains { $0.name == "multiModelRouter" && $0.enabled } && routing.enabled
        for index in decisions.indices where decisions[index].enabled {
            let blocked: String? = switch decisions[index].name {
            case "multiModelRouter" where !routing.enabled: "routing.enabled is false"
            case "streaming" where !streaming.enabled: "streaming.enabled is false"
            case "predictiveRouting" where !routerOn: "it needs the router (multiModelRouter on, routing.enabled true)"
            default: nil
            }
            if let blocked {
                decisions[index].enabled = false
                decisions[index].rule += "; but \(blocked), so it is off"
            }
        }
        return decisions
    }
}
