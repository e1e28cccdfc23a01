import Fleet
import FleetSupport
import Foundation
import Logging
import Routing
import ServiceLifecycle
import Store

// The services that keep an instance in step with the others on a shared PostgreSQL store
// (`database.type: postgres`): flag changes and breaker openings arrive by LISTEN/NOTIFY.

/// Listens for flag changes made through any instance and applies them to this one.
struct SharedFlagListener: Service {
    let shared: SharedFlagChanges
    let reloader: ConfigReloader
    let logger: Logger

    init(shared: SharedFlagChanges, reloader: ConfigReloader, logger: Logger) {
        self.shared = shared
        self.reloader = reloader
        self.logger = logger
    }

    func run() async throws {
        let shared = self.shared, reloader = self.reloader, logger = self.logger
        await cancelWhenGracefulShutdown {
            await shared.store.listen(on: PostgresStore.channel(for: SharedFlagChanges.kind)) { _ in
                // On every notice, and when listening (re)starts: re-read, and adopt what differs.
                do {
                    try await reloader.adoptSharedFlagChanges(try await shared.load())
                } catch {
                    logger.warning("shared flag changes could not be read", metadata: ["error": "\(error)"])
                }
            }
        }
    }
}

/// Breaker openings shared by every fleetd instance on one PostgreSQL store: a 429 seen by one
/// instance opens that model's breaker here (``HealthMonitor/onRateLimit(_:)``), is written to
/// `shared_state` (kind `breaker`, expiring with the breaker) and announced by NOTIFY; every
/// instance re-reads the openings in force and holds the model out until the same time
/// (``HealthMonitor/holdOut(_:)``). New instances load the openings in force at start.
struct SharedBreakers: Service {
    static let kind = "breaker"
    let store: PostgresStore
    let health: HealthMonitor
    let logger: Logger
    private let openings: AsyncStream<BreakerOpening>
    private let continuation: AsyncStream<BreakerOpening>.Continuation

    /// Sets the health monitor's hook; openings are written when the service runs.
    init(store: PostgresStore, health: HealthMonitor, logger: Logger) {
        self.store = store
        self.health = health
        self.logger = logger
        // Bounded: a burst of 429s keeps the newest openings (a later one holds longer anyway).
        (openings, continuation) = AsyncStream.makeStream(of: BreakerOpening.self, bufferingPolicy: .bufferingNewest(256))
        let continuation = self.continuation
        health.onRateLimit { opening in continuation.yield(opening) }
    }

    func run() async throws {
        let store = self.store, health = self.health, logger = self.logger, openings = self.openings
        await cancelWhenGracefulShutdown {
            await withDiscardingTaskGroup { group in
                group.addTask {
                    for await opening in openings {
                        do {
                            let document = String(decoding: try JSONEncoder().encode(opening), as: UTF8.self)
                            try await store.putShared(kind: Self.kind, key: opening.model, document: document, expiresAt: opening.until)
                        } catch {
                            logger.warning("a breaker opening could not be shared", metadata: ["model": "\(opening.model)", "error": "\(error)"])
                        }
                    }
                }
                group.addTask {
                    await store.listen(on: PostgresStore.channel(for: Self.kind)) { _ in
                        do {
                            for shared in try await store.loadShared(kind: Self.kind) {
                                health.holdOut(try JSONDecoder().decode(BreakerOpening.self, from: Data(shared.document.utf8)))
                            }
                        } catch {
                            logger.warning("shared breaker openings could not be read", metadata: ["error": "\(error)"])
                        }
                    }
                }
            }
        }
        continuation.finish()
    }
}

/// Re-reads the router's per-model stats and predictive routing's cells from the shared store every
/// `interval`, so this instance routes on what every instance observed (each instance adds its own
/// outcomes to the stored entries in place: ``RoutingStatsStore/recordOutcome(model:success:latencyMs:error:at:)``,
/// ``LearningStore/apply(_:to:configuration:)``).
struct SharedLearningReload: Service {
    let router: ModelRouter
    let interval: Duration
    let logger: Logger

    init(router: ModelRouter, interval: Duration = .seconds(5), logger: Logger) {
        self.router = router
        self.interval = interval
        self.logger = logger
    }

    func run() async throws {
        let router = self.router, logger = self.logger
        await runPeriodically(every: interval, tickFirst: false) {
            do {
                try await router.loadStats()
                try await router.loadLearning()
            } catch {
                logger.warning("the shared routing stats and cells could not be re-read", metadata: ["error": "\(error)"])
            }
        }
    }
}
