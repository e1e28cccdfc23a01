/// Partition names used by fleetd's own components.
public enum MemoryPartitions {
    public static let costs = "routing/costs"
    public static let selections = "routing/selections"
    public static let stats = "routing/stats"
    public static let streamSessions = "streaming/sessions"
    public static let streamMetadata = "streaming/metadata"
}
