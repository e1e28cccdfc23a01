/// Environment variables that override the file: v1.0.4's (which keep working) and v1.0.5's
/// (README.md, "Environment variables"). The environment wins over the file.
///
/// One table, ``variables``, says for each variable which setting it overrides, how its text is
/// read, and how to tell whether two configs differ there: ``apply(_:to:sink:)`` sets the config
/// from it, and ``overridden(_:by:root:environment:)`` (the start-up and reload log line that names
/// each variable overriding the file) reads the same entries, so the two cannot drift apart.
enum EnvironmentOverrides {
    /// Every variable fleetd reads from the environment for its config, for the docs and `--help`.
    static let legacyVariables = [
        "FLEET_ID", "FLEET_NAME", "MAX_AGENTS", "HEARTBEAT_INTERVAL", "TASK_TIMEOUT",
        "DB_TYPE", "DB_HOST", "DB_PORT", "DB_NAME", "DB_USER", "DB_PASSWORD", "DB_FILENAME",
        "LOG_LEVEL", "LOG_FORMAT", "LOG_OUTPUTS", "API_PORT", "API_HOST", "API_CORS",
        "RATE_LIMIT_WINDOW", "RATE_LIMIT_MAX", "API_KEY", "JWT_SECRET", "CONFIG_FILE",
    ]

    /// One variable: the setting it overrides (its path in the file), how it is applied (a bad
    /// value is an error naming the variable, and the file's value stays), and whether two configs
    /// differ at that setting.
    struct Variable: Sendable {
        let name: String
        let setting: String
        let apply: @Sendable (EnvironmentReader, inout FleetConfig) -> Void
        let differs: @Sendable (FleetConfig, FleetConfig) -> Bool
    }

    /// A variable read by `read` into the setting at `path`.
    private static func variable<Value: Equatable & Sendable>(_ name: String, _ setting: String, _ path: any WritableKeyPath<FleetConfig, Value> & Sendable,
                                                   _ read: @escaping @Sendable (EnvironmentReader, String) -> Value?) -> Variable {
        Variable(name: name, setting: setting,
                 apply: { env, config in if let value = read(env, name) { config[keyPath: path] = value } },
                 differs: { $0[keyPath: path] != $1[keyPath: path] })
    }

    /// A variable for an optional setting: a value read sets it, none leaves the file's.
    private static func optional<Value: Equatable & Sendable>(_ name: String, _ setting: String, _ path: any WritableKeyPath<FleetConfig, Value?> & Sendable,
                                                   _ read: @escaping @Sendable (EnvironmentReader, String) -> Value?) -> Variable {
        variable(name, setting, path) { env, name in read(env, name).map { .some($0) } }
    }

    private static func text(_ env: EnvironmentReader, _ name: String) -> String? { env.string(name) }
    private static func secret(_ env: EnvironmentReader, _ name: String) -> String? { env.secret(name) }
    private static func flag(_ env: EnvironmentReader, _ name: String) -> Bool? { env.bool(name) }

    private static func number(in range: ClosedRange<Int>) -> @Sendable (EnvironmentReader, String) -> Int? {
        { env, name in env.int(name, in: range) }
    }

    private static func amount(_ check: @escaping @Sendable (Double) -> String?) -> @Sendable (EnvironmentReader, String) -> Double? {
        { env, name in env.double(name, check: check) }
    }

    private static func choice<Value: RawRepresentable & CaseIterable & Sendable>(_ type: Value.Type) -> @Sendable (EnvironmentReader, String) -> Value?
        where Value.RawValue == String {
        { env, name in env.choice(name, as: type) }
    }

    private static let positive: @Sendable (Double) -> String? = { $0 > 0 ? nil : "must be above 0" }
    private static let percent: @Sendable (Double) -> String? = { $0 > 0 && $0 <= 100 ? nil : "must be above 0 and at most 100" }

    /// Every variable, in the order they are applied.
    static let variables: [Variable] = [
        variable("FLEET_ID", "fleet.id", \.fleet.id, text),
        variable("FLEET_NAME", "fleet.name", \.fleet.name, text),
        variable("MAX_AGENTS", "fleet.maxAgents", \.fleet.maxAgents, number(in: 1...100_000)),
        variable("HEARTBEAT_INTERVAL", "fleet.heartbeatInterval", \.fleet.heartbeatInterval, number(in: 1...Int.max)),
        variable("TASK_TIMEOUT", "fleet.taskTimeout", \.fleet.taskTimeout, number(in: 1...Int.max)),
        variable("DB_TYPE", "database.type", \.database.type, choice(DatabaseSection.Kind.self)),
        optional("DB_HOST", "database.host", \.database.host, text),
        optional("DB_PORT", "database.port", \.database.port, number(in: 1...65_535)),
        optional("DB_NAME", "database.database", \.database.database, text),
        optional("DB_USER", "database.username", \.database.username, text),
        optional("DB_PASSWORD", "database.password", \.database.password, secret),
        variable("DB_FILENAME", "database.filename", \.database.filename, text),
        variable("DB_TLS", "database.tls", \.database.tls, choice(DatabaseSection.TLSMode.self)),
        variable("DB_POOL_SIZE", "database.poolSize", \.database.poolSize, number(in: 1...1_000)),
        variable("LOG_LEVEL", "logging.level", \.logging.level, choice(LoggingSection.Level.self)),
        variable("LOG_FORMAT", "logging.format", \.logging.format, choice(LoggingSection.Format.self)),
        variable("LOG_OUTPUTS", "logging.outputs", \.logging.outputs, logOutputs),
        variable("API_PORT", "api.port", \.api.port, number(in: 0...65_535)),
        variable("API_HOST", "api.host", \.api.host, text),
        variable("API_CORS", "api.cors", \.api.corsOrigins, corsOrigins),
        variable("RATE_LIMIT_WINDOW", "api.rateLimit.windowMs", \.api.rateLimit.windowMs, number(in: 1...Int.max)),
        variable("RATE_LIMIT_MAX", "api.rateLimit.max", \.api.rateLimit.max, number(in: 0...Int.max)),
        optional("API_KEY", "security.apiKey", \.security.apiKey, secret),
        optional("JWT_SECRET", "security.jwtSecret", \.security.jwtSecret, secret),
        optional("FEATURE_MULTI_MODEL_ROUTER", "features.multiModelRouter", \.features.global["multiModelRouter"]) { env, name in
            env.bool(name).map { FlagSetting(enabled: $0) }
        },
        optional("FEATURE_STREAMING", "features.streaming", \.features.global["streaming"]) { env, name in
            env.bool(name).map { FlagSetting(enabled: $0) }
        },
        variable("ROUTING_ENABLED", "routing.enabled", \.routing.enabled, flag),
        Variable(name: "ROUTING_DEFAULT_MODEL", setting: "routing.defaultModel", apply: { env, config in
            guard let model = env.string("ROUTING_DEFAULT_MODEL") else { return }
            if config.routing.models.contains(where: { $0.name == model }) {
                config.routing.defaultModel = model
            } else {
                env.sink.environmentError("ROUTING_DEFAULT_MODEL", "'\(model)' names no model in routing.models")
            }
        }, differs: { $0.routing.defaultModel != $1.routing.defaultModel }),
        variable("COST_TRACKING_ENABLED", "routing.costTracking.enabled", \.cost.enabled, flag),
        optional("BUDGET_LIMIT_DAILY", "routing.costTracking.budgetLimits.daily", \.cost.budgetLimits.daily, amount(positive)),
        optional("BUDGET_LIMIT_WEEKLY", "routing.costTracking.budgetLimits.weekly", \.cost.budgetLimits.weekly, amount(positive)),
        optional("BUDGET_LIMIT_MONTHLY", "routing.costTracking.budgetLimits.monthly", \.cost.budgetLimits.monthly, amount(positive)),
        optional("BUDGET_ALERT_DAILY_PERCENT", "routing.costTracking.alertThresholds.dailyPercent", \.cost.alertThresholds.dailyPercent,
                 amount(percent)),
        optional("BUDGET_ALERT_MONTHLY_PERCENT", "routing.costTracking.alertThresholds.monthlyPercent",
                 \.cost.alertThresholds.monthlyPercent, amount(percent)),
        variable("STREAMING_ENABLED", "streaming.enabled", \.streaming.enabled, flag),
        variable("STREAMING_BUFFER_SIZE", "streaming.bufferSize", \.streaming.bufferSize, number(in: 1...1_000_000)),
        variable("STREAMING_BACKPRESSURE_THRESHOLD", "streaming.backpressureThreshold", \.streaming.backpressureThreshold,
                 amount { $0 > 0 && $0 <= 1 ? nil : "must be above 0 and at most 1" }),
        variable("STREAMING_TIMEOUT_MS", "streaming.timeoutMs", \.streaming.timeoutMs, number(in: 1...Int.max)),
    ]

    static func apply(_ environment: [String: String], to config: inout FleetConfig, sink: DiagnosticSink) {
        let env = EnvironmentReader(environment: environment, sink: sink)
        for variable in variables { variable.apply(env, &config) }
    }

    /// `LOG_OUTPUTS`: a comma-separated list of `console` and `file`; an unknown name is an error
    /// and is left out.
    private static func logOutputs(_ env: EnvironmentReader, _ name: String) -> [LoggingSection.Output]? {
        guard let value = env.string(name) else { return nil }
        var outputs: [LoggingSection.Output] = []
        for output in value.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) {
            if let known = LoggingSection.Output(rawValue: output) { outputs.append(known) }
            else { env.sink.environmentError(name, "unknown output '\(output)'; expected a comma-separated list of 'console' and 'file'") }
        }
        return outputs
    }

    /// `API_CORS`: `true`/`*` any origin, `false` none, else a comma-separated list of origins.
    private static func corsOrigins(_ env: EnvironmentReader, _ name: String) -> [String]? {
        guard let value = env.string(name) else { return nil }
        switch value.lowercased() {
        case "true", "1", "yes", "*": return ["*"]
        case "false", "0", "no": return []
        default: return value.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        }
    }
}
