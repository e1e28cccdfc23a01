import FleetSupport
import Foundation
import PostgresNIO

// Virtual API keys in the shared store's `api_keys` table (migration pg4-api-keys), for
// ``APIKeyStore`` with `database.type: postgres`: every instance reads the same rows, so a key
// works (and stops working) on all of them. A key's budgets are the cost totals'
// `key:<id>` rows, held by ``PostgresCostTracker``'s reservations fleet-wide.

extension PostgresStore {
    private static let keyColumns = """
        id, secret_hash, tenant, user_id, name, created_at, expires_at, revoked_at, budget_daily, budget_weekly, budget_monthly,
        rpm, tpm, models, providers, agent_types
        """

    private typealias KeyRow = (String, Data, String, String?, String?, Double, Double?, Double?, Double?, Double?, Double?,
                                Int?, Int?, String?, String?, String?)

    func insertKey(_ record: APIKeyRecord, hash: [UInt8]) async throws {
        let l = record.limits
        let models = try APIKeyStore.json(l.models), providers = try APIKeyStore.json(l.providers?.map(\.rawValue))
        let agentTypes = try APIKeyStore.json(l.agentTypes), secret = Data(hash)
        let expires = record.expiresAt?.timeIntervalSince1970
        try await withConnection("creating an API key") { connection in
            _ = try await connection.query("""
                INSERT INTO api_keys (\(unescaped: Self.keyColumns))
                VALUES (\(record.id), \(secret), \(record.tenant), \(record.user), \(record.name), \(record.createdAt.timeIntervalSince1970),
                        \(expires), NULL, \(l.budget.daily), \(l.budget.weekly), \(l.budget.monthly), \(l.requestsPerMinute),
                        \(l.tokensPerMinute), \(models), \(providers), \(agentTypes))
                """, logger: self.logger)
        }
    }

    func listKeys() async throws -> [APIKeyRecord] {
        try await keyRows("listing API keys", "SELECT \(Self.keyColumns) FROM api_keys ORDER BY created_at DESC, id").map(\.record)
    }

    func key(id: String) async throws -> (record: APIKeyRecord, hash: [UInt8])? {
        try await withConnection("reading an API key") { connection in
            let rows = try await connection.query("SELECT \(unescaped: Self.keyColumns) FROM api_keys WHERE id = \(id)", logger: self.logger)
            var found: (record: APIKeyRecord, hash: [UInt8])?
            for try await row in rows.decode(KeyRow.self) where found == nil { found = Self.keyRecord(row) }
            return found
        }
    }

    func revokeKey(id: String, at now: Double) async throws -> APIKeyStore.Revocation? {
        try await withConnection("revoking an API key") { connection in
            // A row back: this call revoked it; none for a known id: it had been revoked before
            // (by this instance or another).
            let updated = try await connection.query(
                "UPDATE api_keys SET revoked_at = \(now) WHERE id = \(id) AND revoked_at IS NULL RETURNING id", logger: self.logger)
            var revokedNow = false
            for try await _ in updated.decode(String.self) { revokedNow = true }
            let rows = try await connection.query("SELECT \(unescaped: Self.keyColumns) FROM api_keys WHERE id = \(id)", logger: self.logger)
            var found: APIKeyRecord?
            for try await row in rows.decode(KeyRow.self) where found == nil { found = Self.keyRecord(row).record }
            return found.map { APIKeyStore.Revocation(record: $0, wasAlreadyRevoked: !revokedNow) }
        }
    }

    func hasKeys() async throws -> Bool {
        try await withConnection("looking for API keys", optional: true) { connection in
            var exists = false
            for try await value in try await connection.query("SELECT EXISTS (SELECT 1 FROM api_keys)", logger: self.logger).decode(Bool.self) {
                exists = value
            }
            return exists
        }
    }

    /// Tokens billed to a key since `since` in the shared ledger (every instance's calls).
    func keyTokensUsed(keyId: String, since: Date) async throws -> (tokens: Int, oldest: Date?) {
        let from = since.timeIntervalSince1970
        return try await withConnection("reading an API key's token use") { connection in
            let rows = try await connection.query("""
                SELECT COALESCE(SUM(input_tokens + output_tokens), 0)::BIGINT, MIN(created_at)
                FROM cost_ledger WHERE key_id = \(keyId) AND created_at >= \(from)
                """, logger: self.logger)
            var result: (tokens: Int, oldest: Date?) = (0, nil)
            for try await (tokens, oldest) in rows.decode((Int, Double?).self) {
                result = (tokens, oldest.map { Date(timeIntervalSince1970: $0) })
            }
            return result
        }
    }

    /// Counts one request of a key in the current one-minute window (fixed windows, as the
    /// in-process limiter), by one conditional upsert, so instances together admit at most
    /// `perMinute` a minute. Returns `nil` when admitted, else the seconds until the window ends.
    func admitKeyRequest(keyId: String, perMinute: Int, now: Date) async throws -> Int? {
        let seconds = Int(now.timeIntervalSince1970.rounded(.down))
        let window = seconds - seconds % 60
        let wait = max(1, window + 60 - seconds)
        // Now and then, windows older than the last one go (any instance may do it).
        let prune = Int.random(in: 0..<100) == 0
        return try await withConnection("counting a key's requests") { connection in
            var admitted = false
            for try await _ in try await connection.query("""
                INSERT INTO key_request_windows (key_id, window_start, requests) VALUES (\(keyId), \(window), 1)
                ON CONFLICT (key_id, window_start) DO UPDATE SET requests = key_request_windows.requests + 1
                WHERE key_request_windows.requests < \(perMinute)
                RETURNING requests
                """, logger: self.logger).decode(Int.self) {
                admitted = true
            }
            if prune {
                try await connection.query("DELETE FROM key_request_windows WHERE window_start < \(window - 60)", logger: self.logger)
            }
            return admitted ? nil : wait
        }
    }

    private func keyRows(_ what: String, _ sql: String) async throws -> [(record: APIKeyRecord, hash: [UInt8])] {
        try await withConnection(what) { connection in
            var found: [(record: APIKeyRecord, hash: [UInt8])] = []
            for try await row in try await connection.query(PostgresQuery(unsafeSQL: sql), logger: self.logger).decode(KeyRow.self) {
                found.append(Self.keyRecord(row))
            }
            return found
        }
    }

    private static func keyRecord(_ r: KeyRow) -> (record: APIKeyRecord, hash: [UInt8]) {
        let limits = APIKeyLimits(
            budget: .init(daily: r.8, weekly: r.9, monthly: r.10), requestsPerMinute: r.11, tokensPerMinute: r.12,
            models: APIKeyStore.list(r.13), providers: APIKeyStore.list(r.14)?.compactMap(ProviderKind.init(rawValue:)),
            agentTypes: APIKeyStore.list(r.15))
        let record = APIKeyRecord(id: r.0, tenant: r.2, user: r.3, name: r.4, createdAt: Date(timeIntervalSince1970: r.5),
                                  expiresAt: r.6.map { Date(timeIntervalSince1970: $0) }, revokedAt: r.7.map { Date(timeIntervalSince1970: $0) },
                                  limits: limits)
        return (record, Array(r.1))
    }
}
