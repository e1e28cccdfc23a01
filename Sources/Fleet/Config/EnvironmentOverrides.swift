/// Environment variables that override the file: v1.0.4's (which keep working) and v1.0.5's
/// (README.md, "Environment variables"). The environment wins over the file.
enum EnvironmentOverrides {
    /// Every variable fleetd reads from the environment for its config, for the docs and `--help`.
    static let legacyVariables = [
        "FLEET_ID", "FLEET_NAME", "MAX_AGENTS", "HEARTBEAT_INTERVAL", "TASK_TIMEOUT",
        "DB_TYPE", "DB_HOST", "DB_PORT", "DB_NAME", "DB_USER", "DB_PASSWORD", "DB_FILENAME",
        "LOG_LEVEL", "LOG_FORMAT", "LOG_OUTPUTS", "API_PORT", "API_HOST", "API_CORS",
        "RATE_LIMIT_WINDOW", "RATE_LIMIT_MAX", "API_KEY", "JWT_SECRET", "CONFIG_FILE",
    ]

    static func apply(_ environment: [String: String], to config: inout FleetConfig, sink: DiagnosticSink) {
        let env = EnvironmentReader(environment: environment, sink: sink)
        applyLegacy(env, to: &config)
        if let on = env.bool("FEATURE_MULTI_MODEL_ROUTER") { config.features.global["multiModelRouter"] = FlagSetting(enabled: on) }
        if let on = env.bool("FEATURE_STREAMING") { config.features.global["streaming"] = FlagSetting(enabled: on) }
        applyComponents(env, to: &config)
    }

    private static func applyLegacy(_ env: EnvironmentReader, to config: inout FleetConfig) {
        if let value = env.string("FLEET_ID") { config.fleet.id = value }
        if let value = env.string("FLEET_NAME") { config.fleet.name = value }
        if let value = env.int("MAX_AGENTS", in: 1...10_000) { config.fleet.maxAgents = value }
        if let value = env.int("HEARTBEAT_INTERVAL", in: 1...Int.max) { config.fleet.heartbeatInterval = value }
        if let value = env.int("TASK_TIMEOUT", in: 1...Int.max) { config.fleet.taskTimeout = value }

        if let value = env.choice("DB_TYPE", as: DatabaseSection.Kind.self) { config.database.type = value }
        if let value = env.string("DB_HOST") { config.database.host = value }
        if let value = env.int("DB_PORT", in: 1...65_535) { config.database.port = value }
        if let value = env.string("DB_NAME") { config.database.database = value }
        if let value = env.string("DB_USER") { config.database.username = value }
        if let value = env.secret("DB_PASSWORD") { config.database.password = value }
        if let value = env.string("DB_FILENAME") { config.database.filename = value }
        if let value = env.choice("DB_TLS", as: DatabaseSection.TLSMode.self) { config.database.tls = value }
        if let value = env.int("DB_POOL_SIZE", in: 1...1_000) { config.database.poolSize = value }

        if let value = env.choice("LOG_LEVEL", as: LoggingSection.Level.self) { config.logging.level = value }
        if let value = env.choice("LOG_FORMAT", as: LoggingSection.Format.self) { config.logging.format = value }
        if let value = env.string("LOG_OUTPUTS") {
            var outputs: [LoggingSection.Output] = []
            for name in value.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) {
                if let output = LoggingSection.Output(rawValue: name) { outputs.append(output) }
                else { env.sink.environmentError("LOG_OUTPUTS", "unknown output '\(name)'; expected a comma-separated list of 'console' and 'file'") }
            }
            config.logging.outputs = outputs
        }

        if let value = env.int("API_PORT", in: 0...65_535) { config.api.port = value }
        if let value = env.string("API_HOST") { config.api.host = value }
        if let value = env.string("API_CORS") {
            switch value.lowercased() {
            case "true", "1", "yes", "*": config.api.corsOrigins = ["*"]
            case "false", "0", "no": config.api.corsOrigins = []
            default: config.api.corsOrigins = value.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            }
        }
        if let value = env.int("RATE_LIMIT_WINDOW", in: 1...Int.max) { config.api.rateLimit.windowMs = value }
        if let value = env.int("RATE_LIMIT_MAX", in: 0...Int.max) { config.api.rateLimit.max = value }
        if let value = env.secret("API_KEY") { config.security.apiKey = value }
        if let value = env.secret("JWT_SECRET") { config.security.jwtSecret = value }
    }
}
