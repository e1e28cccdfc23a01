import Foundation

/// Where and how fleetd reaches a shared PostgreSQL store (`database.type: postgres`).
///
/// Several fleetd instances pointed at one database share the cost ledger, the budget totals and
/// the reservations held against them (see ``PostgresCostTracker``).
public struct PostgresConfiguration: Sendable, Hashable {
    /// How the connection uses TLS: `disable`, `prefer` (TLS when the server offers it) or `require`.
    public enum TLSMode: String, Sendable, Hashable, Codable, CaseIterable {
        case disable, prefer, require
    }

    public var host: String
    public var port: Int
    public var database: String
    public var username: String
    /// From `DB_PASSWORD` (or the file's `database.password`, with a warning); `nil` for none.
    public var password: String?
    public var tls: TLSMode
    /// The most connections this instance opens to the server.
    public var poolSize: Int
    /// How long a reservation this instance holds stays valid without being renewed. A live
    /// instance renews its leases every third of this; the reservations of an instance that died
    /// are billed at their estimate once their lease has run out (by whichever instance sweeps).
    public var reservationLease: Duration
    /// The longest one store operation (waiting for a connection included) may take before it
    /// fails: with the server gone, calls that need a reservation fail closed after this.
    public var operationTimeout: Duration
    /// Names this process in `cost_reservations.instance_id`.
    public var instanceId: String

    public init(host: String = "localhost", port: Int = 5432, database: String = "fleetd", username: String = "fleetd",
                password: String? = nil, tls: TLSMode = .prefer, poolSize: Int = 10,
                reservationLease: Duration = .seconds(60), operationTimeout: Duration = .seconds(5),
                instanceId: String = PostgresConfiguration.makeInstanceId()) {
        self.host = host
        self.port = port
        self.database = database
        self.username = username
        self.password = password
        self.tls = tls
        self.poolSize = poolSize
        self.reservationLease = reservationLease
        self.operationTimeout = operationTimeout
        self.instanceId = instanceId
    }

    /// `host:port`, as errors name the server.
    public var address: String { "\(host):\(port)" }

    /// Host name, process id and a random suffix: unique per run.
    public static func makeInstanceId() -> String {
        "\(ProcessInfo.processInfo.hostName)-\(ProcessInfo.processInfo.processIdentifier)-\(UInt32.random(in: 0...UInt32.max))"
    }
}
