import GRDB

extension StoreDatabase {
    /// The schema, as named, append-only migrations. Never edit or reorder a shipped migration:
    /// add a new one at the end.
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()

        // Memory entries: partition + key → JSON value, owner, access level, created, expiry.
        // WITHOUT ROWID so a key-prefix query is a range scan on the primary key.
        migrator.registerMigration("v1-memory-entries") { db in
            try db.execute(sql: """
                CREATE TABLE memory_entries (
                    partition    TEXT NOT NULL,
                    key          TEXT NOT NULL,
                    value        BLOB NOT NULL,
                    owner        TEXT NOT NULL,
                    access_level TEXT NOT NULL,
                    created_at   REAL NOT NULL,
                    expires_at   REAL,
                    PRIMARY KEY (partition, key)
                ) WITHOUT ROWID;
                CREATE INDEX memory_entries_expiry ON memory_entries(expires_at) WHERE expires_at IS NOT NULL;
                """)
        }

        // Cost ledger: one row per settled call; running totals per period, period key and
        // scope ('overall' or 'model:<name>'); alerts already raised (so a restart never repeats one).
        migrator.registerMigration("v2-cost-ledger") { db in
            try db.execute(sql: """
                CREATE TABLE cost_ledger (
                    entry_id      TEXT PRIMARY KEY NOT NULL,
                    model         TEXT NOT NULL,
                    provider      TEXT NOT NULL,
                    task_id       TEXT NOT NULL,
                    agent_id      TEXT NOT NULL,
                    task_type     TEXT NOT NULL,
                    input_tokens  INTEGER NOT NULL,
                    output_tokens INTEGER NOT NULL,
                    cached_tokens INTEGER NOT NULL,
                    cost          REAL NOT NULL,
                    created_at    REAL NOT NULL
                );
                CREATE INDEX cost_ledger_created_at ON cost_ledger(created_at);
                CREATE TABLE cost_totals (
                    period        TEXT NOT NULL,
                    period_key    TEXT NOT NULL,
                    scope         TEXT NOT NULL,
                    cost          REAL NOT NULL DEFAULT 0,
                    entries       INTEGER NOT NULL DEFAULT 0,
                    input_tokens  INTEGER NOT NULL DEFAULT 0,
                    output_tokens INTEGER NOT NULL DEFAULT 0,
                    cached_tokens INTEGER NOT NULL DEFAULT 0,
                    PRIMARY KEY (period, period_key, scope)
                ) WITHOUT ROWID;
                CREATE TABLE cost_alerts (
                    period            TEXT NOT NULL,
                    period_key        TEXT NOT NULL,
                    threshold_percent REAL NOT NULL,
                    spent             REAL NOT NULL,
                    limit_amount      REAL NOT NULL,
                    raised_at         REAL NOT NULL,
                    PRIMARY KEY (period, period_key, threshold_percent)
                ) WITHOUT ROWID;
                """)
        }

        // Provider quotas: counters per provider for the current day and month (by period key,
        // so a new key resets), and an unavailability window.
        migrator.registerMigration("v3-provider-quotas") { db in
            try db.execute(sql: """
                CREATE TABLE provider_quotas (
                    provider           TEXT PRIMARY KEY NOT NULL,
                    day_key            TEXT NOT NULL,
                    day_requests       INTEGER NOT NULL DEFAULT 0,
                    day_tokens         INTEGER NOT NULL DEFAULT 0,
                    month_key          TEXT NOT NULL,
                    month_requests     INTEGER NOT NULL DEFAULT 0,
                    month_tokens       INTEGER NOT NULL DEFAULT 0,
                    unavailable_until  REAL,
                    unavailable_reason TEXT,
                    updated_at         REAL NOT NULL
                );
                """)
        }
        // What each ledger row's usage rests on (reported, partial, estimated, cache), and the
        // reservations in flight, so a crash leaves them to be billed at the next start.
        migrator.registerMigration("v4-cost-basis-and-reservations") { db in
            try db.execute(sql: """
                ALTER TABLE cost_ledger ADD COLUMN basis TEXT NOT NULL DEFAULT 'reported';
                CREATE TABLE cost_reservations (
                    id             TEXT PRIMARY KEY NOT NULL,
                    model          TEXT NOT NULL,
                    provider       TEXT NOT NULL,
                    task_id        TEXT NOT NULL,
                    agent_id       TEXT NOT NULL,
                    task_type      TEXT NOT NULL,
                    estimated_cost REAL NOT NULL,
                    created_at     REAL NOT NULL
                );
                """)
        }
        // Callers: virtual API keys (only a SHA-256 of each key's secret is kept) with their
        // tenant, limits and expiry; and who each ledger row and reservation was spent for (the
        // key and the tenant), so spend adds up per key and per tenant.
        migrator.registerMigration("v5-api-keys-and-spend-by-caller") { db in
            try db.execute(sql: """
                CREATE TABLE api_keys (
                    id              TEXT PRIMARY KEY NOT NULL,
                    secret_hash     BLOB NOT NULL,
                    tenant          TEXT NOT NULL,
                    user_id         TEXT,
                    name            TEXT,
                    created_at      REAL NOT NULL,
                    expires_at      REAL,
                    revoked_at      REAL,
                    budget_daily    REAL,
                    budget_weekly   REAL,
                    budget_monthly  REAL,
                    rpm             INTEGER,
                    tpm             INTEGER,
                    models          TEXT,
                    providers       TEXT,
                    agent_types     TEXT
                );
                ALTER TABLE cost_ledger ADD COLUMN key_id TEXT;
                ALTER TABLE cost_ledger ADD COLUMN tenant TEXT;
                CREATE INDEX cost_ledger_key_time ON cost_ledger(key_id, created_at) WHERE key_id IS NOT NULL;
                ALTER TABLE cost_reservations ADD COLUMN key_id TEXT;
                ALTER TABLE cost_reservations ADD COLUMN tenant TEXT;
                """)
        }
        migrator.registerMigration("v6-reservation-owner") { db in
            // The process holding each reservation (ProcessIdentity): another live process's holds
            // are not a crash's leftovers.
            try db.execute(sql: "ALTER TABLE cost_reservations ADD COLUMN owner TEXT")
        }
        return migrator
    }
}
