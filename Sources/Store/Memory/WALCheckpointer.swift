import FleetSupport
import GRDB
import Logging
import ServiceLifecycle
import Synchronization

/// Moves SQLite's WAL checkpoints off the write path, for a long-running process.
///
/// With `synchronous = NORMAL` a commit does not wait for the disk, but SQLite's automatic
/// checkpoint (run by whichever commit pushes the WAL past 1,000 pages) does: it syncs the file,
/// and every task waiting for its cost settlement waited with it, for as long as the disk took
/// to sync (see docs/performance.md). While this service runs, the pool's writer does not
/// checkpoint; this service runs a PASSIVE checkpoint every ``interval`` on a connection of its
/// own, which never blocks the writer or a reader.
/// Under a steady stream of writes a PASSIVE checkpoint never catches up with the end of the WAL,
/// so when more than ``restartFrames`` remain it runs a RESTART checkpoint, which waits for the
/// writer once and lets the WAL start over (kept to 64 MiB on disk by `journal_size_limit`).
/// When it stops, the writer's automatic checkpoints are switched back on.
public struct WALCheckpointer: Service {
    public let database: StoreDatabase
    public let interval: Duration
    /// WAL frames (pages) left after a PASSIVE checkpoint that call for a RESTART one.
    public let restartFrames: Int
    /// Seconds a RESTART checkpoint waits for the writer before it gives up until the next interval.
    public let busyTimeout: Double
    private let logger: Logger

    public init(database: StoreDatabase, interval: Duration = .seconds(1), restartFrames: Int = 4_096, busyTimeout: Double = 5,
                logger: Logger = Logger(label: "fleetd.store.checkpointer")) {
        self.database = database
        self.interval = interval
        self.restartFrames = max(1, restartFrames)
        self.busyTimeout = busyTimeout
        self.logger = logger
    }

    public func run() async throws {
        var configuration = Configuration()
        configuration.label = "fleetd.store.checkpointer"
        configuration.busyMode = .timeout(busyTimeout)
        let connection: DatabaseQueue
        do {
            connection = try DatabaseQueue(path: database.path, configuration: configuration)
            try await database.pool.writeWithoutTransaction { db in
                try db.execute(sql: "PRAGMA wal_autocheckpoint = 0")
                try db.execute(sql: "PRAGMA journal_size_limit = 67108864")
            }
        } catch {
            logger.warning("background checkpoints are off; SQLite checkpoints on commit", metadata: ["error": "\(error)"])
            return
        }
        let failures = Mutex(0)
        await runPeriodically(every: interval) { await self.checkpoint(connection, failures: failures) }
        await checkpoint(connection, failures: failures)
        // Back to SQLite's default, so a writer left running does not grow the WAL forever. In a
        // task of its own, which a cancellation of this one does not reach (GRDB refuses to start
        // work in a cancelled task).
        let pool = database.pool
        _ = await Task { try? await pool.writeWithoutTransaction { try $0.execute(sql: "PRAGMA wal_autocheckpoint = 1000") } }.value
    }

    /// A RESTART checkpoint that found the writer busy for all of ``busyTimeout`` (a heavy stretch
    /// of settlements) is tried again at the next interval and is no news: the first failures in a
    /// row are logged at debug, and a warning comes once ``warnAfter`` have failed in a row, with
    /// a notice when one succeeds again.
    static let warnAfter = 3

    private func checkpoint(_ connection: DatabaseQueue, failures: borrowing Mutex<Int>) async {
        do {
            let restartFrames = restartFrames
            try await connection.writeWithoutTransaction { db in
                let passive = try db.checkpoint(.passive)
                if passive.walFrameCount - passive.checkpointedFrameCount > restartFrames || passive.walFrameCount > 4 * restartFrames {
                    try db.checkpoint(.restart)
                }
            }
            let failed = failures.withLock { count in defer { count = 0 }; return count }
            if failed >= Self.warnAfter {
                logger.notice("WAL checkpoints run again", metadata: ["failedInARow": "\(failed)"])
            }
        } catch {
            let failed = failures.withLock { count in count += 1; return count }
            let metadata: Logger.Metadata = ["error": "\(error)", "failedInARow": "\(failed)"]
            if failed == Self.warnAfter {
                logger.warning("WAL checkpoints keep failing; the WAL file grows until one succeeds; retrying every interval", metadata: metadata)
            } else {
                logger.debug("WAL checkpoint failed; retrying at the next interval", metadata: metadata)
            }
        }
    }
}
