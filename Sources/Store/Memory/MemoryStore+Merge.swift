import Foundation
import GRDB

/// One read-modify-write of ``MemoryStore/merge(_:partition:changes:knownVersion:)``: the entry at
/// `key` becomes `transform` of the value stored there (`nil` when there is none).
public struct MemoryChange<Value>: Sendable {
    public let key: String
    public let transform: @Sendable (Value?) -> Value

    public init(key: String, transform: @escaping @Sendable (Value?) -> Value) {
        self.key = key
        self.transform = transform
    }
}

/// What ``MemoryStore/merge(_:partition:changes:knownVersion:)`` stored and read.
public struct MemoryMerge<Value: Sendable>: Sendable {
    /// The changed values as stored; when ``complete``, every live value of the partition.
    public var values: [Value]
    /// Whether ``values`` is the whole partition.
    public var complete: Bool
    /// The file's version as this process sees it, to pass to the next merge (`nil` on the shared store).
    public var version: Int?
}

extension MemoryStore {
    /// Applies `changes` to a partition in ONE write transaction, each to the value stored when
    /// the transaction runs, so that what other processes on the same SQLite file stored meanwhile
    /// (`fleetd feedback --jsonl`, `fleetd mcp` beside `fleetd serve`) is added to, not written over.
    ///
    /// Returns the changed values; and every live value of the partition when another connection
    /// committed to the file since the merge that returned `knownVersion` (SQLite's
    /// `PRAGMA data_version`, which this process's own commits leave alone), or when `knownVersion`
    /// is `nil`. On the shared store each change is its own atomic update and the whole partition
    /// is returned. A system writer's operation; entries get the partition's default TTL.
    public func merge<Value: Codable & Sendable>(_ type: Value.Type, partition: String, changes: [MemoryChange<Value>],
                                                 knownVersion: Int?) async throws -> MemoryMerge<Value> {
        for change in changes { try Self.validateAddress(partition: partition, key: change.key) }
        if shared != nil {
            for change in changes {
                _ = try await update(type, partition: partition, key: change.key) { change.transform($0) }
            }
            let all = try await query(partition: partition, prefix: "").map { try $0.decode(Value.self) }
            return MemoryMerge(values: all, complete: true, version: nil)
        }
        let now = clock.now
        let expiresAt = try expiryDate(.partitionDefault, partition: partition, now: now)
        let owner = MemoryReader.system.ownerName
        return try await database.write("merging \(changes.count) entries into \(partition)") { db in
            // Read first: the transaction holds the write lock, so nobody commits between this and the end.
            let version = try Int.fetchOne(db, sql: "PRAGMA data_version") ?? 0
            let decoder = Self.makeDecoder()
            func decode(_ data: Data, key: String) throws -> Value {
                do {
                    return try decoder.decode(Value.self, from: data)
                } catch {
                    throw StoreError(.invalidValue, "entry \(partition)/\(key) does not decode as \(Value.self): \(error)")
                }
            }
            var merged: [Value] = []
            merged.reserveCapacity(changes.count)
            for change in changes {
                let old = try Row.fetchOne(db, sql: """
                    SELECT value FROM memory_entries WHERE partition = ? AND key = ? AND (expires_at IS NULL OR expires_at > ?)
                    """, arguments: [partition, change.key, now.timeIntervalSince1970]).map { $0["value"] as Data }
                let next = change.transform(try old.map { try decode($0, key: change.key) })
                let entry = MemoryEntry(partition: partition, key: change.key, value: try Self.encode(next, context: "\(partition)/\(change.key)"),
                                        owner: owner, accessLevel: .system, createdAt: now, expiresAt: expiresAt)
                try Self.upsert(entry, writer: .system, now: now, in: db)
                merged.append(next)
            }
            guard version != knownVersion else {
                return MemoryMerge(values: merged, complete: false, version: version)
            }
            let rows = try Row.fetchAll(db, sql: """
                SELECT key, value FROM memory_entries WHERE partition = ? AND (expires_at IS NULL OR expires_at > ?)
                """, arguments: [partition, now.timeIntervalSince1970])
            let all = try rows.map { row -> Value in
                let key: String = row["key"]
                return try decode(row["value"], key: key)
            }
            return MemoryMerge(values: all, complete: true, version: version)
        }
    }
}
