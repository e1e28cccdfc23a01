import FleetSupport
import Fleet
import Foundation
import Logging
import ServiceLifecycle
import Store

/// Puts every new config in force, before the reloader makes it the config readers see and
/// answers the reload (file watcher, SIGHUP, `POST /v1/admin/reload`, a flag change): in the
/// fleet manager (agents, router, budgets, quotas, TTLs, streaming), in the HTTP layer
/// (`api.rateLimit`, `api.maxBodyBytes`, `api.cors`) and in the log level. What only a restart
/// can change (`api.host`, `api.port`, `database.*`) is named in a warning by the reloader
/// (``ConfigReloader/Outcome/needsRestart``: against the config and listener fleetd started with,
/// not the last config loaded), never silently ignored.
struct RunningConfigApplier: ConfigApplier {
    let manager: FleetManager
    let api: LiveSetting<APISection>

    func apply(_ next: ConfigReloader.Snapshot, replacing current: ConfigReloader.Snapshot) async throws {
        // The manager first: it is the one part that may refuse, and then nothing else changed.
        try await manager.apply(next)
        api.set(next.config.api)
        LoggingSetup.level.set(next.config.logging.level.swiftLogLevel)
    }
}

/// Every `fleet.heartbeatInterval`, checks every agent and replaces hung ones. When fleetd
/// stops, it stops the agents' tool servers too (so none outlives it).
struct HeartbeatService: Service {
    let manager: FleetManager

    func run() async throws {
        let manager = self.manager
        await runPeriodically(every: { .milliseconds(await manager.config.fleet.heartbeatInterval) }) {
            await manager.checkAgents()
        }
        await manager.shutdownTools()
    }
}

/// When fleetd stops (after the server has drained its tasks), writes what waits for a group
/// commit: reservation holds and provider quota counts (the write-behind records flush themselves).
struct PendingWritesService: Service {
    let costs: any CostAccounting
    let quotas: any ProviderQuotaAccounting

    func run() async throws {
        try? await gracefulShutdown()
        await costs.flushPendingWrites()
        await quotas.flushPendingWrites()
    }
}
