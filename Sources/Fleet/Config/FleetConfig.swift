import FleetSupport
import Routing
import Store
import Streaming

/// The whole v1.0.5 configuration file, composed from the components' own configurations.
///
/// The v1.0.5 schema is a superset of v1.0.4's: every v1.0.4 file loads unchanged, and the new
/// sections (`features`, `featureOverrides`, `routing`, `streaming`, `quotas`, `memory`)
/// take their documented defaults when absent, which switch every new behaviour off.
public struct FleetConfig: Sendable {
    public var fleet: FleetSection
    public var agents: [AgentSpec]
    public var database: DatabaseSection
    public var logging: LoggingSection
    public var api: APISection
    public var security: SecuritySection
    /// v1.0.4's `ai.model`: the one model v1.0.4 called. Kept; `routing.defaultModel` supersedes it.
    public var legacyAIModel: String?
    public var features: FeatureFlags
    /// `routing`: models, strategy, health, the default model and the last resort.
    public var routing: RoutingConfiguration
    /// `routing.costTracking`: budgets and alerts.
    public var cost: CostConfiguration
    /// `routing.quotas`: per-provider request and token limits.
    public var quotas: QuotaConfiguration
    /// `streaming`: buffers, backpressure, timeouts, retries.
    public var streaming: StreamingConfiguration
    /// `memory`: per-partition TTL overrides for the memory store.
    public var memory: MemoryStoreConfiguration

    public init(
        fleet: FleetSection = FleetSection(),
        agents: [AgentSpec] = [],
        database: DatabaseSection = DatabaseSection(),
        logging: LoggingSection = LoggingSection(),
        api: APISection = APISection(),
        security: SecuritySection = SecuritySection(),
        legacyAIModel: String? = nil,
        features: FeatureFlags = .allOff,
        routing: RoutingConfiguration = RoutingConfiguration(enabled: false),
        cost: CostConfiguration = CostConfiguration(enabled: false),
        quotas: QuotaConfiguration = QuotaConfiguration(),
        streaming: StreamingConfiguration = StreamingConfiguration(),
        memory: MemoryStoreConfiguration = MemoryStoreConfiguration()
    ) {
        self.fleet = fleet
        self.agents = agents
        self.database = database
        self.logging = logging
        self.api = api
        self.security = security
        self.legacyAIModel = legacyAIModel
        self.features = features
        self.routing = routing
        self.cost = cost
        self.quotas = quotas
        self.streaming = streaming
        self.memory = memory
    }
}

/// `fleet`: identity and limits of this fleet.
public struct FleetSection: Sendable, Hashable, Codable {
    public var id: String = "fleetd"
    public var name: String = "fleetd"
    /// Hard cap on running agents, whatever `agents[].count` asks for.
    public var maxAgents: Int = 10
    /// Milliseconds between agent health checks.
    public var heartbeatInterval: Int = 30_000
    /// Milliseconds a task may run before it is cancelled.
    public var taskTimeout: Int = 300_000
    public init() {}
}

/// `agents[]`: a kind of agent and how many to run.
public struct AgentSpec: Sendable, Hashable, Codable {
    public var type: String
    public var count: Int
    /// Free-form settings for this agent type (system prompt, default task type, allowed models …).
    public var config: [String: ConfigValue]

    public init(type: String, count: Int = 1, config: [String: ConfigValue] = [:]) {
        self.type = type
        self.count = count
        self.config = config
    }
}

/// `database`: where fleetd keeps its store. `sqlite` (the default) is one file for one process;
/// `postgres` is a server several fleetd instances share (the ledger, budgets and reservations;
/// docs/store.md, "PostgreSQL").
public struct DatabaseSection: Sendable, Hashable, Codable {
    public enum Kind: String, Sendable, Hashable, Codable, CaseIterable {
        case sqlite, postgres, mysql
    }
    /// How a PostgreSQL connection uses TLS.
    public enum TLSMode: String, Sendable, Hashable, Codable, CaseIterable {
        case disable, prefer, require
    }
    public var type: Kind = .sqlite
    /// SQLite file, relative to the data directory unless absolute.
    public var filename: String = "fleetd.sqlite"
    public var host: String?
    public var port: Int?
    public var database: String?
    public var username: String?
    /// Accepted for v1.0.4 compatibility; use the `DB_PASSWORD` environment variable instead.
    public var password: String?
    /// PostgreSQL: TLS mode (`DB_TLS`).
    public var tls: TLSMode = .prefer
    /// PostgreSQL: the most connections one instance opens (`DB_POOL_SIZE`).
    public var poolSize: Int = 10
    /// PostgreSQL: seconds a reservation stays valid without its instance renewing it; a dead
    /// instance's reservations are billed at their estimate after this.
    public var reservationLeaseSeconds: Int = 60
    /// PostgreSQL: seconds one store operation may take (with the server gone, tasks that need a
    /// reservation fail after this).
    public var timeoutSeconds: Double = 5
    public init() {}
}

/// `logging`.
public struct LoggingSection: Sendable, Hashable, Codable {
    public enum Level: String, Sendable, Hashable, Codable, CaseIterable {
        case trace, debug, info, notice, warning, warn, error, critical
    }
    public enum Format: String, Sendable, Hashable, Codable, CaseIterable {
        case json, text, pretty, simple
    }
    public enum Output: String, Sendable, Hashable, Codable, CaseIterable {
        case console, file
    }
    public var level: Level = .info
    public var format: Format = .json
    public var outputs: [Output] = [.console]
    /// Log file when `outputs` contains `file`, relative to the data directory.
    public var file: String = "fleetd.log"
    public init() {}
}

/// `api`: the HTTP server.
public struct APISection: Sendable, Hashable, Codable {
    public var host: String = "127.0.0.1"
    public var port: Int = 8080
    /// Allowed CORS origins; empty means no CORS headers. `cors: true` in v1.0.4 means `*`.
    public var corsOrigins: [String] = []
    /// On a loopback `host`, the names requests may carry in `Host` besides this machine's own
    /// (a reverse proxy on this machine that passes its public name); `*` allows any. Others get
    /// 403: a web page whose DNS name is rebound to 127.0.0.1 sends its own.
    public var allowedHosts: [String] = []
    public var rateLimit: RateLimit = RateLimit()
    /// Reverse proxies (addresses and CIDR blocks) whose `X-Forwarded-For` or `Forwarded` header
    /// says which client a request is from: for the rate limit and the request log. Empty (the
    /// default): the TCP peer is the client and those headers are ignored, as they are from any
    /// peer not listed.
    public var trustedProxies: [IPNetwork] = []
    /// Largest request body accepted; larger ones get 413. 16 MiB: images travel in the body as
    /// base64 (a phone photo is 2–5 MB), and the compatible endpoints must take what clients send
    /// OpenAI and Anthropic (whose own limits are higher still).
    public var maxBodyBytes: Int = 16_777_216
    /// Largest number of tasks waiting for an agent; beyond it, 429 with Retry-After.
    public var maxQueuedTasks: Int = 1_000
    /// Seconds in-flight tasks and streams get to finish on SIGTERM.
    public var drainTimeoutSeconds: Int = 30
    /// Names clients of the OpenAI- and Anthropic-compatible endpoints may send as `model`, each
    /// meaning an agent type and a model (`auto`, or a configured model's name).
    public var modelAliases: [String: ModelAlias] = [:]

    /// What a model alias stands for: its agent type (`nil`: the request's or the first type) and
    /// model (`nil` or `auto`: the router chooses).
    public struct ModelAlias: Sendable, Hashable, Codable {
        public var agentType: String?
        public var model: String?
        public init(agentType: String? = nil, model: String? = nil) {
            self.agentType = agentType
            self.model = model
        }
    }

    /// Serve a non-loopback `host` with no credential configured (no `API_KEY`, `JWT_SECRET` or
    /// virtual key): anyone who reaches the port may run tasks. Off by default: fleetd refuses to
    /// start that way unless this says so.
    public var allowUnauthenticated: Bool = false

    public struct RateLimit: Sendable, Hashable, Codable {
        public var windowMs: Int = 60_000
        /// Requests per window per client; 0 turns the limit off.
        public var max: Int = 0
        public init() {}
    }
    public init() {}
}

/// `security`.
public struct SecuritySection: Sendable, Hashable, Codable {
    /// v1.0.4 kept keys here; fleetd reads them from `API_KEY` and `JWT_SECRET` instead and warns.
    public var apiKey: String?
    public var jwtSecret: String?
    public var encryption: Encryption?

    public struct Encryption: Sendable, Hashable, Codable {
        public var algorithm: String = "aes-256-gcm"
        public var keyLength: Int = 32
        public init() {}
    }
    public init() {}
}
