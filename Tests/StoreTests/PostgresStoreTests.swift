import FakeProvider
import Foundation
import Logging
import PostgresNIO
import Store
import Testing

@Suite("PostgreSQL store: connection and named migrations", PostgresTestCluster.trait)
struct PostgresStoreTests {
    @Test func opensAndMigratesOnceEvenWhenOpenedTwice() async throws {
        let config = try await PostgresTestCluster.freshDatabase()
        let names = try await PostgresTestCluster.withStore(config) { store in
            try await store.migrate()
            return try await store.appliedMigrations()
        }
        #expect(names == ["pg1-cost-ledger", "pg2-shared-state", "pg3-provider-quotas", "pg4-api-keys", "pg5-memory-entries",
                         "pg6-key-request-windows"])
        // A second instance on the same database finds nothing to do.
        let again = try await PostgresTestCluster.withStore(config) { try await $0.appliedMigrations() }
        #expect(again == names)
    }

    @Test func aDatabaseMigratedByANewerFleetdIsRefusedUntouched() async throws {
        let config = try await PostgresTestCluster.freshDatabase()
        _ = try await PostgresTestCluster.withStore(config) { try await $0.appliedMigrations() }
        try await PostgresTestCluster.execute(config, "INSERT INTO fleetd_migrations (name) VALUES ('pg99-from-the-future')",
                                              "DROP TABLE cost_alerts")
        let tables = try await PostgresTestCluster.tableNames(config)
        let store = PostgresStore(configuration: config)
        let error: PostgresStoreError? = await withTaskGroup(of: PostgresStoreError?.self) { group in
            group.addTask { try? await store.run(); return nil }
            defer { group.cancelAll() }
            do {
                try await store.open()
                return nil
            } catch {
                return error as? PostgresStoreError
            }
        }
        #expect(error?.code == .schemaTooNew)
        #expect(error?.message.contains("pg99-from-the-future") == true)
        #expect(error?.message.contains("\(config.host):\(config.port)") == true)
        // Untouched: the dropped table was not recreated, no migration recorded.
        #expect(try await PostgresTestCluster.tableNames(config) == tables)
        let names = try await PostgresTestCluster.withStore(config, migrating: false) { try await $0.appliedMigrations() }
        #expect(names.sorted() == ["pg1-cost-ledger", "pg2-shared-state", "pg3-provider-quotas", "pg4-api-keys", "pg5-memory-entries",
                                  "pg6-key-request-windows", "pg99-from-the-future"])
    }

    @Test func anUnreachableServerIsOneErrorNamingHostAndPort() async throws {
        // A port that refuses connections for the whole test (bound, never listening).
        let refusing = try RefusingPort()
        defer { withExtendedLifetime(refusing) {} }
        let port = refusing.port
        let store = PostgresStore(configuration: PostgresConfiguration(host: "127.0.0.1", port: port, database: "x", username: "fleetd", tls: .disable))
        let error = await #expect(throws: PostgresStoreError.self) { try await store.checkReachable() }
        #expect(error?.code == .unreachable)
        #expect(error?.message.contains("127.0.0.1:\(port)") == true)
    }
}
