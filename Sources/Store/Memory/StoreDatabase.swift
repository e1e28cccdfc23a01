import Foundation
import GRDB

/// fleetd's one SQLite file: a GRDB `DatabasePool` in WAL mode with fleetd's schema.
///
/// Opening runs the named, append-only migrations in ``StoreDatabase/migrator``. A file that
/// already holds migrations this build does not know (written by a newer fleetd) is refused with
/// ``StoreError/Code/schemaTooNew`` before anything is written to it.
///
/// Every access goes through ``read(_:_:)`` or ``write(_:_:)``, which map SQLite failures to
/// ``StoreError`` (disk full, read-only, locked, corrupt, I/O).
public final class StoreDatabase: Sendable {
    /// The underlying GRDB pool. Prefer ``read(_:_:)`` / ``write(_:_:)``, which map errors.
    public let pool: DatabasePool
    /// The absolute path of the file.
    public let path: String

    /// Opens (creating if needed) the database at `path` and migrates it.
    ///
    /// - Throws: ``StoreError`` with `.schemaTooNew` when the file comes from a newer build,
    ///   `.corrupt` when it is not a database, `.io` when it cannot be opened.
    public init(path: String, configuration: StoreDatabaseConfiguration = StoreDatabaseConfiguration()) async throws {
        guard !path.isEmpty else {
            throw StoreError(.invalidValue, "database path is empty")
        }
        guard (0...600).contains(configuration.busyTimeoutSeconds) else {
            throw StoreError(.invalidValue, "database busyTimeoutSeconds \(configuration.busyTimeoutSeconds) is outside 0…600")
        }
        guard (1...64).contains(configuration.maximumReaderCount) else {
            throw StoreError(.invalidValue, "database maximumReaderCount \(configuration.maximumReaderCount) is outside 1…64")
        }
        self.path = path
        let migrator = Self.migrator
        try Self.refuseNewerSchema(at: path, migrator: migrator)

        var config = Configuration()
        config.busyMode = .timeout(configuration.busyTimeoutSeconds)
        config.maximumReaderCount = configuration.maximumReaderCount
        config.label = "fleetd.store"
        // WAL with synchronous=NORMAL: a commit is durable against a process crash (the SIGKILL
        // test proves it) without an fsync per transaction; only an OS crash or power loss can
        // lose the last transactions, never corrupt the file. FULL cost every task several fsyncs.
        config.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
        }
        do {
            pool = try DatabasePool(path: path, configuration: config)
        } catch {
            throw StoreError.wrapping(error, context: "opening database at \(path)")
        }
        do {
            // The pool may have been created by a newer build between the check and here only if
            // two processes race; the migrator's own check below covers that.
            if try await pool.read({ db in try migrator.hasBeenSuperseded(db) }) {
                throw Self.tooNewError(path: path, unknown: try await pool.read { db in
                    try Self.unknownMigrations(db, migrator: migrator)
                })
            }
            try migrator.migrate(pool)
        } catch {
            throw StoreError.wrapping(error, context: "migrating database at \(path)")
        }
    }

    /// Reads in a snapshot; concurrent with writes (WAL).
    public func read<T: Sendable>(_ context: String, _ body: @Sendable (Database) throws -> T) async throws -> T {
        do {
            return try await pool.read(body)
        } catch {
            throw StoreError.wrapping(error, context: context)
        }
    }

    /// Runs `body` in one write transaction: everything in it commits together or not at all.
    public func write<T: Sendable>(_ context: String, _ body: @Sendable (Database) throws -> T) async throws -> T {
        do {
            return try await pool.write(body)
        } catch {
            throw StoreError.wrapping(error, context: context)
        }
    }

    /// Closes the file's connections (GRDB checkpoints the WAL as the last one closes). Anything
    /// used after this fails with ``StoreError``. fleetd's own processes never call it (the file
    /// closes as they exit); a process that opens the file many times (the test bundle) does.
    public func close() throws {
        do {
            try pool.close()
        } catch {
            throw StoreError.wrapping(error, context: "closing database at \(path)")
        }
    }

    /// The migration identifiers this build knows, in order.
    public static var knownMigrations: [String] { migrator.migrations }

    /// The migration identifiers applied to the open file, in order.
    public func appliedMigrations() async throws -> [String] {
        try await read("listing migrations") { db in try Self.migrator.appliedMigrations(db) }
    }

    // MARK: - Newer-schema refusal

    /// Looks at an existing file read-only and refuses it when it has unknown migrations.
    private static func refuseNewerSchema(at path: String, migrator: DatabaseMigrator) throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { return }
        if isDirectory.boolValue {
            throw StoreError(.io, "database path \(path) is a directory")
        }
        let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
        guard size > 0 else { return }
        var config = Configuration()
        config.readonly = true
        config.label = "fleetd.store.preflight"
        let unknown: [String]
        do {
            let queue = try DatabaseQueue(path: path, configuration: config)
            unknown = try queue.read { db in try unknownMigrations(db, migrator: migrator) }
            try queue.close()
        } catch {
            throw StoreError.wrapping(error, context: "checking database schema at \(path)")
        }
        if !unknown.isEmpty {
            throw tooNewError(path: path, unknown: unknown)
        }
    }

    private static func unknownMigrations(_ db: Database, migrator: DatabaseMigrator) throws -> [String] {
        guard try db.tableExists("grdb_migrations") else { return [] }
        let known = Set(migrator.migrations)
        return try migrator.appliedIdentifiers(db).filter { !known.contains($0) }.sorted()
    }

    private static func tooNewError(path: String, unknown: [String]) -> StoreError {
        StoreError(
            .schemaTooNew,
            "database at \(path) was migrated by a newer fleetd (unknown migrations: \(unknown.joined(separator: ", "))); "
                + "it was not modified. Run the newer fleetd or point database.filename at another file."
        )
    }
}
