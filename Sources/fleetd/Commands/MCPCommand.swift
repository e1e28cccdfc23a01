import ArgumentParser
import Foundation
import Logging
import MCP
import Providers
import ServiceLifecycle

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
        let httpClient = ProviderClientFactory.makeHTTPClient()
        let core: FleetCore
        do {
            core = try await buildCore(loaded: loaded, settings: settings, metrics: metrics, httpClient: httpClient, logger: logger)
        } catch {
            try? await httpClient.shutdown()
            throw error
        }
        let mcp = FleetMCPServer(manager: core.manager, reloader: core.reloader, metrics: metrics, adminToken: settings.adminToken,
                                 environment: settings.environment, caller: nil)
        var services = core.services.map { ServiceGroupConfiguration.ServiceConfiguration(service: $0) }
        // The client closing standard input ends the session, and with it fleetd.
        services.append(.init(service: StdioMCPService(server: mcp, logger: logger), successTerminationBehavior: .gracefullyShutdownGroup))
        var group = ServiceGroupConfiguration(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        group.maximumGracefulShutdownDuration = .seconds(config.api.drainTimeoutSeconds)
        do {
            try await ServiceGroup(configuration: group).run()
        } catch {
            try? await httpClient.shutdown()
            throw error
        }
        try await httpClient.shutdown()
    }
}

/// Runs the MCP server on standard input and output until the client closes the session.
struct StdioMCPService: Service {
    let server: FleetMCPServer
    let logger: Logger

    func run() async throws {
        let mcp = await server.makeServer()
        try await mcp.start(transport: StdioTransport(logger: logger))
        logger.info("MCP server on stdio")
        await withGracefulShutdownHandler {
            await mcp.waitUntilCompleted()
        } onGracefulShutdown: {
            Task { await mcp.stop() }
        }
        logger.info("MCP session ended")
    }
}
