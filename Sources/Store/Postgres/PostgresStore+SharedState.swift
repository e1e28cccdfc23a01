import Foundation
import PostgresNIO

// Small documents every instance must see: runtime flag changes (kind `flag`) and breaker
// openings (kind `breaker`, with the time they end). Each write is announced on the channel
// `fleetd_<kind>` in the same transaction; listeners re-read the kind (see `listen(on:)`).
// The store keeps the documents opaque: their owners (Fleet's flags, Routing's breakers) encode them.

extension PostgresStore {
    /// The notification channel of a kind of shared document.
    public static func channel(for kind: String) -> String { "fleetd_\(kind)" }

    /// Writes (or replaces) one document and announces it, in one transaction.
    /// - Parameter expiresAt: after this the document is no longer loaded (`nil`: never).
    public func putShared(kind: String, key: String, document: String, expiresAt: Date? = nil) async throws {
        let now = Date().timeIntervalSince1970, expiry = expiresAt?.timeIntervalSince1970
        let channel = Self.channel(for: kind), instance = configuration.instanceId
        try await transaction("sharing a \(kind) change") { connection in
            try await connection.query("""
                INSERT INTO shared_state (kind, key, document, expires_at, updated_at, instance_id)
                VALUES (\(kind), \(key), \(document), \(expiry), \(now), \(instance))
                ON CONFLICT (kind, key) DO UPDATE SET document = excluded.document, expires_at = excluded.expires_at,
                    updated_at = excluded.updated_at, instance_id = excluded.instance_id
                """, logger: self.logger)
            try await connection.query("SELECT pg_notify(\(channel), \(instance))", logger: self.logger)
        }
    }

    /// Deletes every document of a kind and announces it.
    public func clearShared(kind: String) async throws {
        let channel = Self.channel(for: kind), instance = configuration.instanceId
        try await transaction("clearing shared \(kind) changes") { connection in
            try await connection.query("DELETE FROM shared_state WHERE kind = \(kind)", logger: self.logger)
            try await connection.query("SELECT pg_notify(\(channel), \(instance))", logger: self.logger)
        }
    }

    /// The documents of a kind still in force, oldest change first: `(key, document, expiresAt)`.
    public func loadShared(kind: String, now: Date = Date()) async throws -> [(key: String, document: String, expiresAt: Date?)] {
        let at = now.timeIntervalSince1970
        return try await withConnection("reading shared \(kind) changes") { connection in
            var documents: [(key: String, document: String, expiresAt: Date?)] = []
            let rows = try await connection.query("""
                SELECT key, document, expires_at FROM shared_state WHERE kind = \(kind) AND (expires_at IS NULL OR expires_at > \(at))
                ORDER BY updated_at, key
                """, logger: self.logger)
            for try await (key, document, expires) in rows.decode((String, String, Double?).self) {
                documents.append((key, document, expires.map { Date(timeIntervalSince1970: $0) }))
            }
            return documents
        }
    }
}
