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
    }
}
