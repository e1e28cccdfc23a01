import ArgumentParser
import Foundation
import Hummingbird
import Logging
import Providers
import ServiceLifecycle

/// `fleetd [serve] --config PATH`: runs fleetd as a long-running service.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the fleet service (the default command)."
    )

    @OptionGroup var options: ConfigOptions

    @Option(help: "Address to listen on (overrides api.host).")
    var host: String?

    @Option(help: "Port to listen on (overrides api.port; 0 picks a free port).")
    var port: Int?

    @OptionGroup var service: ServiceOptions

    func run() async throws {
        let loaded = try options.load()
        var config = loaded.config
        if let host { config.api.host = host }
        if let port {
            guard (0...65_535).contains(port) else { throw ValidationError("--port must be between 0 and 65535") }
            config.api.port = port
        }
        let dataDirectory = try service.dataDirectory()
        guard config.database.type == .sqlite else {
            throw UserError("database.type '\(config.database.type.rawValue)' is not supported yet: fleetd's store runs on SQLite. Set database.type: sqlite (and database.filename) in \(options.path)")
        }
        try LoggingSetup.bootstrap(config.logging, dataDirectory: dataDirectory)
        let logger = Logger(label: "fleetd")
        for warning in loaded.warnings {
            logger.warning("\(warning)")
        }
        let settings = ServiceSettings(configPath: options.path, dataDirectory: dataDirectory, environmentOption: service.environment,
                                       processEnvironment: ProcessInfo.processInfo.environment)
        var effective = loaded
        effective.config = config
        let metrics = FleetMetrics()
        metrics.bootstrapMetricsSystem()
        let httpClient = ProviderClientFactory.makeHTTPClient()
        let app: any ApplicationProtocol
        do {
            app = try await buildApplication(loaded: effective, settings: settings, metrics: metrics, httpClient: httpClient, logger: logger)
        } catch {
            // The client must be shut down before it goes, or it traps.
            try? await httpClient.shutdown()
            throw error
        }
        // SIGTERM/SIGINT: stop accepting, give in-flight tasks and streams the drain timeout, then stop.
        var group = ServiceGroupConfiguration(services: [app], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        group.maximumGracefulShutdownDuration = .seconds(config.api.drainTimeoutSeconds)
        do {
            try await ServiceGroup(configuration: group).run()
        } catch {
            try? await httpClient.shutdown()
            throw error
        }
        try await httpClient.shutdown()
        logger.info("fleetd stopped")
    }
}

/// What the service was started with, beyond the config file.
struct ServiceSettings: Sendable {
    var configPath: String
    /// Selects the flags' environment overrides; `nil` applies none.
    var environment: String?
    var dataDirectory: URL
    /// Bearer token for admin routes; `nil` turns them off.
    var adminToken: String?
    /// Where provider keys and the config's environment overrides are read from.
    var processEnvironment: [String: String] = ProcessInfo.processInfo.environment
}

extension ServiceSettings {
    /// The settings `fleetd serve` runs with: `--environment`, else `FLEETD_ENVIRONMENT`; the admin
    /// token from `FLEETD_ADMIN_TOKEN`; keys and overrides from the same `processEnvironment`.
    init(configPath: String, dataDirectory: URL, environmentOption: String?, processEnvironment: [String: String]) {
        self.init(configPath: configPath, environment: environmentOption ?? processEnvironment["FLEETD_ENVIRONMENT"],
                  dataDirectory: dataDirectory, adminToken: processEnvironment["FLEETD_ADMIN_TOKEN"],
                  processEnvironment: processEnvironment)
    }
}
