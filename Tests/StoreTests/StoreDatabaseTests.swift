import Foundation
import GRDB
import Store
import Testing

@Suite("StoreDatabase: migrations, refusal, error mapping")
struct StoreDatabaseTests {
    @Test func freshFileGetsEveryMigrationInWALMode() async throws {
        let dir = try StoreTempDirectory()
        defer { dir.remove() }
        let db = try await StoreDatabase(path: dir.path())
        #expect(try await db.appliedMigrations() == StoreDatabase.knownMigrations)
        let mode = try await db.read("test") { try String.fetchOne($0, sql: "PRAGMA journal_mode") }
        #expect(mode == "wal")
    }

    @Test func oldV1FileIsMigratedAndKeepsItsRows() async throws {
        let dir = try StoreTempDirectory()
        defer { dir.remove() }
        // A file as the first release wrote it: only the v1 table and its migration mark.
        do {
            let queue = try DatabaseQueue(path: dir.path())
            try await queue.write { db in
                try db.execute(sql: """
                    CREATE TABLE grdb_migrations (identifier TEXT NOT NULL PRIMARY KEY);
                    INSERT INTO grdb_migrations VALUES ('v1-memory-entries');
                    CREATE TABLE memory_entries (
                        partition TEXT NOT NULL, key TEXT NOT NULL, value BLOB NOT NULL, owner TEXT NOT NULL,
                        access_level TEXT NOT NULL, created_at REAL NOT NULL, expires_at REAL,
                        PRIMARY KEY (partition, key)) WITHOUT ROWID;
                    CREATE INDEX memory_entries_expiry ON memory_entries(expires_at) WHERE expires_at IS NOT NULL;
                    INSERT INTO memory_entries VALUES ('routing/stats', 'model/a', CAST('{"calls":3}' AS BLOB), 'system', 'swarm', 0, NULL);
                    """)
            }
            try queue.close()
        }
        let db = try await StoreDatabase(path: dir.path())
        #expect(try await db.appliedMigrations() == StoreDatabase.knownMigrations)
        struct Stats: Codable, Equatable { var calls: Int }
        let store = MemoryStore(database: db)
        #expect(try await store.retrieve(Stats.self, partition: "routing/stats", key: "model/a") == Stats(calls: 3))
        let tables = try await db.read("test") { db in
            try String.fetchSet(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table'")
        }
        #expect(tables.isSuperset(of: ["cost_ledger", "cost_totals", "cost_alerts", "provider_quotas"]))
    }

    @Test func newerSchemaIsRefusedAndLeftUntouched() async throws {
        let dir = try StoreTempDirectory()
        defer { dir.remove() }
        do {
            let db = try await StoreDatabase(path: dir.path())
            try db.pool.close()
            let queue = try DatabaseQueue(path: dir.path())
            try await queue.write { try $0.execute(sql: "INSERT INTO grdb_migrations VALUES ('v9-from-the-future')") }
            try queue.close()
        }
        let before = try Data(contentsOf: URL(fileURLWithPath: dir.path()))
        await #expect {
            _ = try await StoreDatabase(path: dir.path())
        } throws: { error in
            guard let error = error as? StoreError else { return false }
            return error.code == .schemaTooNew && error.message.contains("v9-from-the-future")
        }
        let after = try Data(contentsOf: URL(fileURLWithPath: dir.path()))
        #expect(before == after)
        let wal = (try? FileManager.default.attributesOfItem(atPath: dir.path() + "-wal")[.size] as? Int) ?? 0
        #expect(wal == 0)
    }

    @Test func fileThatIsNotADatabaseIsCorrupt() async throws {
        let dir = try StoreTempDirectory()
        defer { dir.remove() }
        let garbage = Data(String(repeating: "not a database, just text. ", count: 200).utf8)
        try garbage.write(to: URL(fileURLWithPath: dir.path()))
        await #expect {
            _ = try await StoreDatabase(path: dir.path())
        } throws: { ($0 as? StoreError)?.code == .corrupt }
        #expect(try Data(contentsOf: URL(fileURLWithPath: dir.path())) == garbage)
    }

    @Test func missingDirectoryIsAnIOError() async throws {
        await #expect {
            _ = try await StoreDatabase(path: "/nonexistent-\(UUID().uuidString)/fleet.sqlite")
        } throws: { ($0 as? StoreError)?.code == .io }
    }

    @Test func fullDatabaseIsDiskFullAndKeepsCommittedRows() async throws {
        let dir = try StoreTempDirectory()
        defer { dir.remove() }
        let db = try await StoreDatabase(path: dir.path())
        let store = MemoryStore(database: db)
        try await store.store("kept", partition: "routing/stats", key: "before")
        // Cap the writer connection's file size at its current page count: like a full disk.
        try await db.pool.writeWithoutTransaction { db in
            let pages = try Int.fetchOne(db, sql: "PRAGMA page_count") ?? 1
            try db.execute(sql: "PRAGMA max_page_count = \(pages)")
        }
        let big = String(repeating: "x", count: 1_000_000)
        await #expect {
            try await store.store(big, partition: "routing/stats", key: "too-big")
        } throws: { ($0 as? StoreError)?.code == .diskFull }
        #expect(try await store.retrieve(String.self, partition: "routing/stats", key: "before") == "kept")
    }

    @Test func heldWriteLockIsLocked() async throws {
        let dir = try StoreTempDirectory()
        defer { dir.remove() }
        let db = try await StoreDatabase(path: dir.path(), configuration: StoreDatabaseConfiguration(busyTimeoutSeconds: 0.2))
        let store = MemoryStore(database: db)
        // Another connection (as another process would) holds the write lock for a second.
        try holdWriteLock(at: dir.path(), for: 1.0)
        await #expect {
            try await store.store(1, partition: "routing/stats", key: "blocked")
        } throws: { ($0 as? StoreError)?.code == .locked }
    }

    @Test func resultCodesMapToStoreCodes() {
        let cases: [(ResultCode, StoreError.Code)] = [
            (.SQLITE_FULL, .diskFull), (.SQLITE_READONLY, .readOnly), (.SQLITE_BUSY, .locked),
            (.SQLITE_LOCKED, .locked), (.SQLITE_CORRUPT, .corrupt), (.SQLITE_NOTADB, .corrupt),
            (.SQLITE_IOERR, .io), (.SQLITE_CANTOPEN, .io), (.SQLITE_CONSTRAINT, .failed),
        ]
        for (resultCode, expected) in cases {
            let mapped = StoreError.wrapping(DatabaseError(resultCode: resultCode, message: "m"), context: "ctx")
            #expect(mapped.code == expected)
            #expect(mapped.message.hasPrefix("ctx: m"))
        }
        #expect(StoreError(.readOnly, "x").shortDescription == "read_only")
    }
}
