import Yams

/// An environment variable that overrode a value the config file sets to something else: the
/// file says one thing, fleetd runs on the variable's. Names only (the variable and the setting's
/// path), never a value: some are secrets (`DB_PASSWORD`, `API_KEY`, `JWT_SECRET`).
public struct EnvironmentOverride: Sendable, Hashable, CustomStringConvertible {
    /// The variable, e.g. `RATE_LIMIT_MAX`.
    public var variable: String
    /// The setting's path in the file, e.g. `api.rateLimit.max`.
    public var setting: String

    public init(variable: String, setting: String) {
        self.variable = variable
        self.setting = setting
    }

    public var description: String { "\(variable) overrides \(setting)" }
}

extension EnvironmentOverrides {
    /// One variable of ``apply(_:to:sink:)``: the setting it overrides, and whether two configs
    /// differ there.
    struct Target: Sendable {
        let variable: String
        let setting: String
        let differs: @Sendable (FleetConfig, FleetConfig) -> Bool
    }

    private static func target<Value: Equatable>(_ variable: String, _ setting: String,
                                                 _ value: @escaping @Sendable (FleetConfig) -> Value) -> Target {
        Target(variable: variable, setting: setting, differs: { value($0) != value($1) })
    }

    /// Every variable ``apply(_:to:sink:)`` reads, with the setting it overrides (keep the two in step).
    static let targets: [Target] = [
        target("FLEET_ID", "fleet.id") { $0.fleet.id },
        target("FLEET_NAME", "fleet.name") { $0.fleet.name },
        target("MAX_AGENTS", "fleet.maxAgents") { $0.fleet.maxAgents },
        target("HEARTBEAT_INTERVAL", "fleet.heartbeatInterval") { $0.fleet.heartbeatInterval },
        target("TASK_TIMEOUT", "fleet.taskTimeout") { $0.fleet.taskTimeout },
        target("DB_TYPE", "database.type") { $0.database.type },
        target("DB_HOST", "database.host") { $0.database.host },
        target("DB_PORT", "database.port") { $0.database.port },
        target("DB_NAME", "database.database") { $0.database.database },
        target("DB_USER", "database.username") { $0.database.username },
        target("DB_PASSWORD", "database.password") { $0.database.password },
        target("DB_FILENAME", "database.filename") { $0.database.filename },
        target("DB_TLS", "database.tls") { $0.database.tls },
        target("DB_POOL_SIZE", "database.poolSize") { $0.database.poolSize },
        target("LOG_LEVEL", "logging.level") { $0.logging.level },
        target("LOG_FORMAT", "logging.format") { $0.logging.format },
        target("LOG_OUTPUTS", "logging.outputs") { $0.logging.outputs },
        target("API_PORT", "api.port") { $0.api.port },
        target("API_HOST", "api.host") { $0.api.host },
        target("API_CORS", "api.cors") { $0.api.corsOrigins },
        target("RATE_LIMIT_WINDOW", "api.rateLimit.windowMs") { $0.api.rateLimit.windowMs },
        target("RATE_LIMIT_MAX", "api.rateLimit.max") { $0.api.rateLimit.max },
        target("API_KEY", "security.apiKey") { $0.security.apiKey },
        target("JWT_SECRET", "security.jwtSecret") { $0.security.jwtSecret },
        target("FEATURE_MULTI_MODEL_ROUTER", "features.multiModelRouter") { $0.features.global["multiModelRouter"] },
        target("FEATURE_STREAMING", "features.streaming") { $0.features.global["streaming"] },
        target("ROUTING_ENABLED", "routing.enabled") { $0.routing.enabled },
        target("ROUTING_DEFAULT_MODEL", "routing.defaultModel") { $0.routing.defaultModel },
        target("COST_TRACKING_ENABLED", "routing.costTracking.enabled") { $0.cost.enabled },
        target("BUDGET_LIMIT_DAILY", "routing.costTracking.budgetLimits.daily") { $0.cost.budgetLimits.daily },
        target("BUDGET_LIMIT_WEEKLY", "routing.costTracking.budgetLimits.weekly") { $0.cost.budgetLimits.weekly },
        target("BUDGET_LIMIT_MONTHLY", "routing.costTracking.budgetLimits.monthly") { $0.cost.budgetLimits.monthly },
        target("BUDGET_ALERT_DAILY_PERCENT", "routing.costTracking.alertThresholds.dailyPercent") { $0.cost.alertThresholds.dailyPercent },
        target("BUDGET_ALERT_MONTHLY_PERCENT", "routing.costTracking.alertThresholds.monthlyPercent") { $0.cost.alertThresholds.monthlyPercent },
        target("STREAMING_ENABLED", "streaming.enabled") { $0.streaming.enabled },
        target("STREAMING_BUFFER_SIZE", "streaming.bufferSize") { $0.streaming.bufferSize },
        target("STREAMING_BACKPRESSURE_THRESHOLD", "streaming.backpressureThreshold") { $0.streaming.backpressureThreshold },
        target("STREAMING_TIMEOUT_MS", "streaming.timeoutMs") { $0.streaming.timeoutMs },
    ]

    /// The variables in `environment` that changed a value the file (`root`) sets: `fromFile` is
    /// the config as the file gave it, `effective` after ``apply(_:to:sink:)``. A variable for a
    /// setting the file leaves out, or set to what the file says, is not one.
    static func overridden(_ fromFile: FleetConfig, by effective: FleetConfig, root: Node,
                           environment: [String: String]) -> [EnvironmentOverride] {
        targets.compactMap { target in
            guard environment[target.variable] != nil, target.differs(fromFile, effective),
                  fileSets(target.setting, in: root) else { return nil }
            return EnvironmentOverride(variable: target.variable, setting: target.setting)
        }
    }

    /// Whether the document sets the dotted `path` (a YAML `null` does not).
    static func fileSets(_ path: String, in root: Node) -> Bool {
        var node = root
        for key in path.split(separator: ".") {
            guard case .mapping(let mapping) = node,
                  let value = mapping.first(where: { $0.key.scalar?.string == String(key) })?.value else { return false }
            node = value
        }
        if case .scalar = node, node.tagName == .null { return false }
        return true
    }
}
