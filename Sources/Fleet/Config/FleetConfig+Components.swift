import Yams

// Sections owned by the components (routing, streaming, costs, quotas, memory).

extension FleetConfig {
    static func decodeComponents(into config: inout FleetConfig, _ top: inout MappingReader, sink: DiagnosticSink) {
    }
}

extension FleetConfig {
    static func validateComponents(_ config: FleetConfig, root: Node, sink: DiagnosticSink) {
    }
}

extension EnvironmentOverrides {
    static func applyComponents(_ env: EnvironmentReader, to config: inout FleetConfig) {
    }
}
