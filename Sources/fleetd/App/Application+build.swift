import AsyncHTTPClient
import Fleet
import FleetSupport
import Foundation
import Hummingbird
import Logging
import NIOCore
import NIOPosix
import Providers
import ServiceLifecycle
import Store

/// Builds the fleetd HTTP application: data plane, fleet manager, routes, middleware and the
/// background services (config watcher, heartbeats, expired-entry sweeper).
/// It does not run it: `fleetd serve` runs it in a `ServiceGroup`; tests run it with
/// HummingbirdTesting (`app.test(.router)`, or `.live` on a free port). Everything it reads from
/// the environment (provider keys, config overrides on reload) comes from
/// ``ServiceSettings/processEnvironment``.
/// What every way of running fleetd shares (`serve` over HTTP, `mcp` over stdio): the data plane,
/// the fleet manager, who may call, what puts a new config in force (``RunningConfigApplier``), and
/// the background services that keep them (config watcher, heartbeats, budget alerts, the
/// expired-entry sweeper, WAL checkpoints, write-behind).
struct FleetCore: Sendable {
    let config: FleetConfig
    let reloader: ConfigReloader
    let dataPlane: DataPlane
    let manager: FleetManager
    let authenticator: Authenticator
    let api: LiveSetting<APISection>
    /// Every flag change (`PUT /v1/flags`, the MCP `flags` tool, and runtime changes a reload
    /// dropped), for `GET /v1/flags/history`.
    let flagChanges: FlagChangeLog
    let services: [any Service]
}

///
/// With `postgres` (for `database.type: postgres`; it must be running), the schema is migrated
/// first and the money path runs on it (``PostgresCostTracker``, with ``PostgresMaintenance``
/// among the services), and runtime flag changes and breaker openings are shared through it.
func buildCore(loaded: LoadedConfig, settings: ServiceSettings, metrics: FleetMetrics, httpClients: ProviderHTTPClients,
               postgres: PostgresStore? = nil, logger: Logger) async throws -> FleetCore {
    let config = loaded.config
    let reloader = try ConfigReloader(
        loaded: loaded,
        environment: settings.processEnvironment,
        flagStore: RuntimeFlagStore(url: settings.dataDirectory.appendingPathComponent("runtime-flags.json")),
        listenOverride: settings.listenOverride
    )
    if let postgres {
        do {
            try await postgres.migrate()
            // Runtime flag changes made through any instance apply here too (SharedFlagListener).
            try await reloader.share(through: SharedFlagChanges(store: postgres))
        } catch let error as PostgresStoreError {
            throw UserError("cannot open the PostgreSQL store: \(error.message)")
        }
    }
    let dataPlane: DataPlane
    do {
        dataPlane = try await DataPlane.open(config: config, dataDirectory: settings.dataDirectory, postgres: postgres, logger: logger)
    } catch let error as StoreError {
        throw UserError("cannot open the database \(DataPlane.databaseURL(for: config, dataDirectory: settings.dataDirectory).path): \(error)")
    }
    // Reservations an earlier run held and never settled (it crashed or was killed) are billed at
    // their estimate before anything new is reserved (with PostgreSQL: those whose lease ran out).
    do {
        try await dataPlane.costs.billUnsettledReservations()
    } catch {
        logger.error("unsettled reservations from an earlier run could not be billed; they stay for the next start", metadata: ["error": "\(error)"])
    }
    let manager = await FleetManager(
        reloader: reloader, dataPlane: dataPlane,
        clients: ProviderClientFactory(httpClients: httpClients, credentials: ProviderCredentials(environment: settings.processEnvironment),
                                       logger: Logger(label: "fleetd.provider")),
        environmentName: settings.environment, processEnvironment: settings.processEnvironment,
        onToolCall: { [metrics] report in metrics.toolCall(report) }, logger: logger
    )
    let flags = await reloader.snapshot.config.effectiveFlags(in: FlagContext(environment: settings.environment))
    logger.info("fleetd starting", metadata: [
        "fleet": "\(config.fleet.id)",
        "config": "\(settings.configPath)",
        "environment": "\(settings.environment ?? "(none)")",
        "flags": .dictionary(Dictionary(uniqueKeysWithValues: flags.map { ($0.name, .string("\($0.enabled ? "on" : "off") [\($0.rule)]")) })),
        "defaultModel": "\(dataPlane.router.configuration.defaultModel ?? "(none)")",
    ])

    // Who may call (README, "Authentication"): refuses to serve a non-loopback address openly.
    // With PostgreSQL, keys live in the shared store: made on one instance, they work on all.
    let keys = postgres.map { APIKeyStore(postgres: $0) } ?? APIKeyStore(database: dataPlane.database)
    let authenticator = try await Authenticator(sharedKey: config.security.apiKey, jwtSecret: config.security.jwtSecret,
                                            adminToken: settings.adminToken, keys: keys, logger: logger)
    try await authenticator.checkStartup(api: config.api)

    let api = LiveSetting(config.api)
    // Every reload and flag change from here on returns once the manager, the HTTP settings and
    // the log level run on it (set before any service can change the config).
    await reloader.setApplier(RunningConfigApplier(manager: manager, api: api))
    let flagChanges = FlagChangeLog()
    var services: [any Service] = [
        ConfigWatchService(reloader: reloader, logger: logger, flagChanges: flagChanges),
        HeartbeatService(manager: manager),
        BudgetAlertService(manager: manager, metrics: metrics, httpClient: httpClients.primary, logger: logger),
        ExpiredEntrySweeper(store: dataPlane.memory),
        WALCheckpointer(database: dataPlane.memory.database, logger: logger),
        dataPlane.records,
        PendingWritesService(costs: dataPlane.costs, quotas: dataPlane.quotas),
    ]
    if let shared = dataPlane.costs as? PostgresCostTracker {
        services.append(PostgresMaintenance(costs: shared))
    }
    if let postgres {
        services.append(SharedFlagListener(shared: SharedFlagChanges(store: postgres), reloader: reloader, logger: logger))
        services.append(SharedBreakers(store: postgres, health: dataPlane.router.health, logger: logger))
        services.append(SharedLearningReload(router: dataPlane.router, logger: logger))
    } else {
        // The SQLite file: what other processes on it learn (`fleetd feedback`, `fleetd mcp`) is merged in.
        services.append(LearningSyncService(router: dataPlane.router, logger: logger))
    }
    return FleetCore(config: config, reloader: reloader, dataPlane: dataPlane, manager: manager, authenticator: authenticator,
                     api: api, flagChanges: flagChanges, services: services)
}

func buildApplication(loaded: LoadedConfig, settings: ServiceSettings, metrics: FleetMetrics, httpClients: ProviderHTTPClients,
                      postgres: PostgresStore? = nil, logger: Logger) async throws -> some ApplicationProtocol {
    let core = try await buildCore(loaded: loaded, settings: settings, metrics: metrics, httpClients: httpClients, postgres: postgres, logger: logger)
    return try buildApplication(core: core, settings: settings, metrics: metrics, logger: logger)
}

/// The HTTP application on a built core (the tests keep the core to close its data plane after).
func buildApplication(core: FleetCore, settings: ServiceSettings, metrics: FleetMetrics, logger: Logger) throws -> some ApplicationProtocol {
    let (config, reloader, dataPlane, manager, authenticator, api) = (core.config, core.reloader, core.dataPlane, core.manager, core.authenticator, core.api)
    let costsOn: @Sendable () async -> Bool = { await manager.config.cost.enabled }
    let limiter = CallerRateLimiter()
    let router = Router(context: FleetRequestContext.self)
    router.add(middleware: ClientAddressMiddleware(api: api))
    router.add(middleware: RequestLogMiddleware(metrics: metrics))
    router.add(middleware: LiveCORSMiddleware(api: api))
    router.add(middleware: RateLimitMiddleware(api: api))
    // Routes that run or reveal work need a caller; /metrics needs one that sees every tenant.
    let costs = dataPlane.costs
    let pendingTokens: @Sendable (String, Date) async -> (tokens: Int, oldest: Date?) = { await costs.pendingTokens(keyId: $0, since: $1) }
    let guarded = router.group().add(middleware: APIAuthMiddleware(authenticator: authenticator, limiter: limiter, ledgerEnabled: costsOn,
                                                                    pendingTokens: pendingTokens))
    let fleetWide = router.group().add(middleware: APIAuthMiddleware(authenticator: authenticator, limiter: limiter, ledgerEnabled: costsOn,
                                                                      pendingTokens: pendingTokens, fullAccessOnly: true))
    // Liveness, open to load balancers: `/healthz` (Kubernetes' name) and `/health` (what LiteLLM
    // and most load balancers' defaults probe).
    router.get("healthz") { _, _ in HealthResponse(status: "ok") }
    router.get("health") { _, _ in HealthResponse(status: "ok") }
    // The loops the HTTP server and the provider client run on (both NIO's singleton group).
    let loopWatch = EventLoopWatch(group: MultiThreadedEventLoopGroup.singleton) { loop, stalledFor in
        if let stalledFor {
            logger.error("an event loop has stopped running", metadata: [
                "loop": "\(loop)", "for": "\(stalledFor.components.seconds) s",
                "effect": "connections on it hang; /readyz reports not ready; restart fleetd",
            ])
        } else {
            logger.notice("an event loop runs again", metadata: ["loop": "\(loop)"])
        }
    }
    router.get("readyz") { _, _ -> Response in
        // 200 when the store takes a write, some model can serve and every event loop runs; 503
        // with the reasons otherwise.
        var readiness = await manager.readiness()
        let stalled = loopWatch.problems()
        if !stalled.isEmpty {
            readiness.problems += stalled
            readiness.ready = false
            readiness.status = "not ready"
        }
        let body = (try? FastJSONEncoder().encode(readiness)) ?? []
        return Response(status: readiness.ready ? .ok : .serviceUnavailable, headers: [.contentType: "application/json"],
                        body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }
    fleetWide.get("metrics") { _, _ -> Response in
        await metrics.refreshGauges(manager, loopsStalled: loopWatch.stalled().count)
        return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                 body: .init(byteBuffer: ByteBuffer(string: metrics.render())))
    }
    let admin = router.group().add(middleware: AdminAuthMiddleware(token: settings.adminToken))
    let flagChanges = core.flagChanges
    FlagRoutes(reloader: reloader, environment: settings.environment, api: api, changes: flagChanges)
        .register(public: guarded, fleetWide: fleetWide, admin: admin)
    let site = try DashboardSite.bundled()
    if let missing = site.missing { logger.warning("no dashboard", metadata: ["reason": "\(missing)"]) }
    DashboardRoutes(manager: manager, live: metrics.live, site: site).register(open: router, fleetWide: fleetWide)
    AdminRoutes(reloader: reloader, logger: logger, flagChanges: flagChanges).register(admin: admin)
    KeyRoutes(authenticator: authenticator, manager: manager, api: api, logger: logger).register(admin: admin)
    TaskRoutes(manager: manager, metrics: metrics, api: api).register(guarded)
    FeedbackRoutes(manager: manager, api: api).register(guarded)
    let mcpSessions = MCPSessions(loopbackOnly: ["127.0.0.1", "::1", "localhost"].contains(config.api.host), logger: Logger(label: "fleetd.mcp")) { caller in
        FleetMCPServer(manager: manager, reloader: reloader, metrics: metrics, adminToken: settings.adminToken,
                       environment: settings.environment, caller: caller, flagChanges: flagChanges)
    }
    MCPHTTPRoutes(sessions: mcpSessions, maxBodyBytes: { api.value.maxBodyBytes },
                  requestCounter: KeyRequestCounter(keys: authenticator.keys, limiter: limiter)).register(guarded)
    let compat = CompatRoutes(manager: manager, metrics: metrics, api: api)
    compat.register(guarded)
    FleetRoutes(manager: manager, compat: compat).register(guarded)
    // After every route, so it wraps only the router's not-found answer: an unknown route's 404
    // names the path and what fleetd serves instead, in the caller's dialect.
    router.add(middleware: UnknownRouteMiddleware(served: ServedRoutes(router: router)))

    return Application(
        responder: RequestPhaseResponder(inner: router.buildResponder()),
        server: .http1OnConnectionLoops(configuration: .init(additionalChannelHandlers: [ClientDisconnect.Handler()])),
        // A backlog of 4,096 pending connections (Linux caps it at net.core.somaxconn).
        // Hummingbird's default is too small for bursts of new connections: the kernel drops the
        // SYNs that overflow it and a client then waits for its retransmit (docs/performance.md).
        configuration: .init(address: .hostname(config.api.host, port: config.api.port), serverName: "fleetd", backlog: 4_096),
        services: core.services + [LiveStatsSampler(manager: manager, live: metrics.live), loopWatch],
        onServerRunning: { channel in
            logger.notice("fleetd listening", metadata: ["address": "\(channel.localAddress.map { "\($0)" } ?? "?")"])
            // A reload then compares api.host / api.port with where fleetd really listens (port 0 picked one).
            if let address = channel.localAddress, let port = address.port {
                await reloader.listenerStarted(host: address.ipAddress ?? config.api.host, port: port)
            }
        },
        logger: logger
    )
}

struct HealthResponse: ResponseEncodable {
    var status: String
}
