import FleetSupport
import Foundation
import GRDB

/// Virtual API keys in the `api_keys` table: made (the text returned once), listed, revoked,
/// and checked on every request that presents one.
///
/// Every check reads the table (one primary-key lookup), so a key made or revoked by another
/// process on the same file (`fleetd keys revoke` while the service runs) counts from the next
/// request on. With `database.type: postgres` the table is the shared store's
/// (`APIKeyStore+Postgres.swift`): a key made on one instance authenticates on every instance,
/// a revocation counts everywhere from the next request, and a key's token use per minute is read
/// from the shared ledger.
public struct APIKeyStore: Sendable {
    enum Backend: Sendable {
        case sqlite(StoreDatabase)
        case postgres(PostgresStore)
    }
    let backend: Backend
    let clock: any WallClock

    /// Keys in this instance's SQLite file.
    public init(database: StoreDatabase, clock: any WallClock = SystemWallClock()) {
        self.backend = .sqlite(database)
        self.clock = clock
    }

    /// Whether the keys are the shared PostgreSQL store's (every instance's).
    public var isShared: Bool {
        if case .postgres = backend { return true }
        return false
    }

    /// Keys in the shared PostgreSQL store (running and migrated).
    public init(postgres: PostgresStore, clock: any WallClock = SystemWallClock()) {
        self.backend = .postgres(postgres)
        self.clock = clock
    }

    /// What a presented key turned out to be.
    public enum Verification: Sendable, Hashable {
        case valid(APIKeyRecord)
        case revoked(APIKeyRecord)
        case expired(APIKeyRecord)
        /// Not a key fleetd made: malformed, unknown id, or a secret that does not match.
        case unknown
    }

    /// Makes a key. The returned ``IssuedAPIKey/secret`` is the only copy of the key's text.
    /// - Throws: ``StoreError`` `.invalidValue` for a bad tenant, user, limit or expiry.
    public func create(tenant: String, user: String? = nil, name: String? = nil, limits: APIKeyLimits = APIKeyLimits(),
                       expiresAt: Date? = nil) async throws -> IssuedAPIKey {
        guard TenantName.isValid(tenant) else {
            throw StoreError(.invalidValue, "tenant must be 1-64 letters, digits, '.', '_' or '-'")
        }
        if let user, !TenantName.isValid(user) {
            throw StoreError(.invalidValue, "user must be 1-64 letters, digits, '.', '_' or '-'")
        }
        if let name, name.count > 200 { throw StoreError(.invalidValue, "name must be at most 200 characters") }
        try limits.validate()
        let now = clock.now
        if let expiresAt, expiresAt <= now { throw StoreError(.invalidValue, "the expiry must be in the future") }
        let (id, text, hash) = APIKeySecret.generate()
        let record = APIKeyRecord(id: id, tenant: tenant, user: user, name: name, createdAt: now, expiresAt: expiresAt, limits: limits)
        let database: StoreDatabase
        switch backend {
        case .postgres(let store):
            try await store.insertKey(record, hash: hash)
            return IssuedAPIKey(record: record, secret: text)
        case .sqlite(let db): database = db
        }
        let arguments = try Self.arguments(record, hash: hash)
        try await database.write("creating an API key") { db in
            try db.execute(sql: """
                INSERT INTO api_keys (id, secret_hash, tenant, user_id, name, created_at, expires_at, revoked_at,
                                      budget_daily, budget_weekly, budget_monthly, rpm, tpm, models, providers, agent_types)
                VALUES (?, ?, ?, ?, ?, ?, ?, NULL, ?, ?, ?, ?, ?, ?, ?, ?)
                """, arguments: arguments)
        }
        return IssuedAPIKey(record: record, secret: text)
    }

    /// Every key, newest first (revoked and expired ones too).
    public func list() async throws -> [APIKeyRecord] {
        let database: StoreDatabase
        switch backend {
        case .postgres(let store): return try await store.listKeys()
        case .sqlite(let db): database = db
        }
        return try await database.read("listing API keys") { db in
            try Row.fetchAll(db, sql: "SELECT * FROM api_keys ORDER BY created_at DESC, id").map(Self.record)
        }
    }

    /// One key by its public id.
    public func key(id: String) async throws -> APIKeyRecord? {
        let database: StoreDatabase
        switch backend {
        case .postgres(let store): return try await store.key(id: id)?.record
        case .sqlite(let db): database = db
        }
        return try await database.read("reading an API key") { db in
            try Row.fetchOne(db, sql: "SELECT * FROM api_keys WHERE id = ?", arguments: [id]).map(Self.record)
        }
    }

    /// What revoking a key did.
    public struct Revocation: Sendable, Hashable {
        /// The key as it is now (revoked, at ``APIKeyRecord/revokedAt``).
        public var record: APIKeyRecord
        /// Whether the key had been revoked before this call: then nothing changed, and
        /// `record.revokedAt` is when it was.
        public var wasAlreadyRevoked: Bool

        public init(record: APIKeyRecord, wasAlreadyRevoked: Bool) {
            self.record = record
            self.wasAlreadyRevoked = wasAlreadyRevoked
        }
    }

    /// Revokes a key from now on (the row stays, for the ledger and listings). Revoking twice
    /// keeps the first time and says so (``Revocation/wasAlreadyRevoked``). Returns `nil` for an
    /// unknown id.
    @discardableResult
    public func revoke(id: String) async throws -> Revocation? {
        let now = clock.now.timeIntervalSince1970
        let database: StoreDatabase
        switch backend {
        case .postgres(let store): return try await store.revokeKey(id: id, at: now)
        case .sqlite(let db): database = db
        }
        return try await database.write("revoking an API key") { db -> Revocation? in
            try db.execute(sql: "UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL", arguments: [now, id])
            let revokedNow = db.changesCount > 0
            return try Row.fetchOne(db, sql: "SELECT * FROM api_keys WHERE id = ?", arguments: [id])
                .map { Revocation(record: Self.record($0), wasAlreadyRevoked: !revokedNow) }
        }
    }

    /// Checks a presented key: its id is looked up and SHA-256 of its secret compared with the
    /// stored hash in constant time.
    public func verify(_ presented: String) async throws -> Verification {
        guard let (id, hash) = APIKeySecret.parse(presented) else { return .unknown }
        let found: (APIKeyRecord, [UInt8])?
        switch backend {
        case .postgres(let store):
            found = try await store.key(id: id).map { ($0.record, $0.hash) }
        case .sqlite(let database):
            found = try await database.read("checking an API key") { db -> (APIKeyRecord, [UInt8])? in
                guard let row = try Row.fetchOne(db, sql: "SELECT * FROM api_keys WHERE id = ?", arguments: [id]) else { return nil }
                let stored: Data = row["secret_hash"]
                return (Self.record(row), Array(stored))
            }
        }
        guard let (record, stored) = found, APIKeySecret.equal(stored, hash) else { return .unknown }
        switch record.state(at: clock.now) {
        case .active: return .valid(record)
        case .revoked: return .revoked(record)
        case .expired: return .expired(record)
        }
    }

    /// Whether any key was ever made on this file (revoked and expired ones count: once keys
    /// exist, fleetd asks every caller for a credential).
    public func hasKeys() async throws -> Bool {
        let database: StoreDatabase
        switch backend {
        case .postgres(let store): return try await store.hasKeys()
        case .sqlite(let db): database = db
        }
        return try await database.read("looking for API keys") { db in
            try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM api_keys)") ?? false
        }
    }

    /// Tokens (input + output) billed to a key since `since`, and when the oldest of those rows
    /// was written (the window frees up from then on).
    public func tokensUsed(keyId: String, since: Date) async throws -> (tokens: Int, oldest: Date?) {
        let database: StoreDatabase
        switch backend {
        case .postgres(let store): return try await store.keyTokensUsed(keyId: keyId, since: since)
        case .sqlite(let db): database = db
        }
        return try await database.read("reading an API key's token use") { db in
            let row = try Row.fetchOne(db, sql: """
                SELECT TOTAL(input_tokens + output_tokens) AS tokens, MIN(created_at) AS oldest
                FROM cost_ledger WHERE key_id = ? AND created_at >= ?
                """, arguments: [keyId, since.timeIntervalSince1970])
            let oldest: Double? = row?["oldest"]
            return (Int((row?["tokens"] as Double?) ?? 0), oldest.map { Date(timeIntervalSince1970: $0) })
        }
    }

    /// With the shared store: counts one request of a key against its requests per minute,
    /// fleet-wide (fixed one-minute windows); `nil` when admitted, else the seconds to wait. On
    /// SQLite, `nil` without counting: the caller's in-process limiter counts.
    public func admitRequest(keyId: String, perMinute: Int) async throws -> Int? {
        guard case .postgres(let store) = backend else { return nil }
        return try await store.admitKeyRequest(keyId: keyId, perMinute: perMinute, now: clock.now)
    }

    // MARK: Rows

    private static func arguments(_ record: APIKeyRecord, hash: [UInt8]) throws -> StatementArguments {
        let limits = record.limits
        return [record.id, Data(hash), record.tenant, record.user, record.name, record.createdAt.timeIntervalSince1970,
                record.expiresAt?.timeIntervalSince1970, limits.budget.daily, limits.budget.weekly, limits.budget.monthly,
                limits.requestsPerMinute, limits.tokensPerMinute, try json(limits.models),
                try json(limits.providers?.map(\.rawValue)), try json(limits.agentTypes)]
    }

    static func json(_ list: [String]?) throws -> String? {
        try list.map { String(decoding: try JSONEncoder().encode($0), as: UTF8.self) }
    }

    static func list(_ text: String?) -> [String]? {
        text.flatMap { try? JSONDecoder().decode([String].self, from: Data($0.utf8)) }
    }

    static func record(_ row: Row) -> APIKeyRecord {
        let expires: Double? = row["expires_at"]
        let revoked: Double? = row["revoked_at"]
        let limits = APIKeyLimits(
            budget: .init(daily: row["budget_daily"], weekly: row["budget_weekly"], monthly: row["budget_monthly"]),
            requestsPerMinute: row["rpm"], tokensPerMinute: row["tpm"], models: list(row["models"]),
            providers: list(row["providers"])?.compactMap(ProviderKind.init(rawValue:)), agentTypes: list(row["agent_types"]))
        return APIKeyRecord(id: row["id"], tenant: row["tenant"], user: row["user_id"], name: row["name"],
                            createdAt: Date(timeIntervalSince1970: row["created_at"]),
                            expiresAt: expires.map { Date(timeIntervalSince1970: $0) },
                            revokedAt: revoked.map { Date(timeIntervalSince1970: $0) }, limits: limits)
    }
}
