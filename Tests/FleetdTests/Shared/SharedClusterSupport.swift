import Foundation
import Logging
import PostgresNIO
import Testing

/// The throwaway PostgreSQL cluster of `scripts/pg-cluster` (started by `scripts/test`), for the
/// end-to-end tests of several fleetd binaries on one database. Without it the suites are skipped
/// on a developer's machine and FAIL when `CI=true`.
enum SharedCluster {
    static let environment = ProcessInfo.processInfo.environment
    static var host: String? { environment["FLEETD_TEST_PG_HOST"] }
    static var port: Int? { environment["FLEETD_TEST_PG_PORT"].flatMap(Int.init) }

    static var trait: ConditionTrait {
        .enabled(if: (host != nil && port != nil) || environment["CI"] == "true",
                 "no PostgreSQL cluster: run scripts/pg-cluster start (scripts/test does)")
    }

    /// A new empty database; returns its name.
    static func freshDatabase() async throws -> String {
        guard let host, let port else {
            throw SharedClusterMissing()
        }
        let name = "fleetd_e_\(UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(16))"
        let connection = try await connect(database: "fleetd_test", host: host, port: port)
        // A generated name of letters and digits: CREATE DATABASE takes no bind parameters.
        try await connection.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \(name)"), logger: Logger(label: "test.pg"))
        try await connection.close()
        return name
    }

    /// One number from a query on `database`.
    static func number(_ database: String, _ sql: String) async throws -> Double {
        guard let host, let port else { throw SharedClusterMissing() }
        let connection = try await connect(database: database, host: host, port: port)
        var value = 0.0
        for try await row in try await connection.query(PostgresQuery(unsafeSQL: "SELECT (\(sql))::float8"), logger: Logger(label: "test.pg")) {
            value = (try? row.decode(Double?.self)).flatMap { $0 } ?? 0
        }
        try await connection.close()
        return value
    }

    static func connect(database: String, host: String, port: Int) async throws -> PostgresConnection {
        try await PostgresConnection.connect(
            configuration: .init(host: host, port: port, username: "fleetd", password: nil, database: database, tls: .disable),
            id: 3, logger: Logger(label: "test.pg"))
    }

    /// The `database:` section for a fleetd on that database.
    static func databaseSection(_ database: String, leaseSeconds: Int = 60) -> String {
        "database: {type: postgres, host: \(host ?? "127.0.0.1"), port: \(port ?? 5432), database: \(database), username: fleetd, "
            + "tls: disable, poolSize: 8, reservationLeaseSeconds: \(leaseSeconds), timeoutSeconds: 3}"
    }
}

struct SharedClusterMissing: Error, CustomStringConvertible {
    var description: String {
        "FLEETD_TEST_PG_HOST/FLEETD_TEST_PG_PORT are not set: the PostgreSQL suites need scripts/pg-cluster (CI=true makes this a failure)"
    }
}
