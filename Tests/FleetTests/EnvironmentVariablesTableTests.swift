import Fleet
import Foundation
import Testing

/// Every variable fleetd reads for its config, against a file that sets each setting otherwise:
/// the environment's value is the one in force, and the load names each variable as overriding
/// the file (one table drives both, so a variable cannot set one setting and be reported for
/// another).
@Suite struct EnvironmentVariablesTableTests {
    static let yaml = """
        fleet: {id: file-id, name: file-name, maxAgents: 3, heartbeatInterval: 30000, taskTimeout: 60000}
        agents: [{type: general, count: 1}]
        database: {type: sqlite, host: file-host, port: 5432, database: file-db, username: file-user, password: file-pass,
                   filename: file.sqlite, tls: prefer, poolSize: 10}
        logging: {level: info, format: json, outputs: [console]}
        api: {host: 127.0.0.1, port: 8080, cors: [https://file.example], rateLimit: {windowMs: 60000, max: 5}}
        security: {apiKey: file-key, jwtSecret: file-jwt-secret-of-enough-length-000000}
        features: {multiModelRouter: false, streaming: false}
        routing:
          enabled: false
          defaultModel: a
          models:
            - {name: a, provider: builtin, model: fleetd-builtin}
            - {name: b, provider: builtin, model: fleetd-builtin}
          costTracking:
            enabled: false
            budgetLimits: {daily: 10, weekly: 50, monthly: 200}
            alertThresholds: {dailyPercent: 80, monthlyPercent: 90}
        streaming: {enabled: false, bufferSize: 100, backpressureThreshold: 0.8, timeoutMs: 30000}
        """

    static let environment: [String: String] = [
        "FLEET_ID": "env-id", "FLEET_NAME": "env-name", "MAX_AGENTS": "7", "HEARTBEAT_INTERVAL": "5000", "TASK_TIMEOUT": "90000",
        "DB_TYPE": "postgres", "DB_HOST": "env-host", "DB_PORT": "6543", "DB_NAME": "env-db", "DB_USER": "env-user",
        "DB_PASSWORD": "env-pass", "DB_FILENAME": "env.sqlite", "DB_TLS": "require", "DB_POOL_SIZE": "20",
        "LOG_LEVEL": "debug", "LOG_FORMAT": "text", "LOG_OUTPUTS": "console,file", "API_PORT": "9090", "API_HOST": "0.0.0.0",
        "API_CORS": "https://a.example, https://b.example", "RATE_LIMIT_WINDOW": "1000", "RATE_LIMIT_MAX": "9",
        "API_KEY": "env-key", "JWT_SECRET": "env-jwt-secret-of-enough-length-1111111",
        "FEATURE_MULTI_MODEL_ROUTER": "true", "FEATURE_STREAMING": "true", "ROUTING_ENABLED": "true", "ROUTING_DEFAULT_MODEL": "b",
        "COST_TRACKING_ENABLED": "true", "BUDGET_LIMIT_DAILY": "11", "BUDGET_LIMIT_WEEKLY": "51", "BUDGET_LIMIT_MONTHLY": "201",
        "BUDGET_ALERT_DAILY_PERCENT": "70", "BUDGET_ALERT_MONTHLY_PERCENT": "95", "STREAMING_ENABLED": "true",
        "STREAMING_BUFFER_SIZE": "200", "STREAMING_BACKPRESSURE_THRESHOLD": "0.5", "STREAMING_TIMEOUT_MS": "45000",
    ]

    @Test func everyVariableSetsItsSettingAndIsNamedAsOverridingTheFile() throws {
        let loaded = try ConfigLoader.load(text: Self.yaml, environment: Self.environment)
        let config = loaded.config
        #expect(config.fleet.id == "env-id" && config.fleet.name == "env-name" && config.fleet.maxAgents == 7)
        #expect(config.fleet.heartbeatInterval == 5000 && config.fleet.taskTimeout == 90000)
        #expect(config.database.type == .postgres && config.database.host == "env-host" && config.database.port == 6543)
        #expect(config.database.database == "env-db" && config.database.username == "env-user" && config.database.password == "env-pass")
        #expect(config.database.filename == "env.sqlite" && config.database.tls == .require && config.database.poolSize == 20)
        #expect(config.logging.level == .debug && config.logging.format == .text && config.logging.outputs == [.console, .file])
        #expect(config.api.port == 9090 && config.api.host == "0.0.0.0" && config.api.corsOrigins == ["https://a.example", "https://b.example"])
        #expect(config.api.rateLimit.windowMs == 1000 && config.api.rateLimit.max == 9)
        #expect(config.security.apiKey == "env-key" && config.security.jwtSecret == "env-jwt-secret-of-enough-length-1111111")
        #expect(config.features.global["multiModelRouter"]?.enabled == true && config.features.global["streaming"]?.enabled == true)
        #expect(config.routing.enabled && config.routing.defaultModel == "b" && config.cost.enabled)
        #expect(config.cost.budgetLimits.daily == 11 && config.cost.budgetLimits.weekly == 51 && config.cost.budgetLimits.monthly == 201)
        #expect(config.cost.alertThresholds.dailyPercent == 70 && config.cost.alertThresholds.monthlyPercent == 95)
        #expect(config.streaming.enabled && config.streaming.bufferSize == 200 && config.streaming.backpressureThreshold == 0.5)
        #expect(config.streaming.timeoutMs == 45000)
        let named = Set(loaded.environmentOverrides.map(\.variable))
        #expect(named == Set(Self.environment.keys), "not named: \(Set(Self.environment.keys).subtracting(named).sorted())")
        let settings = Dictionary(uniqueKeysWithValues: loaded.environmentOverrides.map { ($0.variable, $0.setting) })
        #expect(settings["API_CORS"] == "api.cors" && settings["COST_TRACKING_ENABLED"] == "routing.costTracking.enabled")
    }

    @Test func aBadValueIsAnErrorNamingTheVariable() {
        for (name, value) in [("MAX_AGENTS", "many"), ("ROUTING_DEFAULT_MODEL", "nope"), ("LOG_OUTPUTS", "console,printer")] {
            do {
                _ = try ConfigLoader.load(text: Self.yaml, environment: [name: value])
                Issue.record("\(name)=\(value) was taken")
            } catch {
                #expect("\(error)".contains(name), "\(error)")
            }
        }
    }
}
