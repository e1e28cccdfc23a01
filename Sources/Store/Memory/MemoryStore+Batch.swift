import Foundation
import GRDB

extension MemoryStore {
    /// Stores many entries in ONE transaction with one prepared statement (bulk loads, imports).
    ///
    /// Each entry keeps its own owner, access level, created and expiry times. A system writer
    /// may replace anything; any other writer gets `.accessDenied` (and nothing is written) when
    /// one live entry belongs to someone else.
    public func storeAll(_ entries: [MemoryEntry], as writer: MemoryReader = .system) async throws {
        for entry in entries { try Self.validateAddress(partition: entry.partition, key: entry.key) }
        let now = clock.now
        if let shared { return try await shared.storeMemory(entries, writer: writer, now: now) }
        try await database.write("storing \(entries.count) memory entries") { db in
            let insert = try db.cachedStatement(sql: """
                INSERT INTO memory_entries (partition, key, value, owner, access_level, created_at, expires_at)
                VALUES (?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT(partition, key) DO UPDATE SET
                    value = excluded.value, owner = excluded.owner, access_level = excluded.access_level,
                    created_at = excluded.created_at, expires_at = excluded.expires_at
                """)
            let owner = writer.isSystem ? nil : try db.cachedStatement(sql: """
                SELECT owner FROM memory_entries WHERE partition = ? AND key = ? AND (expires_at IS NULL OR expires_at > ?)
                """)
            for entry in entries {
                if let owner, let current = try String.fetchOne(owner, arguments: [entry.partition, entry.key, now.timeIntervalSince1970]),
                   !writer.canModify(owner: current) {
                    throw StoreError(.accessDenied, "\(writer.ownerName) may not overwrite \(entry.address), owned by \(current)")
                }
                try insert.execute(arguments: [entry.partition, entry.key, entry.value, entry.owner, entry.accessLevel.rawValue,
                                               entry.createdAt.timeIntervalSince1970, entry.expiresAt?.timeIntervalSince1970])
            }
        }
    }
}
