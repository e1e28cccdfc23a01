// What a reload can change while fleetd runs, and what only a restart applies.

extension FleetConfig {
    /// The sections a reload applies at once: `features` and `featureOverrides`, `agents` (counts,
    /// types, roles), `fleet.maxAgents`/`heartbeatInterval`/`taskTimeout`, the whole `routing`
    /// section (models, strategy, weights, health, complexity, `costTracking`, `quotas`),
    /// `streaming`, `memory.ttl` (for entries written from then on), `api.rateLimit`,
    /// `api.maxBodyBytes`, `api.cors`, `api.maxQueuedTasks`, `logging.level`.
    public static let reloadableSettings = [
        "features", "featureOverrides", "agents", "fleet", "routing", "streaming", "memory.ttl",
        "api.rateLimit", "api.maxBodyBytes", "api.cors", "api.allowedHosts", "api.maxQueuedTasks", "logging.level",
    ]

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
