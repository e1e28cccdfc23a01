// What a reload can change while fleetd runs, and what only a restart applies.

import Routing
import Store
import Streaming

extension FleetConfig {
    /// The sections a reload applies at once: `features` and `featureOverrides`, `agents` (counts,
    /// types, roles), `fleet.maxAgents`/`heartbeatInterval`/`taskTimeout`, the whole `routing`
    /// section (models, strategy, weights, health, complexity, `costTracking`, `quotas`),
    /// `streaming`, `memory.ttl` (for entries written from then on), `api.rateLimit`,
    /// `api.trustedProxies`, `api.maxBodyBytes`, `api.cors`, `api.allowedHosts`, `api.maxQueuedTasks`,
    /// `api.modelAliases`, `logging.level`.
    public static let reloadableSettings = [
        "features", "featureOverrides", "agents", "fleet", "routing", "streaming", "memory.ttl",
        "api.rateLimit", "api.trustedProxies", "api.maxBodyBytes", "api.cors", "api.allowedHosts", "api.maxQueuedTasks", "api.modelAliases", "logging.level",
    ]

    /// The settings of ``reloadableSettings`` whose value differs from `old` (a section named
    /// once, whatever changed in it): what a reload from `old` to this config changes at once.
    public func changesAppliedAtOnce(from old: FleetConfig) -> [String] {
        var changed: [String] = []
        if features.global != old.features.global { changed.append("features") }
        if features.agentTypes != old.features.agentTypes || features.environments != old.features.environments {
            changed.append("featureOverrides")
        }
        if agents != old.agents { changed.append("agents") }
        if fleet != old.fleet { changed.append("fleet") }
        if routing != old.routing || cost != old.cost || quotas != old.quotas { changed.append("routing") }
        if streaming != old.streaming { changed.append("streaming") }
        if memory != old.memory { changed.append("memory.ttl") }
        if api.rateLimit != old.api.rateLimit { changed.append("api.rateLimit") }
        if api.trustedProxies != old.api.trustedProxies { changed.append("api.trustedProxies") }
        if api.maxBodyBytes != old.api.maxBodyBytes { changed.append("api.maxBodyBytes") }
        if api.corsOrigins != old.api.corsOrigins { changed.append("api.cors") }
        if api.allowedHosts != old.api.allowedHosts { changed.append("api.allowedHosts") }
        if api.maxQueuedTasks != old.api.maxQueuedTasks { changed.append("api.maxQueuedTasks") }
        if api.modelAliases != old.api.modelAliases { changed.append("api.modelAliases") }
        if logging.level != old.logging.level { changed.append("logging.level") }
        return changed
    }

    /// Settings that differ from `old` but apply only after a restart: the listening address
    /// (`api.host`, `api.port`), the shutdown's drain time (`api.drainTimeoutSeconds`), the store (`database.*`) and where and how logs are written
    /// (`logging.format`, `logging.outputs`, `logging.file`).
    public func changesNeedingRestart(from old: FleetConfig) -> [String] {
        var changed: [String] = []
        if api.host != old.api.host { changed.append("api.host") }
        if api.port != old.api.port { changed.append("api.port") }
        if api.drainTimeoutSeconds != old.api.drainTimeoutSeconds { changed.append("api.drainTimeoutSeconds") }
        if database.type != old.database.type { changed.append("database.type") }
        if database.filename != old.database.filename { changed.append("database.filename") }
        if database.host != old.database.host { changed.append("database.host") }
        if database.port != old.database.port { changed.append("database.port") }
        if database.database != old.database.database { changed.append("database.database") }
        if database.username != old.database.username { changed.append("database.username") }
        if database.password != old.database.password { changed.append("database.password") }
        if database.tls != old.database.tls { changed.append("database.tls") }
        if database.poolSize != old.database.poolSize { changed.append("database.poolSize") }
        if database.reservationLeaseSeconds != old.database.reservationLeaseSeconds { changed.append("database.reservationLeaseSeconds") }
        if database.timeoutSeconds != old.database.timeoutSeconds { changed.append("database.timeoutSeconds") }
        if logging.format != old.logging.format { changed.append("logging.format") }
        if logging.outputs != old.logging.outputs { changed.append("logging.outputs") }
        if logging.file != old.logging.file { changed.append("logging.file") }
        if api.allowUnauthenticated != old.api.allowUnauthenticated { changed.append("api.allowUnauthenticated") }
        // Credentials are read once, at start-up (their values are never named).
        if security.apiKey != old.security.apiKey { changed.append("security.apiKey") }
        if security.jwtSecret != old.security.jwtSecret { changed.append("security.jwtSecret") }
        return changed
    }
}
