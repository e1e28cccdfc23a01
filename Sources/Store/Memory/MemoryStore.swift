import FleetSupport
import Foundation
import GRDB

/// Partitioned key/value memory on SQLite with TTLs, owners and access levels (docs/store.md).
///
/// Expired entries are invisible to every read at once (each query filters `expires_at > now`);
/// ``cleanExpired(batchSize:pause:)`` and ``ExpiredEntrySweeper`` remove them from disk.
///
/// With `shared` (`database.type: postgres`) the entries live in the shared PostgreSQL store
/// instead (`MemoryStore+Postgres.swift`), under the same rules, so every instance reads what any
/// instance wrote; the sweep runs on one instance at a time. `database` is then only this
/// instance's file (the cost ledger is PostgreSQL's too).
public struct MemoryStore: Sendable {
    public let database: StoreDatabase
    public let clock: any WallClock
    /// The shared store holding the entries, when `database.type` is `postgres`.
    public let shared: PostgresStore?
    /// Shared by every copy of this store, so a reload's TTLs reach them all.
    private let settings: LiveSetting<MemoryStoreConfiguration>

    public init(database: StoreDatabase, configuration: MemoryStoreConfiguration = MemoryStoreConfiguration(), clock: any WallClock = SystemWallClock(),
                shared: PostgresStore? = nil) {
        self.database = database
        self.settings = LiveSetting(configuration)
        self.clock = clock
        self.shared = shared
    }

    /// The partitions' TTLs in force.
    public var configuration: MemoryStoreConfiguration { settings.value }

    /// New TTLs (a reload): entries written from now on get them; stored ones keep their expiry.
    public func update(configuration: MemoryStoreConfiguration) {
        settings.set(configuration)
    }

    // MARK: - Writing

    /// Stores `value` as JSON under `partition`/`key`, replacing any earlier value.
    ///
    /// - Throws: ``StoreError`` `.accessDenied` when a live entry there belongs to someone else
    ///   and `writer` is not system; `.invalidValue` for an empty partition/key or a bad TTL.
    @discardableResult
    public func store<Value: Encodable>(
        _ value: Value,
        partition: String,
        key: String,
        as writer: MemoryReader = .system,
        accessLevel: MemoryAccessLevel = .swarm,
        expiry: MemoryExpiry = .partitionDefault
    ) async throws -> MemoryEntry {
        try await store(json: try Self.encode(value, context: "\(partition)/\(key)"), partition: partition, key: key, as: writer,
                        accessLevel: accessLevel, expiry: expiry)
    }

    /// Stores a value already encoded as JSON (a caller that needed its size first encodes it once).
    @discardableResult
    public func store(
        json data: Data,
        partition: String,
        key: String,
        as writer: MemoryReader = .system,
        accessLevel: MemoryAccessLevel = .swarm,
        expiry: MemoryExpiry = .partitionDefault
    ) async throws -> MemoryEntry {
        let now = clock.now
        let entry = MemoryEntry(
            partition: partition, key: key, value: data, owner: writer.ownerName,
            accessLevel: accessLevel, createdAt: now, expiresAt: try expiryDate(expiry, partition: partition, now: now)
        )
        try Self.validateAddress(partition: partition, key: key)
        if let shared {
            try await shared.storeMemory([entry], writer: writer, now: now)
            return entry
        }
        try await database.write("storing \(entry.address)") { db in
            try Self.upsert(entry, writer: writer, now: now, in: db)
        }
        return entry
    }

    /// Deletes an entry. Returns whether a live entry was deleted.
    /// - Throws: `.accessDenied` when the entry belongs to someone else and `writer` is not system.
    @discardableResult
    public func delete(partition: String, key: String, as writer: MemoryReader = .system) async throws -> Bool {
        if let shared { return try await shared.deleteMemory(partition: partition, key: key, writer: writer, now: clock.now) }
        let now = clock.now.timeIntervalSince1970
        return try await database.write("deleting \(partition)/\(key)") { db in
            guard let row = try Row.fetchOne(db, sql: """
                SELECT owner FROM memory_entries
                WHERE partition = ? AND key = ? AND (expires_at IS NULL OR expires_at > ?)
                """, arguments: [partition, key, now]) else { return false }
            let owner: String = row["owner"]
            guard writer.canModify(owner: owner) else {
                throw StoreError(.accessDenied, "\(writer.ownerName) may not delete \(partition)/\(key), owned by \(owner)")
            }
            try db.execute(sql: "DELETE FROM memory_entries WHERE partition = ? AND key = ?", arguments: [partition, key])
            return true
        }
    }

    // MARK: - Reading

    /// The live entry at `partition`/`key`, or `nil` when there is none or it has expired.
    /// - Throws: `.accessDenied` when it exists but `reader` may not see it.
    public func retrieve(partition: String, key: String, as reader: MemoryReader = .system) async throws -> MemoryEntry? {
        let now = clock.now.timeIntervalSince1970
        let entry: MemoryEntry?
        if let shared {
            // Every level: the access check below says why not, as SQLite's path does.
            entry = try await shared.selectMemory(partition: partition, prefix: "", like: nil, exact: key, reader: nil,
                                                  now: clock.now, limit: 1).entries.first
        } else {
            entry = try await database.read("reading \(partition)/\(key)") { db in
                try Row.fetchOne(db, sql: """
                    SELECT * FROM memory_entries
                    WHERE partition = ? AND key = ? AND (expires_at IS NULL OR expires_at > ?)
                    """, arguments: [partition, key, now]).map(MemoryEntry.init(row:))
            }
        }
        guard let entry else { return nil }
        guard reader.canRead(owner: entry.owner, level: entry.accessLevel) else {
            throw StoreError(.accessDenied, "\(reader.agentId ?? "anonymous reader") may not read \(entry.address) (\(entry.accessLevel.rawValue) entry owned by \(entry.owner))")
        }
        return entry
    }

    /// The live value at `partition`/`key` decoded as `Value`, or `nil`.
    public func retrieve<Value: Decodable>(_ type: Value.Type, partition: String, key: String, as reader: MemoryReader = .system) async throws -> Value? {
        try await retrieve(partition: partition, key: key, as: reader)?.decode(Value.self)
    }

    /// Live entries whose key starts with `prefix` (byte-wise, literally), in key order.
    /// Entries `reader` may not see are left out.
    public func query(partition: String, prefix: String, as reader: MemoryReader = .system, limit: Int? = nil) async throws -> [MemoryEntry] {
        try await select(partition: partition, prefix: prefix, glob: nil, reader: reader, limit: limit)
    }

    /// Live entries whose key matches `pattern` (see ``MemoryPattern``), in key order.
    public func query(partition: String, pattern: MemoryPattern, as reader: MemoryReader = .system, limit: Int? = nil) async throws -> [MemoryEntry] {
        if let shared {
            if let limit, limit < 0 { throw StoreError(.invalidValue, "query limit must not be negative, got \(limit)") }
            return try await shared.selectMemory(partition: partition, prefix: pattern.literalPrefix, like: pattern.hasWildcards ? pattern.like : nil,
                                                 exact: pattern.hasWildcards ? nil : pattern.literalPrefix, reader: reader, now: clock.now,
                                                 limit: limit).entries
        }
        return try await select(partition: partition, prefix: pattern.literalPrefix, glob: pattern.hasWildcards ? pattern.glob : nil,
                         exact: pattern.hasWildcards ? nil : pattern.literalPrefix, reader: reader, limit: limit)
    }

    /// How many live entries `reader` can see in `partition` (optionally under a key prefix).
    public func count(partition: String, prefix: String = "", as reader: MemoryReader = .system) async throws -> Int {
        if let shared {
            return try await shared.selectMemory(partition: partition, prefix: prefix, like: nil, exact: nil, reader: reader, now: clock.now,
                                                 limit: nil, countOnly: true).count
        }
        let query = Self.rangeQuery(columns: "COUNT(*)", partition: partition, prefix: prefix, glob: nil, exact: nil,
                                    reader: reader, now: clock.now, limit: nil)
        return try await database.read("counting \(partition)/\(prefix)*") { db in
            try Int.fetchOne(db, sql: query.sql, arguments: query.arguments) ?? 0
        }
    }

    /// Keeps at most `limit` entries in `partition`: the oldest beyond it are deleted (a bounded
    /// cache). Returns how many went.
    @discardableResult
    public func evictOldest(partition: String, keeping limit: Int) async throws -> Int {
        let limit = max(0, limit)
        if let shared { return try await shared.evictOldestMemory(partition: partition, keeping: limit) }
        return try await database.write("evicting the oldest of \(partition)") { db in
            let count = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM memory_entries WHERE partition = ?", arguments: [partition]) ?? 0
            guard count > limit else { return 0 }
            try db.execute(sql: """
                DELETE FROM memory_entries WHERE partition = ? AND key IN (
                    SELECT key FROM memory_entries WHERE partition = ? ORDER BY created_at, key LIMIT ?)
                """, arguments: [partition, partition, count - limit])
            return db.changesCount
        }
    }

    // MARK: - Expiry

    /// Deletes expired rows in transactions of at most `batchSize` rows, sleeping `pause`
    /// between them so WAL readers and other writers never wait long. Returns rows deleted.
    @discardableResult
    public func cleanExpired(batchSize: Int = 1_000, pause: Duration = .zero) async throws -> Int {
        guard batchSize > 0 else { throw StoreError(.invalidValue, "cleanExpired batchSize must be positive, got \(batchSize)") }
        let cutoff = clock.now.timeIntervalSince1970
        var total = 0
        while true {
            try Task.checkCancellation()
            if let shared {
                // nil: another instance holds the sweep lock and is sweeping.
                guard let deleted = try await shared.deleteExpiredMemory(cutoff: Date(timeIntervalSince1970: cutoff), batchSize: batchSize) else {
                    return total
                }
                total += deleted
                if deleted < batchSize { return total }
                if pause > .zero { try await Task.sleep(for: pause) }
                continue
            }
            let deleted = try await database.write("deleting expired memory entries") { db in
                try db.execute(sql: """
                    DELETE FROM memory_entries WHERE (partition, key) IN (
                        SELECT partition, key FROM memory_entries
                        WHERE expires_at IS NOT NULL AND expires_at <= ? LIMIT ?)
                    """, arguments: [cutoff, batchSize])
                return db.changesCount
            }
            total += deleted
            if deleted < batchSize { return total }
            if pause > .zero { try await Task.sleep(for: pause) }
        }
    }

    // MARK: - Internals shared with the cost ledger (same transaction)

    func expiryDate(_ expiry: MemoryExpiry, partition: String, now: Date) throws -> Date? {
        switch expiry {
        case .never: return nil
        case .at(let date): return date
        case .after(let seconds):
            guard seconds > 0, seconds.isFinite else {
                throw StoreError(.invalidValue, "TTL for \(partition) must be a positive number of seconds, got \(seconds)")
            }
            return now.addingTimeInterval(seconds)
        case .partitionDefault:
            return configuration.ttl(forPartition: partition).map { now.addingTimeInterval($0) }
        }
    }

    static func validateAddress(partition: String, key: String) throws {
        guard !partition.isEmpty else { throw StoreError(.invalidValue, "memory partition is empty (key '\(key)')") }
        guard !key.isEmpty else { throw StoreError(.invalidValue, "memory key is empty (partition '\(partition)')") }
    }

    /// Inserts or replaces an entry inside the caller's transaction, enforcing ownership.
    static func upsert(_ entry: MemoryEntry, writer: MemoryReader, now: Date, in db: Database) throws {
        if let owner = try String.fetchOne(try db.cachedStatement(sql: """
            SELECT owner FROM memory_entries
            WHERE partition = ? AND key = ? AND (expires_at IS NULL OR expires_at > ?)
            """), arguments: [entry.partition, entry.key, now.timeIntervalSince1970]),
           !writer.canModify(owner: owner) {
            throw StoreError(.accessDenied, "\(writer.ownerName) may not overwrite \(entry.address), owned by \(owner)")
        }
        try db.cachedStatement(sql: """
            INSERT INTO memory_entries (partition, key, value, owner, access_level, created_at, expires_at)
            VALUES (?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT(partition, key) DO UPDATE SET
                value = excluded.value, owner = excluded.owner, access_level = excluded.access_level,
                created_at = excluded.created_at, expires_at = excluded.expires_at
            """).execute(arguments: [entry.partition, entry.key, entry.value, entry.owner, entry.accessLevel.rawValue,
                             entry.createdAt.timeIntervalSince1970, entry.expiresAt?.timeIntervalSince1970])
    }

    static func makeDecoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }

    static func encode<Value: Encodable>(_ value: Value, context: String) throws -> Data {
        do {
            // ISO 8601 dates, as makeDecoder reads them; hand-written for speed (see FastJSONEncoder).
            return try FastJSONEncoder().encodeToData(value)
        } catch {
            throw StoreError(.invalidValue, "value for \(context) does not encode as JSON: \(error)")
        }
    }

    private func select(partition: String, prefix: String, glob: String?, exact: String? = nil, reader: MemoryReader, limit: Int?) async throws -> [MemoryEntry] {
        if let limit, limit < 0 { throw StoreError(.invalidValue, "query limit must not be negative, got \(limit)") }
        if let shared {
            return try await shared.selectMemory(partition: partition, prefix: prefix, like: nil, exact: exact, reader: reader, now: clock.now,
                                                 limit: limit).entries
        }
        let query = Self.rangeQuery(columns: "*", partition: partition, prefix: prefix, glob: glob, exact: exact,
                                    reader: reader, now: clock.now, limit: limit)
        return try await database.read("querying \(partition)/\(prefix)*") { db in
            try Row.fetchAll(db, sql: query.sql, arguments: query.arguments).map(MemoryEntry.init(row:))
        }
    }

    /// Builds a range scan on the primary key `(partition, key)` for keys starting with `prefix`:
    /// `key >= prefix AND key < successor(prefix)`, where the successor is the prefix's UTF-8
    /// bytes with the last byte incremented (bound as a blob, cast to text so SQLite compares
    /// byte-wise). Every value is a bound argument: nothing from the caller becomes SQL.
    static func rangeQuery(columns: String, partition: String, prefix: String, glob: String?, exact: String?,
                           reader: MemoryReader, now: Date, limit: Int?) -> (sql: String, arguments: StatementArguments) {
        var sql = "SELECT \(columns) FROM memory_entries WHERE partition = ?"
        var arguments: StatementArguments = [partition]
        if let exact {
            sql += " AND key = ?"
            arguments += [exact]
        } else if !prefix.isEmpty {
            sql += " AND key >= ?"
            arguments += [prefix]
            if let successor = successor(of: prefix) {
                sql += " AND key < CAST(? AS TEXT)"
                arguments += [successor]
            }
        }
        if let glob {
            sql += " AND key GLOB ?"
            arguments += [glob]
        }
        sql += " AND (expires_at IS NULL OR expires_at > ?)"
        arguments += [now.timeIntervalSince1970]
        sql += """
             AND (access_level = 'public' OR (access_level = 'swarm' AND ?) \
            OR (access_level = 'system' AND ?) OR (access_level = 'private' AND owner IS ?))
            """
        arguments += [reader.isSystem || reader.agentId != nil, reader.isSystem, reader.agentId]
        if columns == "*" { sql += " ORDER BY key" }
        if let limit {
            sql += " LIMIT ?"
            arguments += [limit]
        }
        return (sql, arguments)
    }

    /// The smallest byte string greater than every string starting with `prefix`.
    static func successor(of prefix: String) -> Data? {
        var bytes = Array(prefix.utf8)
        while let last = bytes.last {
            if last < 0xFF {
                bytes[bytes.count - 1] = last + 1
                return Data(bytes)
            }
            bytes.removeLast()
        }
        return nil
    }
}
