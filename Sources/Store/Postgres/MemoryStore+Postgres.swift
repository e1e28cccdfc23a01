import Foundation
import PostgresNIO

// The memory store's partitions on the shared store's `memory_entries` (migration
// pg5-memory-entries), for ``MemoryStore`` with `database.type: postgres`: routing selections,
// stream sessions, the response cache and the learner's cells are read and written by every
// instance alike. The rules are SQLite's (`MemoryStore.swift`): expired entries are invisible to
// every read at once, owners and access levels are enforced, keys order byte-wise (`COLLATE "C"`).
// Expired rows are removed by one instance at a time (an advisory lock per batch).

extension PostgresStore {
    /// The advisory lock that lets one instance at a time delete expired memory entries.
    static let memorySweepLock: Int64 = 0x666C_6565_7464_0003

    private static let memoryColumns = "partition, key, value, owner, access_level, created_at, expires_at"
    private typealias MemoryRow = (String, String, Data, String, String, Double, Double?)

    /// Inserts or replaces entries in one transaction; a writer that is not system may not
    /// replace a live entry someone else owns (nothing is written then).
    func storeMemory(_ entries: [MemoryEntry], writer: MemoryReader, now: Date) async throws {
        guard !entries.isEmpty else { return }
        let at = now.timeIntervalSince1970
        let what = entries.count == 1 ? "storing \(entries[0].address)" : "storing \(entries.count) memory entries"
        try await transaction(what) { connection in
            for entry in entries {
                if !writer.isSystem {
                    let rows = try await connection.query("""
                        SELECT owner FROM memory_entries WHERE partition = \(entry.partition) AND key = \(entry.key)
                        AND (expires_at IS NULL OR expires_at > \(at)) FOR UPDATE
                        """, logger: self.logger)
                    var owner: String?
                    for try await found in rows.decode(String.self) { owner = found }
                    if let owner, !writer.canModify(owner: owner) {
                        throw StoreError(.accessDenied, "\(writer.ownerName) may not overwrite \(entry.address), owned by \(owner)")
                    }
                }
                try await connection.query("""
                    INSERT INTO memory_entries (\(unescaped: Self.memoryColumns))
                    VALUES (\(entry.partition), \(entry.key), \(entry.value), \(entry.owner), \(entry.accessLevel.rawValue),
                            \(entry.createdAt.timeIntervalSince1970), \(entry.expiresAt?.timeIntervalSince1970))
                    ON CONFLICT (partition, key) DO UPDATE SET
                        value = excluded.value, owner = excluded.owner, access_level = excluded.access_level,
                        created_at = excluded.created_at, expires_at = excluded.expires_at
                    """, logger: self.logger)
            }
        }
    }

    /// One atomic read-modify-write of an entry (``MemoryStore/update(_:partition:key:accessLevel:expiry:_:)``):
    /// an advisory lock on the entry's address serialises it with every other instance's, then
    /// the live value is read, changed and written, in one transaction.
    func updateMemory<Value: Sendable>(partition: String, key: String, accessLevel: MemoryAccessLevel, now: Date, expiresAt: Date?,
                                       _ change: @escaping @Sendable (Data?) throws -> (Data, Value)) async throws -> Value {
        let at = now.timeIntervalSince1970, address = "\(partition)/\(key)"
        return try await transaction("updating \(address)") { connection in
            try await connection.query("SELECT pg_advisory_xact_lock(hashtextextended(\(address), \(Self.memorySweepLock)))", logger: self.logger)
            var old: Data?
            for try await value in try await connection.query("""
                SELECT value FROM memory_entries WHERE partition = \(partition) AND key = \(key)
                AND (expires_at IS NULL OR expires_at > \(at))
                """, logger: self.logger).decode(Data.self) {
                old = value
            }
            let (data, value) = try change(old)
            try await connection.query("""
                INSERT INTO memory_entries (\(unescaped: Self.memoryColumns))
                VALUES (\(partition), \(key), \(data), 'system', \(accessLevel.rawValue), \(at), \(expiresAt?.timeIntervalSince1970))
                ON CONFLICT (partition, key) DO UPDATE SET
                    value = excluded.value, owner = excluded.owner, access_level = excluded.access_level,
                    created_at = excluded.created_at, expires_at = excluded.expires_at
                """, logger: self.logger)
            return value
        }
    }

    /// Deletes a live entry; whether one was deleted.
    func deleteMemory(partition: String, key: String, writer: MemoryReader, now: Date) async throws -> Bool {
        let at = now.timeIntervalSince1970
        return try await transaction("deleting \(partition)/\(key)") { connection in
            var owner: String?
            for try await found in try await connection.query("""
                SELECT owner FROM memory_entries WHERE partition = \(partition) AND key = \(key)
                AND (expires_at IS NULL OR expires_at > \(at)) FOR UPDATE
                """, logger: self.logger).decode(String.self) {
                owner = found
            }
            guard let owner else { return false }
            guard writer.canModify(owner: owner) else {
                throw StoreError(.accessDenied, "\(writer.ownerName) may not delete \(partition)/\(key), owned by \(owner)")
            }
            try await connection.query("DELETE FROM memory_entries WHERE partition = \(partition) AND key = \(key)", logger: self.logger)
            return true
        }
    }

    /// Live entries of `partition` with keys starting with `prefix` (or exactly `exact`, or
    /// matching the LIKE pattern `like`) that `reader` may see, in byte-wise key order; or only
    /// their number when `countOnly`. A `nil` reader sees every level (``MemoryStore/retrieve(partition:key:as:)``
    /// checks access itself, to say why not).
    func selectMemory(partition: String, prefix: String, like: String?, exact: String?, reader: MemoryReader?, now: Date,
                      limit: Int?, countOnly: Bool = false) async throws -> (entries: [MemoryEntry], count: Int) {
        var binds = PostgresBindings()
        binds.append(partition)
        var sql = "SELECT \(countOnly ? "count(*)" : Self.memoryColumns) FROM memory_entries WHERE partition = $1"
        func bind(_ value: String) -> String {
            binds.append(value)
            return "$\(binds.count)"
        }
        if let exact {
            sql += " AND key = \(bind(exact))"
        } else if !prefix.isEmpty {
            sql += " AND starts_with(key, \(bind(prefix)))"
        }
        if let like { sql += " AND key LIKE \(bind(like)) COLLATE \"C\"" }
        binds.append(now.timeIntervalSince1970)
        sql += " AND (expires_at IS NULL OR expires_at > $\(binds.count))"
        if let reader {
            binds.append(reader.isSystem || reader.agentId != nil)
            let swarm = binds.count
            binds.append(reader.isSystem)
            let system = binds.count
            binds.append(reader.agentId)
            let agent = binds.count
            sql += " AND (access_level = 'public' OR (access_level = 'swarm' AND $\(swarm)) OR (access_level = 'system' AND $\(system))"
                + " OR (access_level = 'private' AND owner IS NOT DISTINCT FROM $\(agent)))"
        }
        if !countOnly { sql += " ORDER BY key COLLATE \"C\"" }
        if let limit {
            binds.append(limit)
            sql += " LIMIT $\(binds.count)"
        }
        let query = PostgresQuery(unsafeSQL: sql, binds: binds)
        return try await withConnection("querying \(partition)/\(prefix)*") { connection in
            let rows = try await connection.query(query, logger: self.logger)
            if countOnly {
                var count = 0
                for try await n in rows.decode(Int.self) { count = n }
                return ([], count)
            }
            var entries: [MemoryEntry] = []
            for try await row in rows.decode(MemoryRow.self) { entries.append(try Self.memoryEntry(row)) }
            return (entries, entries.count)
        }
    }

    /// Keeps at most `limit` entries in `partition`, deleting the oldest; how many went.
    func evictOldestMemory(partition: String, keeping limit: Int) async throws -> Int {
        try await withConnection("evicting the oldest of \(partition)") { connection in
            var deleted = 0
            for try await n in try await connection.query("""
                WITH doomed AS (
                    SELECT key FROM memory_entries WHERE partition = \(partition) ORDER BY created_at, key COLLATE "C"
                    LIMIT GREATEST((SELECT count(*) FROM memory_entries WHERE partition = \(partition)) - \(limit), 0))
                , gone AS (DELETE FROM memory_entries WHERE partition = \(partition) AND key IN (SELECT key FROM doomed) RETURNING 1)
                SELECT count(*)::BIGINT FROM gone
                """, logger: self.logger).decode(Int.self) {
                deleted = n
            }
            return deleted
        }
    }

    /// Deletes at most `batchSize` expired rows in one transaction, when this instance gets the
    /// sweep lock; `nil` when another instance holds it (it is sweeping).
    func deleteExpiredMemory(cutoff: Date, batchSize: Int) async throws -> Int? {
        let at = cutoff.timeIntervalSince1970
        return try await transaction("deleting expired memory entries") { connection -> Int? in
            var locked = false
            for try await got in try await connection.query("SELECT pg_try_advisory_xact_lock(\(Self.memorySweepLock))", logger: self.logger)
                .decode(Bool.self) {
                locked = got
            }
            guard locked else { return nil }
            var deleted = 0
            for try await n in try await connection.query("""
                WITH doomed AS (
                    SELECT partition, key FROM memory_entries WHERE expires_at IS NOT NULL AND expires_at <= \(at)
                    LIMIT \(batchSize) FOR UPDATE SKIP LOCKED)
                , gone AS (DELETE FROM memory_entries m USING doomed d WHERE m.partition = d.partition AND m.key = d.key RETURNING 1)
                SELECT count(*)::BIGINT FROM gone
                """, logger: self.logger).decode(Int.self) {
                deleted = n
            }
            return deleted
        }
    }

    private static func memoryEntry(_ row: MemoryRow) throws -> MemoryEntry {
        guard let level = MemoryAccessLevel(rawValue: row.4) else {
            throw StoreError(.corrupt, "entry \(row.0)/\(row.1) has unknown access level '\(row.4)'")
        }
        return MemoryEntry(partition: row.0, key: row.1, value: row.2, owner: row.3, accessLevel: level,
                           createdAt: Date(timeIntervalSince1970: row.5), expiresAt: row.6.map { Date(timeIntervalSince1970: $0) })
    }
}
