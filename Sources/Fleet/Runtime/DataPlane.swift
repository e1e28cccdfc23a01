import FleetSupport
import Foundation
import Logging
import Routing
import Store

/// The data-plane services one fleetd process shares, wired from a config: the SQLite store,
/// the cost tracker with its budgets, provider quotas and the model router.
///
/// With `database.type: postgres` the money path (ledger, totals, reservations, alerts) and the
/// provider quotas run on the shared PostgreSQL store (``PostgresCostTracker``,
/// ``PostgresQuotaManager``), and so do the memory store's partitions (routing selections and
/// stats, stream sessions, the response cache, the learner's cells); the SQLite file stays for
/// what is only this instance's.
public struct DataPlane: Sendable {
    public let database: StoreDatabase
    public let memory: MemoryStore
    /// Batches the records nobody waits for (selections, stats, stream sessions); run it as a service.
    public let records: WriteBehindRecorder
    /// ``CostTracker`` on SQLite, or ``PostgresCostTracker`` on the shared store.
    public let costs: any CostAccounting
    /// The shared store when `database.type` is `postgres` (already opened and migrated).
    public let postgres: PostgresStore?
    /// ``QuotaManager`` on SQLite, or ``PostgresQuotaManager`` on the shared store.
    public let quotas: any ProviderQuotaAccounting
    public let router: ModelRouter
    public let analyzer: ComplexityAnalyzer

    /// The SQLite file for a config: `database.filename`, relative to the data directory.
    public static func databaseURL(for config: FleetConfig, dataDirectory: URL) -> URL {
        let name = config.database.filename
        return name.hasPrefix("/") ? URL(fileURLWithPath: name) : dataDirectory.appendingPathComponent(name)
    }

    /// The PostgreSQL settings of a config: `database.*`, with fleetd's defaults for what it leaves out.
    public static func postgresConfiguration(for config: FleetConfig) -> PostgresConfiguration {
        let db = config.database
        let defaults = PostgresConfiguration()
        return PostgresConfiguration(
            host: db.host ?? defaults.host, port: db.port ?? defaults.port, database: db.database ?? defaults.database,
            username: db.username ?? defaults.username, password: db.password,
            tls: PostgresConfiguration.TLSMode(rawValue: db.tls.rawValue) ?? .prefer, poolSize: db.poolSize,
            reservationLease: .seconds(db.reservationLeaseSeconds), operationTimeout: .milliseconds(Int64(db.timeoutSeconds * 1000)))
    }

    /// Opens (creating if needed) the store and builds the services on it.
    /// - Parameter postgres: the shared store for `database.type: postgres`, running (its
    ///   `run()` in the service group) and opened (``PostgresStore/open()``).
    public static func open(config: FleetConfig, dataDirectory: URL, postgres: PostgresStore? = nil, clock: any WallClock = SystemWallClock(),
                            logger: Logger = Logger(label: "fleetd")) async throws -> DataPlane {
        let url = databaseURL(for: config, dataDirectory: dataDirectory)
        // `database.filename` may name folders (`./data/fleet-eu.db`, as v1.0.4 files do): create them.
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        let database = try await StoreDatabase(path: url.path)
        // With PostgreSQL the partitions are the shared store's: selections, sessions, the cache and
        // the learner's cells are every instance's.
        let memory = MemoryStore(database: database, configuration: config.memory, clock: clock, shared: postgres)
        let records = WriteBehindRecorder(store: memory)
        let costs: any CostAccounting = if let postgres {
            try PostgresCostTracker(store: postgres, configuration: config.cost, clock: clock, logger: Logger(label: "fleetd.cost"))
        } else {
            try CostTracker(database: database, configuration: config.cost, memoryConfiguration: config.memory,
                            clock: clock, holdJournalDirectory: CostTracker.holdJournalDirectory(besideDatabaseAt: database.path),
                            mirrors: records, settlementCommitDelay: .milliseconds(10), logger: Logger(label: "fleetd.cost"))
        }
        let quotas: any ProviderQuotaAccounting = if let postgres {
            try PostgresQuotaManager(store: postgres, configuration: config.quotas, clock: clock)
        } else {
            try await QuotaManager(database: database, configuration: config.quotas, clock: clock)
        }
        let analyzer = ComplexityAnalyzer(weights: config.routing.complexity)
        let router = ModelRouter(
            configuration: config.routing, scorer: analyzer,
            budget: costs, quota: quotas, // the tracker reports an unlimited budget while cost tracking is off
            statsStore: records, recorder: records, learningStore: records, clock: clock, logger: Logger(label: "fleetd.routing")
        )
        try await router.loadStats()
        try await router.loadLearning()
        return DataPlane(database: database, memory: memory, records: records, costs: costs, postgres: postgres, quotas: quotas, router: router,
                         analyzer: analyzer)
    }

    /// Closes the SQLite file (``StoreDatabase/close()``); the services built on it fail after
    /// this. For a process that opens many data planes (the tests); `fleetd` closes by exiting.
    public func close() throws {
        try database.close()
    }
}
