import Foundation
import GRDB

/// One stored value: partition + key → JSON value, with owner, access level and expiry.
public struct MemoryEntry: Sendable, Hashable {
    /// The partition, e.g. `routing/costs`.
    public var partition: String
    /// The key inside the partition, e.g. `daily/2026-01-31`.
    public var key: String
    /// The JSON-encoded value.
    public var value: Data
    /// The agent id (or `system`) that wrote it.
    public var owner: String
    public var accessLevel: MemoryAccessLevel
    public var createdAt: Date
    /// When it stops being visible; `nil` never expires.
    public var expiresAt: Date?

    public init(partition: String, key: String, value: Data, owner: String, accessLevel: MemoryAccessLevel, createdAt: Date, expiresAt: Date?) {
        self.partition = partition
        self.key = key
        self.value = value
        self.owner = owner
        self.accessLevel = accessLevel
        self.createdAt = createdAt
        self.expiresAt = expiresAt
    }

    /// `partition/key`, the entry's full address, e.g. `routing/costs/daily/2026-01-31` (docs/store.md).
    public var address: String { "\(partition)/\(key)" }

    /// Decodes the JSON value.
    public func decode<T: Decodable>(_ type: T.Type = T.self) throws -> T {
        do {
            return try MemoryStore.makeDecoder().decode(T.self, from: value)
        } catch {
            throw StoreError(.invalidValue, "entry \(address) does not decode as \(T.self): \(error)")
        }
    }

    init(row: Row) throws {
        let levelName: String = row["access_level"]
        guard let level = MemoryAccessLevel(rawValue: levelName) else {
            throw StoreError(.corrupt, "entry \(row["partition"] as String? ?? "?")/\(row["key"] as String? ?? "?") has unknown access level '\(levelName)'")
        }
        partition = row["partition"]
        key = row["key"]
        value = row["value"]
        owner = row["owner"]
        accessLevel = level
        createdAt = Date(timeIntervalSince1970: row["created_at"])
        expiresAt = (row["expires_at"] as Double?).map { Date(timeIntervalSince1970: $0) }
    }
}

/// When a stored entry expires.
public enum MemoryExpiry: Sendable, Hashable {
    /// The partition's TTL from ``MemoryStoreConfiguration``.
    case partitionDefault
    /// Never.
    case never
    /// This many seconds after the write. Must be positive.
    case after(TimeInterval)
    /// At this instant.
    case at(Date)
}
