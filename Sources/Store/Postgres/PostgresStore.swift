import FleetSupport
import Foundation
import Logging
import PostgresNIO
import Synchronization
import ServiceLifecycle

/// The shared PostgreSQL store: a `PostgresClient` (a pool of at most `poolSize` connections)
/// with the operations fleetd runs on it, each bounded by `operationTimeout`.
///
/// It is a `Service`: `fleetd serve` runs it in its `ServiceGroup` before the application, and
/// nothing can query it while ``run()`` is not running. Open it with ``open()`` (reachability
/// check, then the named migrations) once it runs.
public final class PostgresStore: Service, Sendable {
    public let configuration: PostgresConfiguration
    let client: PostgresClient
    let logger: Logger
    /// When an operation last got no answer by its deadline; cleared by the next answer.
    private let silentSince = Mutex<ContinuousClock.Instant?>(nil)

    public init(configuration: PostgresConfiguration, logger: Logger = Logger(label: "fleetd.postgres")) {
        self.configuration = configuration
        self.logger = logger
        self.client = PostgresClient(configuration: Self.clientConfiguration(configuration), backgroundLogger: logger)
    }

    /// Runs the connection pool until cancelled (or until graceful shutdown cancels it).
    public func run() async throws {
        await cancelWhenGracefulShutdown { await self.client.run() }
    }

    /// Checks that the server answers (a connection of its own, so the error is the real one:
    /// refused, unknown host, bad password), then brings the schema up to date.
    /// - Throws: ``PostgresStoreError`` `.unreachable` naming host and port, `.schemaTooNew`.
    public func open() async throws {
        try await checkReachable()
        try await migrate()
    }

    /// One connection, opened and closed, within `operationTimeout`.
    public func checkReachable() async throws {
        let c = configuration
        var connection = PostgresConnection.Configuration(host: c.host, port: c.port, username: c.username, password: c.password,
                                                          database: c.database, tls: try Self.connectionTLS(c.tls))
        connection.options.connectTimeout = .seconds(Int64(max(1, c.operationTimeout.components.seconds)))
        let logger = self.logger, settings = connection
        do {
            try await Self.withTimeout(c.operationTimeout, "connecting") {
                let conn = try await PostgresConnection.connect(configuration: settings, id: 0, logger: logger)
                try await conn.close()
            }
        } catch let error as PostgresStoreError where error.code == .timedOut {
            throw PostgresStoreError(.unreachable, "cannot reach PostgreSQL at \(c.address): no answer within \(c.operationTimeout)")
        } catch {
            throw PostgresStoreError(.unreachable, "cannot reach PostgreSQL at \(c.address) (database \(c.database), user \(c.username)): \(Self.describe(error))")
        }
    }

    /// Runs `body` on one pooled connection inside `BEGIN … COMMIT` (rolled back when it throws),
    /// retrying the whole transaction on a deadlock or serialization failure. Errors thrown by
    /// `body` come out as they are (not wrapped); database errors as ``PostgresStoreError``.
    func transaction<T: Sendable>(_ what: String, _ body: @escaping @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        var attempt = 0
        while true {
            attempt += 1
            do {
                return try await withConnection(what) { connection in
                    try await connection.query("BEGIN", logger: self.logger)
                    do {
                        let value = try await body(connection)
                        try await connection.query("COMMIT", logger: self.logger)
                        return value
                    } catch {
                        _ = try? await connection.query("ROLLBACK", logger: self.logger)
                        throw error
                    }
                }
            } catch let error as PSQLError where attempt < 5 && Self.isRetryable(error) {
                logger.debug("retrying a transaction", metadata: ["what": "\(what)", "sqlState": "\(error.serverInfo?[.sqlState] ?? "")"])
                continue
            }
        }
    }

    /// Runs `body` on one pooled connection, within `operationTimeout` (the wait for a
    /// connection included). PostgreSQL's errors become ``PostgresStoreError``s.
    ///
    /// A connection that gives no answer by the deadline is closed: the server rolls back what it
    /// had not committed (a caller told "timed out" must not find the write done later), and the
    /// pool replaces the connection instead of keeping one stuck on a server that may never
    /// answer it (a network partition).
    ///
    /// - Parameter optional: the caller has a fallback (the last figures read, a cache miss). While
    ///   the server is silent (an operation got no answer by its deadline within the last
    ///   `operationTimeout`, and none has been answered since), such an operation fails at once
    ///   instead of waiting out its own deadline, so that a task waits for the store once (its
    ///   reservation), not once per read before it.
    func withConnection<T: Sendable>(_ what: String, optional: Bool = false,
                                     _ body: @escaping @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        let client = self.client, address = configuration.address, timeout = configuration.operationTimeout
        if optional, let since = silentSince.withLock({ $0 }), ContinuousClock.now - since < timeout {
            throw PostgresStoreError(.timedOut, "\(what) on PostgreSQL at \(address): not tried, the server has not answered since \(Self.ago(since))")
        }
        let inUse = ConnectionInUse()
        do {
            let value = try await withDeadline(timeout, timedOut: {
                inUse.close()
                self.silentSince.withLock { $0 = .now }
                return PostgresStoreError(.timedOut, "\(what) on PostgreSQL at \(address): no answer within \(timeout)")
            }) {
                try await client.withConnection { connection in
                    try inUse.hold(connection)
                    defer { inUse.release() }
                    return try await body(connection)
                }
            }
            silentSince.withLock { $0 = nil }
            return value
        } catch let error as PSQLError where !Self.isRetryable(error) {
            throw PostgresStoreError(.failed, "\(what) on PostgreSQL at \(address) failed: \(Self.describe(error))")
        }
    }

    /// "1.2 s ago", for messages.
    private static func ago(_ instant: ContinuousClock.Instant) -> String {
        String(format: "%.1f s ago", (ContinuousClock.now - instant).timeInterval)
    }

    /// Deadlock (40P01) or serialization failure (40001): the transaction may simply run again.
    static func isRetryable(_ error: PSQLError) -> Bool {
        guard let state = error.serverInfo?[.sqlState] else { return false }
        return state == "40P01" || state == "40001"
    }

    /// PSQLError's own description hides everything; this says what happened without bound values.
    static func describe(_ error: any Error) -> String {
        guard let error = error as? PSQLError else { return "\(error)" }
        if let message = error.serverInfo?[.message] {
            return "\(message) (SQLSTATE \(error.serverInfo?[.sqlState] ?? "?"))"
        }
        if let underlying = error.underlying { return "\(error.code): \(underlying)" }
        return "\(error.code)"
    }

    /// `body`, or `PostgresStoreError.timedOut` once `timeout` has passed. At the deadline `body`
    /// is cancelled and not waited for (``withDeadline(_:timedOut:_:)``): a query to a server that
    /// stopped answering does not end when cancelled, and the operator's `timeoutSeconds` holds.
    static func withTimeout<T: Sendable>(_ timeout: Duration, _ what: String, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
        try await withDeadline(timeout, timedOut: { PostgresStoreError(.timedOut, "\(what): no answer within \(timeout)") }, body)
    }

    private static func clientConfiguration(_ c: PostgresConfiguration) -> PostgresClient.Configuration {
        let tls: PostgresClient.Configuration.TLS = switch c.tls {
        case .disable: .disable
        case .prefer: .prefer(.makeClientConfiguration())
        case .require: .require(.makeClientConfiguration())
        }
        var configuration = PostgresClient.Configuration(host: c.host, port: c.port, username: c.username, password: c.password,
                                                         database: c.database, tls: tls)
        configuration.options.maximumConnections = max(1, c.poolSize)
        configuration.options.connectTimeout = c.operationTimeout
        return configuration
    }

    private static func connectionTLS(_ mode: PostgresConfiguration.TLSMode) throws -> PostgresConnection.Configuration.TLS {
        switch mode {
        case .disable: .disable
        case .prefer: .prefer(try NIOSSLContext(configuration: .makeClientConfiguration()))
        case .require: .require(try NIOSSLContext(configuration: .makeClientConfiguration()))
        }
    }
}

/// The connection an operation holds, so that its deadline can close it.
private final class ConnectionInUse: Sendable {
    private enum State {
        case waiting
        case holding(PostgresConnection)
        case released
        case pastDeadline
    }

    private let state = Mutex(State.waiting)

    /// The operation got its connection. Past the deadline (the pool handed it over just as the
    /// wait for it ended), the connection is closed instead of used: nobody waits for the answer.
    func hold(_ connection: PostgresConnection) throws {
        let late = state.withLock { state in
            if case .pastDeadline = state { return true }
            state = .holding(connection)
            return false
        }
        if late {
            connection.close().whenComplete { _ in }
            throw CancellationError()
        }
    }

    func release() {
        state.withLock { $0 = .released }
    }

    /// The deadline passed: closes the connection held now, if any (without waiting: the server
    /// may not answer).
    func close() {
        let held: PostgresConnection? = state.withLock { state in
            defer { state = .pastDeadline }
            if case .holding(let connection) = state { return connection }
            return nil
        }
        held?.close().whenComplete { _ in }
    }
}
