import FleetSupport
import Logging
import Routing
import ServiceLifecycle

/// Every `interval`, adds what predictive routing learned in this process to the cells in the
/// SQLite file and takes in what other processes on the file added meanwhile (`fleetd feedback
/// --jsonl` into this data directory, `fleetd mcp` beside `fleetd serve`); once more when fleetd
/// stops (``ModelRouter/syncLearning()``). On the shared PostgreSQL store each outcome is applied in
/// place instead, and ``SharedLearningReload`` re-reads the cells.
struct LearningSyncService: Service {
    let router: ModelRouter
    var interval: Duration = .seconds(1)
    let logger: Logger

    func run() async throws {
        let router = self.router, logger = self.logger
        let sync: @Sendable () async -> Void = {
            do {
                try await router.syncLearning()
            } catch {
                logger.warning("what routing learned could not be merged into the store; it is kept for the next try",
                               metadata: ["error": "\(error)"])
            }
        }
        await runPeriodically(every: interval, sync)
        await sync()
    }
}
