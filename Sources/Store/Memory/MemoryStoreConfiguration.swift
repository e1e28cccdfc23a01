import Foundation

/// Memory store settings: TTL per partition (`memory.ttl` in the config file).
public struct MemoryStoreConfiguration: Sendable, Hashable {
    /// Default TTLs in seconds (docs/store.md, "Partition TTLs"). A `/*` suffix covers every
    /// partition under that prefix.
    /// A value of 0 or less means entries never expire.
    public static let defaultPartitionTTLs: [String: TimeInterval] = [
        "routing/costs": 30 * 86_400,
        "routing/selections": 7 * 86_400,
        "routing/stats": 0,
        "routing/learning": 0,
        "routing/outcomes": 7 * 86_400,
        "streaming/sessions": 3_600,
        "streaming/buffer": 300,
        "streaming/metadata": 86_400,
        "cache/responses": 3_600,
        "responses/conversations": 86_400,
        "tools/calls": 7 * 86_400,
        "performance/*": 7 * 86_400,
    ]

    /// Partition (or `prefix/*`) → TTL in seconds, ≤ 0 meaning never: the rules the config gave.
    /// They win over every default, so `streaming/*: 10m` also shortens `streaming/sessions`,
    /// which has a default of its own; partitions they do not cover keep their default.
    public var partitionTTLOverrides: [String: TimeInterval]
    /// TTL for partitions no rule covers, in seconds; `nil` (default) means never.
    public var defaultTTL: TimeInterval?
    /// The most answers the response cache (`cache/responses`) keeps; the oldest go first.
    /// `memory.responseCache.maxEntries` in the config file.
    public var responseCacheMaxEntries: Int = 10_000
    /// Calls that ask for a temperature above this are not cached; a call that leaves it unset (the
    /// provider's default) is, under a key of its own (`memory.responseCache.maxTemperature`).
    public var responseCacheMaxTemperature: Double = 0.5

    /// - Parameter partitionTTLOverrides: the config's rules, consulted before ``defaultPartitionTTLs``.
    public init(partitionTTLOverrides: [String: TimeInterval] = [:], defaultTTL: TimeInterval? = nil) {
        self.partitionTTLOverrides = partitionTTLOverrides
        self.defaultTTL = defaultTTL
    }

    /// The TTL for a partition in seconds, `nil` when its entries never expire.
    ///
    /// The config's rules first, then the defaults: in each, an exact rule wins, otherwise the
    /// longest `prefix/*` rule whose prefix is a parent of the partition. Then ``defaultTTL``.
    public func ttl(forPartition partition: String) -> TimeInterval? {
        for rules in [partitionTTLOverrides, Self.defaultPartitionTTLs] {
            if let rule = Self.rule(for: partition, in: rules) { return rule > 0 ? rule : nil }
        }
        if let defaultTTL, defaultTTL > 0 { return defaultTTL }
        return nil
    }

    private static func rule(for partition: String, in rules: [String: TimeInterval]) -> TimeInterval? {
        if let exact = rules[partition] { return exact }
        var segments = partition.split(separator: "/", omittingEmptySubsequences: false)
        while segments.count > 1 {
            segments.removeLast()
            if let rule = rules[segments.joined(separator: "/") + "/*"] { return rule }
        }
        return nil
    }
}
