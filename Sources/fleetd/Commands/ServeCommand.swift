import ArgumentParser
import AsyncHTTPClient
import Fleet
import Foundation
import Hummingbird
import Logging
import NIOCore
import Providers
import ServiceLifecycle
import FleetSupport
import Store

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
        // A SIGHUP (a `systemctl reload` just after a start) must not kill fleetd before the
        // config watcher traps it.
        signal(SIGHUP, SIG_IGN)
        let loaded = try options.load()
        if let port, !(0...65_535).contains(port) { throw ValidationError("--port must be between 0 and 65535") }
        let listen = ConfigReloader.ListenOverride(host: host, port: port)
        var config = loaded.config
        listen.apply(to: &config)
        let dataDirectory = try service.dataDirectory()
        guard config.database.type != .mysql else {
            throw UserError("database.type 'mysql' is not supported: fleetd's store runs on SQLite or PostgreSQL. Set database.type: sqlite or postgres in \(options.path)")
        }
        try LoggingSetup.bootstrap(config.logging, dataDirectory: dataDirectory)
        let logger = Logger(label: "fleetd")
        for warning in loaded.warnings {
            logger.warning("\(warning)")
        }
        if let files = OpenFileLimit.raiseToHardLimit() {
            // Two per open stream to a plain-HTTP provider (client and provider connections), about
            // one to an HTTPS provider (HTTP/2 carries a hundred streams per connection).
            logger.info("open file limit", metadata: ["soft": "\(files.soft)", "hard": "\(files.hard)",
                                                      "streams": "about \(files.soft / 2) at once over plain HTTP, \(files.soft) over HTTP/2"])
        }
        var settings = ServiceSettings(configPath: options.path, dataDirectory: dataDirectory, environmentOption: service.environment,
                                       processEnvironment: ProcessInfo.processInfo.environment)
        settings.listenOverride = listen
        var effective = loaded
        effective.config = config
        let metrics = FleetMetrics()
        metrics.bootstrapMetricsSystem()
        if config.database.type == .postgres {
            return try await runShared(loaded: effective, settings: settings, metrics: metrics, logger: logger)
        }
        let httpClients = ProviderClientFactory.makeHTTPClients(trust: try providerTrust(settings.processEnvironment, logger: logger))
        let app: any ApplicationProtocol
        do {
            app = try await buildApplication(loaded: effective, settings: settings, metrics: metrics, httpClients: httpClients, logger: logger)
        } catch {
            // The client must be shut down before it goes, or it traps.
            try? await httpClients.shutdown()
            throw error
        }
        // SIGTERM/SIGINT: stop accepting, give in-flight tasks and streams the drain timeout, then stop.
        // The drain notice last: the group shuts services down in reverse order, so it hears first.
        let drain = DrainNoticeService(drain: metrics.drain, timeout: .seconds(config.api.drainTimeoutSeconds), logger: logger)
        var group = ServiceGroupConfiguration(services: [app, drain], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        group.maximumGracefulShutdownDuration = .seconds(config.api.drainTimeoutSeconds)
        try await Self.naming(config.api) { try await runGroup(group, thenClose: httpClients) }
        logger.info("fleetd stopped")
    }

    /// A failure to listen, as one line that names the address (NIO's says only "bind(…): Address
    /// already in use").
    static func naming(_ api: APISection, _ body: () async throws -> Void) async throws {
        do {
            try await body()
        } catch let error as IOError where [EADDRINUSE, EACCES, EADDRNOTAVAIL].contains(error.errnoCode) {
            let reason = switch error.errnoCode {
            case EADDRINUSE: "the address is in use (another fleetd, or another program, listens there): choose another with --port or api.port"
            case EACCES: "permission denied (ports below 1024 need privileges)"
            default: "no interface of this machine has that address"
            }
            throw UserError("cannot listen on \(api.host):\(api.port): \(reason)")
        }
    }
}

extension ServeCommand {
    /// `database.type: postgres`: the server must answer before anything starts (else one error
    /// naming host and port, exit 1); then the connection pool runs as the first service of the
    /// group and the application is built (schema migrated) and run inside it, after the pool.
    private func runShared(loaded: LoadedConfig, settings: ServiceSettings, metrics: FleetMetrics, logger: Logger) async throws {
        let config = loaded.config
        let trust = try providerTrust(settings.processEnvironment, logger: logger)
        let postgres = PostgresStore(configuration: DataPlane.postgresConfiguration(for: config), logger: Logger(label: "fleetd.postgres"))
        do {
            try await postgres.checkReachable()
        } catch let error as PostgresStoreError {
            throw UserError(error.message)
        }
        let httpClients = ProviderClientFactory.makeHTTPClients(trust: trust)
        let application = ApplicationAfterStore {
            try await buildApplication(loaded: loaded, settings: settings, metrics: metrics, httpClients: httpClients, postgres: postgres, logger: logger)
        }
        let drain = DrainNoticeService(drain: metrics.drain, timeout: .seconds(config.api.drainTimeoutSeconds), logger: logger)
        var group = ServiceGroupConfiguration(services: [postgres, application, drain], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        group.maximumGracefulShutdownDuration = .seconds(config.api.drainTimeoutSeconds)
        try await Self.naming(config.api) { try await runGroup(group, thenClose: httpClients) }
        logger.info("fleetd stopped")
    }
}

/// Runs the service group to its end, then shuts the providers' HTTP client down, whether the
/// group ended cleanly or threw (`serve` on SQLite or PostgreSQL, and `mcp`).
func runGroup(_ group: ServiceGroupConfiguration, thenClose httpClients: ProviderHTTPClients) async throws {
    do {
        try await ServiceGroup(configuration: group).run()
    } catch {
        try? await httpClients.shutdown()
        throw error
    }
    try await httpClients.shutdown()
}

/// The application as a service that builds itself when the group runs it: with PostgreSQL the
/// build needs the connection pool, which only works while its `run()` does.
struct ApplicationAfterStore: Service {
    let build: @Sendable () async throws -> any ApplicationProtocol

    func run() async throws {
        try await build().run()
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
    /// `--host` / `--port`, kept over the file's values on every reload.
    var listenOverride = ConfigReloader.ListenOverride()
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

/// The CA certificates provider connections trust (`serve` and `mcp`): the system's, plus the PEM
/// file `FLEETD_EXTRA_CA_CERTS` names. A file that cannot be used stops fleetd with one line.
func providerTrust(_ environment: [String: String], logger: Logger) throws -> ProviderTrust {
    let trust: ProviderTrust
    do {
        trust = try ProviderTrust.fromEnvironment(environment)
    } catch {
        throw UserError(error.message)
    }
    if let path = trust.path {
        logger.notice("extra CA certificates trusted for provider connections",
                      metadata: ["file": "\(path)", "certificates": "\(trust.extraCount)", "variable": "\(ProviderTrust.environmentVariable)"])
    }
    return trust
}
