import Fleet
import Foundation
import Store

/// Runs `body` on the config's shared store, for a command that works on it outside `fleetd
/// serve` (keys, costs, feedback, route): with `database.type: postgres`, the PostgreSQL store,
/// checked reachable, its schema brought up to date when `migrate`, and its client running for as
/// long as `body` does; with SQLite, `nil` (the command opens its data directory's file).
/// - Throws: ``UserError`` naming the server when it cannot be reached or its schema not opened.
func withSharedStore<T: Sendable>(_ config: FleetConfig, migrate: Bool = true, _ body: (PostgresStore?) async throws -> T) async throws -> T {
    guard config.database.type == .postgres else { return try await body(nil) }
    return try await withPostgresStore(config, migrate: migrate) { try await body($0) }
}

/// ``withSharedStore(_:migrate:_:)`` for a config the caller knows to be `database.type: postgres`.
func withPostgresStore<T: Sendable>(_ config: FleetConfig, migrate: Bool = true, _ body: (PostgresStore) async throws -> T) async throws -> T {
    let store = PostgresStore(configuration: DataPlane.postgresConfiguration(for: config))
    do {
        try await store.checkReachable()
    } catch let error as PostgresStoreError {
        throw UserError(error.message)
    }
    return try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask { try await store.run(); return nil }
        defer { group.cancelAll() }
        if migrate {
            do {
                try await store.migrate()
            } catch let error as PostgresStoreError {
                throw UserError("cannot open the PostgreSQL store: \(error.message)")
            }
        }
        return try await body(store)
    }
}

/// Where a command's store is, for people: the SQLite file's path, or the PostgreSQL server and database.
func storeDescription(_ config: FleetConfig, dataDirectory: URL) -> String {
    guard config.database.type == .postgres else { return DataPlane.databaseURL(for: config, dataDirectory: dataDirectory).path }
    let postgres = DataPlane.postgresConfiguration(for: config)
    return "PostgreSQL at \(postgres.address) (database \(postgres.database))"
}
