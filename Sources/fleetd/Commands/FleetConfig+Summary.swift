import Fleet

extension FleetConfig {
    /// The routing, cost and streaming part of the one-line summary.
    var componentSummary: [String] {
        let enabled = routing.models.filter(\.enabled).count
        var parts = ["\(routing.models.count) model\(routing.models.count == 1 ? "" : "s") (\(enabled) enabled)"]
        if let defaultModel = routing.defaultModel { parts.append("default model \(defaultModel)") }
        parts.append("routing \(routing.enabled ? "on" : "off")")
        parts.append("cost tracking \(cost.enabled ? "on" : "off")")
        parts.append("streaming \(streaming.enabled ? "on" : "off")")
        return parts
    }
}
