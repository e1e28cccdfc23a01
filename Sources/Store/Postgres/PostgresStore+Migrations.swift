import Foundation
import PostgresNIO

// The PostgreSQL schema, as named, append-only migrations (the SQLite store's rule, in
// `StoreDatabase+Migrations.swift`): a migration once released is never edited, only followed by
// new ones. `fleetd_migrations` lists the names applied; a database that lists a name this fleetd
// does not know was migrated by a newer fleetd and is refused untouched.

/// One named step of the PostgreSQL schema.
struct PostgresMigration: Sendable {
    var name: String
    var statements: [String]
}

extension PostgresStore {
    /// Every migration, in order. Append only.
    static let migrations: [PostgresMigration] = [
        PostgresMigration(name: "pg1-cost-ledger", statements: [
            // One row per settled call (or cache hit, or expired reservation billed at its estimate).
            """
            CREATE TABLE cost_ledger (
                entry_id TEXT PRIMARY KEY, model TEXT NOT NULL, provider TEXT NOT NULL, task_id TEXT NOT NULL,
                agent_id TEXT NOT NULL, task_type TEXT NOT NULL, input_tokens BIGINT NOT NULL, output_tokens BIGINT NOT NULL,
                cached_tokens BIGINT NOT NULL, cost DOUBLE PRECISION NOT NULL, created_at DOUBLE PRECISION NOT NULL,
                basis TEXT NOT NULL, key_id TEXT, tenant TEXT, instance_id TEXT)
            """,
            "CREATE INDEX cost_ledger_created_at ON cost_ledger (created_at)",
            // Running totals per period key and scope (overall, model:<m>, key:<id>, tenant:<t>);
            // `reserved` is what reservations in flight hold against the row, fleet-wide.
            """
            CREATE TABLE cost_totals (
                period TEXT NOT NULL, period_key TEXT NOT NULL, scope TEXT NOT NULL,
                cost DOUBLE PRECISION NOT NULL DEFAULT 0, reserved DOUBLE PRECISION NOT NULL DEFAULT 0,
                entries BIGINT NOT NULL DEFAULT 0, input_tokens BIGINT NOT NULL DEFAULT 0,
                output_tokens BIGINT NOT NULL DEFAULT 0, cached_tokens BIGINT NOT NULL DEFAULT 0,
                PRIMARY KEY (period, period_key, scope))
            """,
            // Reservations in flight, with the period keys they were counted under and the lease
            // of the instance that holds them.
            """
            CREATE TABLE cost_reservations (
                id TEXT PRIMARY KEY, model TEXT NOT NULL, provider TEXT NOT NULL, task_id TEXT NOT NULL,
                agent_id TEXT NOT NULL, task_type TEXT NOT NULL, estimated_cost DOUBLE PRECISION NOT NULL,
                created_at DOUBLE PRECISION NOT NULL, key_id TEXT, tenant TEXT, key_held BOOLEAN NOT NULL,
                day_key TEXT NOT NULL, week_key TEXT NOT NULL, month_key TEXT NOT NULL,
                instance_id TEXT NOT NULL, lease_expires_at DOUBLE PRECISION NOT NULL)
            """,
            "CREATE INDEX cost_reservations_lease ON cost_reservations (lease_expires_at)",
            "CREATE INDEX cost_reservations_instance ON cost_reservations (instance_id)",
            // Each threshold once per period key, fleet-wide.
            """
            CREATE TABLE cost_alerts (
                period TEXT NOT NULL, period_key TEXT NOT NULL, threshold_percent DOUBLE PRECISION NOT NULL,
                spent DOUBLE PRECISION NOT NULL, limit_amount DOUBLE PRECISION NOT NULL, raised_at DOUBLE PRECISION NOT NULL,
                PRIMARY KEY (period, period_key, threshold_percent))
            """,
        ]),
        PostgresMigration(name: "pg2-shared-state", statements: [
            // Runtime flag changes and breaker openings, announced by NOTIFY (PostgresStore+SharedState.swift).
            """
            CREATE TABLE shared_state (
                kind TEXT NOT NULL, key TEXT NOT NULL, document TEXT NOT NULL, expires_at DOUBLE PRECISION,
                updated_at DOUBLE PRECISION NOT NULL, instance_id TEXT NOT NULL, PRIMARY KEY (kind, key))
            """,
        ]),
        PostgresMigration(name: "pg3-provider-quotas", statements: [
            // One row per provider with limits: the current day's and month's counters (a new
            // period key starts them again at zero) and its unavailability window (PostgresQuotaManager).
            """
            CREATE TABLE provider_quotas (
                provider TEXT PRIMARY KEY, day_key TEXT NOT NULL, day_requests BIGINT NOT NULL DEFAULT 0,
                day_tokens BIGINT NOT NULL DEFAULT 0, month_key TEXT NOT NULL, month_requests BIGINT NOT NULL DEFAULT 0,
                month_tokens BIGINT NOT NULL DEFAULT 0, unavailable_until DOUBLE PRECISION, unavailable_reason TEXT,
                updated_at DOUBLE PRECISION NOT NULL)
            """,
        ]),
        PostgresMigration(name: "pg4-api-keys", statements: [
            // Virtual API keys, as SQLite's `api_keys` (only a SHA-256 of the secret is kept); their
            // budgets are `key:<id>` rows of cost_totals, their token use read from cost_ledger.
            """
            CREATE TABLE api_keys (
                id TEXT PRIMARY KEY, secret_hash BYTEA NOT NULL, tenant TEXT NOT NULL, user_id TEXT, name TEXT,
                created_at DOUBLE PRECISION NOT NULL, expires_at DOUBLE PRECISION, revoked_at DOUBLE PRECISION,
                budget_daily DOUBLE PRECISION, budget_weekly DOUBLE PRECISION, budget_monthly DOUBLE PRECISION,
                rpm BIGINT, tpm BIGINT, models TEXT, providers TEXT, agent_types TEXT)
            """,
            "CREATE INDEX cost_ledger_key_time ON cost_ledger (key_id, created_at) WHERE key_id IS NOT NULL",
        ]),
        PostgresMigration(name: "pg5-memory-entries", statements: [
            // The memory store's partitions (MemoryStore+Postgres.swift), as SQLite's memory_entries;
            // keys compare byte-wise, as in SQLite.
            """
            CREATE TABLE memory_entries (
                partition TEXT NOT NULL, key TEXT COLLATE "C" NOT NULL, value BYTEA NOT NULL, owner TEXT NOT NULL,
                access_level TEXT NOT NULL, created_at DOUBLE PRECISION NOT NULL, expires_at DOUBLE PRECISION,
                PRIMARY KEY (partition, key))
            """,
            "CREATE INDEX memory_entries_expiry ON memory_entries (expires_at) WHERE expires_at IS NOT NULL",
            "CREATE INDEX memory_entries_age ON memory_entries (partition, created_at)",
        ]),
        PostgresMigration(name: "pg6-key-request-windows", statements: [
            // Requests per minute of each virtual key, fleet-wide: one row per key and one-minute
            // window, counted by a conditional upsert (APIKeyStore+Postgres.swift).
            """
            CREATE TABLE key_request_windows (
                key_id TEXT NOT NULL, window_start BIGINT NOT NULL, requests BIGINT NOT NULL, PRIMARY KEY (key_id, window_start))
            """,
        ]),
    ]

    /// The advisory lock that serialises migrations between instances starting together.
    static let migrationLock: Int64 = 0x666C_6565_7464_0001

    /// Applies the migrations this database lacks, one transaction each, under an advisory lock.
    /// - Throws: ``PostgresStoreError`` `.schemaTooNew` (nothing changed) when the database lists
    ///   a migration this fleetd does not know.
    public func migrate() async throws {
        let known = Self.migrations.map(\.name)
        let address = configuration.address, database = configuration.database
        let applied = try await transaction("migrating the schema") { connection in
            try await connection.query("SELECT pg_advisory_xact_lock(\(Self.migrationLock))", logger: self.logger)
            try await connection.query("CREATE TABLE IF NOT EXISTS fleetd_migrations (name TEXT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())",
                                       logger: self.logger)
            var done: [String] = []
            for try await name in try await connection.query("SELECT name FROM fleetd_migrations", logger: self.logger).decode(String.self) {
                done.append(name)
            }
            let unknown = done.filter { !known.contains($0) }.sorted()
            guard unknown.isEmpty else {
                throw PostgresStoreError(.schemaTooNew, "the PostgreSQL database \(database) at \(address) was migrated by a newer fleetd "
                    + "(unknown migration\(unknown.count == 1 ? "" : "s") \(unknown.joined(separator: ", "))); it was left untouched: run a fleetd that knows them")
            }
            var appliedNow: [String] = []
            for migration in Self.migrations where !done.contains(migration.name) {
                for statement in migration.statements {
                    try await connection.query(PostgresQuery(unsafeSQL: statement), logger: self.logger)
                }
                try await connection.query("INSERT INTO fleetd_migrations (name) VALUES (\(migration.name))", logger: self.logger)
                appliedNow.append(migration.name)
            }
            return appliedNow
        }
        if !applied.isEmpty {
            logger.notice("PostgreSQL schema migrated", metadata: ["applied": .array(applied.map { .string($0) }), "server": "\(address)"])
        }
    }

    /// The names of the migrations applied to this database, in the order they were applied.
    public func appliedMigrations() async throws -> [String] {
        try await withConnection("reading the migrations") { connection in
            var names: [String] = []
            for try await name in try await connection.query("SELECT name FROM fleetd_migrations ORDER BY applied_at, name", logger: self.logger)
                .decode(String.self) {
                names.append(name)
            }
            return names
        }
    }
}
