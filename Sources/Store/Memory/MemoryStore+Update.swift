import Foundation
import GRDB

extension MemoryStore {
    /// Reads the live value at `partition`/`key` (`nil` when there is none), transforms it and
    /// stores the result, as ONE atomic step: with the shared store, concurrent updates of the same
    /// entry from any number of instances are serialised (an advisory lock on the entry, taken
    /// before the read, so the entry's creation is serialised too); on SQLite, one write transaction.
    /// A system writer's operation. Returns the value stored.
    public func update<Value: Codable & Sendable>(
        _ type: Value.Type,
        partition: String,
        key: String,
        accessLevel: MemoryAccessLevel = .system,
        expiry: MemoryExpiry = .partitionDefault,
        _ transform: @escaping @Sendable (Value?) throws -> Value
    ) async throws -> Value {
        try Self.validateAddress(partition: partition, key: key)
        let now = clock.now
        let expiresAt = try expiryDate(expiry, partition: partition, now: now)
        let context = "\(partition)/\(key)"
        let change: @Sendable (Data?) throws -> (Data, Value) = { old in
            let current = try old.map { data -> Value in
                do {
                    return try Self.makeDecoder().decode(Value.self, from: data)
                } catch {
                    throw StoreError(.invalidValue, "entry \(context) does not decode as \(Value.self): \(error)")
                }
            }
            let next = try transform(current)
            return (try Self.encode(next, context: context), next)
        }
        if let shared {
            return try await shared.updateMemory(partition: partition, key: key, accessLevel: accessLevel, now: now, expiresAt: expiresAt, change)
        }
        return try await database.write("updating \(context)") { db in
            let old = try Row.fetchOne(db, sql: """
                SELECT value FROM memory_entries WHERE partition = ? AND key = ? AND (expires_at IS NULL OR expires_at > ?)
                """, arguments: [partition, key, now.timeIntervalSince1970]).map { $0["value"] as Data }
            let (data, value) = try change(old)
            try Self.upsert(MemoryEntry(partition: partition, key: key, value: data, owner: MemoryReader.system.ownerName,
                                        accessLevel: accessLevel, createdAt: now, expiresAt: expiresAt),
                            writer: .system, now: now, in: db)
            return value
        }
    }
}
