/// Partition names used by fleetd's own components.
public enum MemoryPartitions {
    public static let costs = "routing/costs"
    public static let selections = "routing/selections"
    public static let stats = "routing/stats"
    /// What `predictiveRouting` learned: one entry per (task type, band, model[, tenant]) cell.
    public static let learning = "routing/learning"
    /// Per finished task, the model and cell its feedback attaches to.
    public static let outcomes = "routing/outcomes"
    public static let streamSessions = "streaming/sessions"
    public static let streamMetadata = "streaming/metadata"
    /// One entry per tool call an agent made (`mcpTools`): server, tool, outcome, duration.
    public static let toolCalls = "tools/calls"
}
