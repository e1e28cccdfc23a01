import Foundation
import Logging
import PostgresNIO
import Store
import Testing

/// The throwaway PostgreSQL cluster the tests run against (`scripts/pg-cluster start`, which
/// `scripts/test` runs): `FLEETD_TEST_PG_HOST` and `FLEETD_TEST_PG_PORT`, user `fleetd`, trust
/// auth on loopback. Suites carry ``PostgresTestCluster/trait``: without a cluster they are skipped
/// on a developer's machine, and FAIL (they run and report the missing cluster) when `CI=true`.
enum PostgresTestCluster {
    static let environment = ProcessInfo.processInfo.environment

    static var host: String? { environment["FLEETD_TEST_PG_HOST"] }
    static var port: Int? { environment["FLEETD_TEST_PG_PORT"].flatMap(Int.init) }
    static var available: Bool { host != nil && port != nil }
    static var inCI: Bool { environment["CI"] == "true" }

    /// Runs the suite when a cluster is there, or in CI (where its absence is a failure).
    static var trait: ConditionTrait {
        .enabled(if: available || inCI, "no PostgreSQL cluster: run scripts/pg-cluster start (scripts/test does)")
    }

    /// A new, empty database on the cluster, and the configuration to reach it.
    static func freshDatabase(lease: Duration = .seconds(60), timeout: Duration = .seconds(5)) async throws -> PostgresConfiguration {
        guard let host, let port else {
            throw PostgresTestFailure("FLEETD_TEST_PG_HOST/FLEETD_TEST_PG_PORT are not set: the PostgreSQL suites need scripts/pg-cluster (CI=true makes this a failure)")
        }
        let name = "fleetd_t_\(UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(16))"
        let admin = PostgresConnection.Configuration(host: host, port: port, username: "fleetd", password: nil, database: "fleetd_test", tls: .disable)
        let connection = try await PostgresConnection.connect(configuration: admin, id: 1, logger: Logger(label: "test.pg"))
        // The name is generated above (letters and digits): CREATE DATABASE takes no bind parameters.
        try await connection.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \(name)"), logger: Logger(label: "test.pg"))
        try await connection.close()
        return PostgresConfiguration(host: host, port: port, database: name, username: "fleetd", tls: .disable, poolSize: 8,
                                     reservationLease: lease, operationTimeout: timeout)
    }

    /// Runs statements on `configuration`'s database over a connection of its own.
    static func execute(_ configuration: PostgresConfiguration, _ statements: String...) async throws {
        let connection = try await connect(configuration)
        for statement in statements {
            try await connection.query(PostgresQuery(unsafeSQL: statement), logger: Logger(label: "test.pg"))
        }
        try await connection.close()
    }

    /// One number from a query (`SELECT count(*) …`, `SELECT sum(…)::float8 …`).
    static func number(_ configuration: PostgresConfiguration, _ sql: String) async throws -> Double {
        let connection = try await connect(configuration)
        var value = 0.0
        for try await row in try await connection.query(PostgresQuery(unsafeSQL: "SELECT (\(sql))::float8"), logger: Logger(label: "test.pg")) {
            value = (try? row.decode(Double?.self)).flatMap { $0 } ?? 0
        }
        try await connection.close()
        return value
    }

    /// The tables in the database's public schema, sorted.
    static func tableNames(_ configuration: PostgresConfiguration) async throws -> [String] {
        let connection = try await connect(configuration)
        var names: [String] = []
        for try await name in try await connection.query("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename",
                                                         logger: Logger(label: "test.pg")).decode(String.self) {
            names.append(name)
        }
        try await connection.close()
        return names
    }

    static func connect(_ c: PostgresConfiguration) async throws -> PostgresConnection {
        try await PostgresConnection.connect(
            configuration: .init(host: c.host, port: c.port, username: c.username, password: c.password, database: c.database, tls: .disable),
            id: 2, logger: Logger(label: "test.pg"))
    }

    /// Runs `body` with a store on `configuration`, running and opened; cancels the pool after.
    static func withStore<T: Sendable>(_ configuration: PostgresConfiguration, migrating: Bool = true,
                                       _ body: @escaping @Sendable (PostgresStore) async throws -> T) async throws -> T {
        let store = PostgresStore(configuration: configuration)
        return try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask { try await store.run(); return nil }
            defer { group.cancelAll() }
            if migrating { try await store.open() }
            return try await body(store)
        }
    }
}

struct PostgresTestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
