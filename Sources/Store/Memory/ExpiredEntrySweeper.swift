import FleetSupport
import Logging
import ServiceLifecycle

/// A `Service` that removes expired memory entries every ``interval``, in small batches.
///
/// Each batch is its own short write transaction (at most ``batchSize`` rows), with
/// ``pauseBetweenBatches`` between batches, so a WAL reader never waits and other writers wait
/// at most one batch. Stops on graceful shutdown or cancellation. A failing sweep is logged
/// and retried at the next interval: the service keeps running.
public struct ExpiredEntrySweeper: Service {
    public let store: MemoryStore
    /// Time between sweeps. Default 60 s.
    public let interval: Duration
    /// Rows per transaction. Default 1,000.
    public let batchSize: Int
    /// Pause between two batches of one sweep. Default 5 ms.
    public let pauseBetweenBatches: Duration
    private let logger: Logger

    public init(
        store: MemoryStore,
        interval: Duration = .seconds(60),
        batchSize: Int = 1_000,
        pauseBetweenBatches: Duration = .milliseconds(5),
        logger: Logger = Logger(label: "fleetd.store.sweeper")
    ) {
        self.store = store
        self.interval = interval
        self.batchSize = max(1, batchSize)
        self.pauseBetweenBatches = pauseBetweenBatches
        self.logger = logger
    }

    public func run() async throws {
        await runPeriodically(every: interval, tickFirst: true) { await self.sweepOnce() }
    }

    /// Runs one sweep now; returns rows removed (0 when it failed, after logging).
    @discardableResult
    public func sweepOnce() async -> Int {
        do {
            let removed = try await store.cleanExpired(batchSize: batchSize, pause: pauseBetweenBatches)
            if removed > 0 {
                logger.debug("removed expired memory entries", metadata: ["count": "\(removed)"])
            }
            return removed
        } catch is CancellationError {
            return 0
        } catch {
            logger.error("expired-entry sweep failed", metadata: ["error": "\(error)"])
            return 0
        }
    }
}
