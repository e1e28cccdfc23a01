import ArgumentParser
import Foundation
import Logging
import Fleet
import MCP
import Providers
import ServiceLifecycle
import Store

/// `fleetd mcp`: fleetd as an MCP server over stdio, for Claude Desktop, Claude Code and other
/// MCP clients that start their servers as subprocesses. The same fleet as `serve` (agents,
/// router, budgets, store, reloads), without the HTTP port. Standard output carries the protocol
/// only; logs go to standard error (and the log file when configured).
struct MCPCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mcp",
        abstract: "Serve fleetd's tools to an MCP client over stdio."
    )

    @OptionGroup var options: ConfigOptions

    @OptionGroup var service: ServiceOptions

    func run() async throws {
        let loaded = try options.load()
        let config = loaded.config
        let dataDirectory = try service.dataDirectory()
        // Console logs go to standard error (LoggingSetup), never to the protocol's standard output.
        try LoggingSetup.bootstrap(config.logging, dataDirectory: dataDirectory)
        let logger = Logger(label: "fleetd.mcp")
        for warning in loaded.warnings { logger.warning("\(warning)") }
        let settings = ServiceSettings(configPath: options.path, dataDirectory: dataDirectory, environmentOption: service.environment,
                                       processEnvironment: ProcessInfo.processInfo.environment)
        let metrics = FleetMetrics()
        guard config.database.type != .mysql else {
            throw UserError("database.type 'mysql' is not supported: fleetd's store runs on SQLite or PostgreSQL. Set database.type: sqlite or postgres in \(options.path)")
        }
        // With PostgreSQL the server must answer first; its pool then runs ahead of the fleet.
        var postgres: PostgresStore?
        if config.database.type == .postgres {
            let store = PostgresStore(configuration: DataPlane.postgresConfiguration(for: config), logger: Logger(label: "fleetd.postgres"))
            do {
                try await store.checkReachable()
            } catch let error as PostgresStoreError {
                throw UserError(error.message)
            }
            postgres = store
        }
        let httpClients = ProviderClientFactory.makeHTTPClients(trust: try providerTrust(settings.processEnvironment, logger: logger))
        let fleet = MCPFleet(logger: logger) { [postgres] in
            let core = try await buildCore(loaded: loaded, settings: settings, metrics: metrics, httpClients: httpClients, postgres: postgres, logger: logger)
            let server = FleetMCPServer(manager: core.manager, reloader: core.reloader, metrics: metrics, adminToken: settings.adminToken,
                                        environment: settings.environment, caller: nil)
            return (core.services, server)
        }
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = postgres.map { [.init(service: $0)] } ?? []
        services.append(.init(service: fleet, successTerminationBehavior: .gracefullyShutdownGroup))
        var group = ServiceGroupConfiguration(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        group.maximumGracefulShutdownDuration = .seconds(config.api.drainTimeoutSeconds)
        try await runGroup(group, thenClose: httpClients)
    }
}

/// The fleet behind `fleetd mcp`: built once the store runs, then its background services and the
/// stdio server in a group of their own; the client closing standard input ends it.
struct MCPFleet: Service {
    let logger: Logger
    let build: @Sendable () async throws -> ([any Service], FleetMCPServer)

    func run() async throws {
        let (background, server) = try await build()
        var services = background.map { ServiceGroupConfiguration.ServiceConfiguration(service: $0) }
        services.append(.init(service: StdioMCPService(server: server, logger: logger), successTerminationBehavior: .gracefullyShutdownGroup))
        try await ServiceGroup(configuration: ServiceGroupConfiguration(services: services, logger: logger)).run()
    }
}

/// Runs the MCP server on standard input and output until the client closes the session.
struct StdioMCPService: Service {
    let server: FleetMCPServer
    let logger: Logger

    func run() async throws {
        let mcp = await server.makeServer()
        try await mcp.start(transport: StdioMCPTransport(logger: logger))
        logger.info("MCP server on stdio")
        await withGracefulShutdownHandler {
            await mcp.waitUntilCompleted()
        } onGracefulShutdown: {
            Task { await mcp.stop() }
        }
        // Tool calls still running have no one to answer any more.
        server.running.cancelAll()
        logger.info("MCP session ended")
    }
}
