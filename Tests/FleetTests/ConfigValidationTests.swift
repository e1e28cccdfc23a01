import Testing
@testable import Fleet

@Suite struct ConfigValidationTests {
    @Test func malformedYAMLHasLineAndColumn() {
        let out = rendered("fleet:\n  id: x\n  name: [unclosed\n")
        #expect(out.count == 1)
        #expect(out[0].hasPrefix("fleet.yaml:4:1: error: malformed YAML"), "\(out)")
    }

    @Test func tabIndentationIsMalformed() {
        let out = rendered("fleet:\n\tid: x\n")
        #expect(out.first?.hasPrefix("fleet.yaml:2:1: error: malformed YAML") == true, "\(out)")
    }

    @Test func emptyFileIsAnError() {
        #expect(rendered("") == ["fleet.yaml:1:1: error: the config is empty; see config/fleet.yaml for a complete example"])
    }

    @Test func unknownKeyWithSuggestion() {
        let out = rendered("fleet:\n  id: a\n  maxAgent: 3\n")
        #expect(out == ["fleet.yaml:3:3: error: fleet.maxAgent: unknown key 'maxAgent' (did you mean 'maxAgents'?)"])
    }

    @Test func unknownTopLevelKeyWithoutCloseMatch() {
        #expect(rendered("fleet: {id: a}\nwhatever: 1\n") == ["fleet.yaml:2:1: error: whatever: unknown key 'whatever'"])
    }

    @Test func wrongTypes() {
        let out = rendered("""
        fleet:
          maxAgents: ten
          heartbeatInterval: "30000"
        api:
          port: [1]
        logging:
          level: loud
        """)
        #expect(out == [
            "fleet.yaml:2:14: error: fleet.maxAgents: expected an integer, got the string \"ten\"",
            "fleet.yaml:3:22: error: fleet.heartbeatInterval: expected an integer, got the string \"30000\"",
            "fleet.yaml:5:9: error: api.port: expected an integer, got a list",
            "fleet.yaml:7:10: error: logging.level: expected one of 'trace', 'debug', 'info', 'notice', 'warning', 'warn', 'error', 'critical', got the string \"loud\"",
        ])
    }

    @Test func outOfRangeValues() {
        let out = rendered("fleet:\n  maxAgents: 0\n  taskTimeout: -5\napi:\n  port: 70000\n")
        #expect(out == [
            "fleet.yaml:2:14: error: fleet.maxAgents: must be between 1 and 100000, got 0",
            "fleet.yaml:3:16: error: fleet.taskTimeout: must be at least 1, got -5",
            "fleet.yaml:5:9: error: api.port: must be between 0 and 65535, got 70000",
        ])
    }

    @Test func duplicateKeys() {
        let out = rendered("fleet:\n  id: a\n  id: b\n")
        #expect(out == ["fleet.yaml:2:3: error: duplicate key 'id' in the mapping that starts here"])
    }

    @Test func everyProblemReportedAtOnce() {
        let out = rendered("fleet:\n  maxAgents: x\nfeatures:\n  streming: true\nagents:\n  - count: 2\n")
        #expect(out.count == 3, "\(out)")
    }

    @Test func unknownFeatureFlag() {
        let out = rendered("features:\n  streming: true\n  teleport: false\n")
        #expect(out == [
            "fleet.yaml:2:3: error: features.streming: unknown feature flag 'streming' (did you mean 'streaming'?)",
            "fleet.yaml:3:3: error: features.teleport: unknown feature flag 'teleport'; known flags: multiModelRouter, streaming, advancedCaching, predictiveRouting, mcpTools, multiRegion",
        ])
    }

    @Test func flagValueShapes() {
        let out = rendered("""
        features:
          streaming: yes please
          multiModelRouter: {enabled: true, rollout: {stickiness: tenantId}}
          multiRegion: {enabled: true, rollout: {percentage: 101}}
        featureOverrides:
          agentType:
            coder: {streeming: true}
        """)
        #expect(out == [
            "fleet.yaml:2:14: error: features.streaming: expected true, false or {enabled, rollout}, got the string \"yes please\"",
            "fleet.yaml:3:46: error: features.multiModelRouter.rollout: a rollout needs a 'percentage' (0 to 100)",
            "fleet.yaml:4:54: error: features.multiRegion.rollout.percentage: must be between 0 and 100, got 101",
            "fleet.yaml:7:5: warning: featureOverrides.agentType.coder: 'coder' names no agent type in agents, so its overrides apply to no task; configured: default",
            "fleet.yaml:7:13: error: featureOverrides.agentType.coder.streeming: unknown feature flag 'streeming' (did you mean 'streaming'?)",
        ])
    }

    @Test func agentsNeedATypeAndUniqueTypes() {
        let out = rendered("agents:\n  - type: coder\n  - type: coder\n  - count: 1\n")
        #expect(out == [
            "fleet.yaml:3:5: error: agents[1].type: agent type 'coder' is listed twice; use one entry with a count",
            "fleet.yaml:4:5: error: agents[2].type: every agent needs a 'type'",
        ])
    }

    @Test func secretsInTheFileDrawWarningsNamingTheVariable() throws {
        let loaded = try ConfigLoader.load(text: "security:\n  apiKey: s3cr3t\ndatabase:\n  password: hunter2\n", file: "fleet.yaml")
        let messages = loaded.warnings.map(\.description)
        #expect(messages == [
            "fleet.yaml:2:3: warning: security.apiKey: a secret in the config file; set the API_KEY environment variable instead",
            "fleet.yaml:4:3: warning: database.password: a secret in the config file; set the DB_PASSWORD environment variable instead",
        ])
        #expect(!messages.joined().contains("s3cr3t") && !messages.joined().contains("hunter2"))
    }

    @Test("counts over fleet.maxAgents give every type one agent first; the warning names the types cut")
    func countsOverMaxAgentsStarveNoType() throws {
        let text = "fleet: {id: a, maxAgents: 8}\nagents:\n  - {type: general, count: 12}\n  - {type: reviewer, count: 2}\n  - {type: idle, count: 0}\n"
        let loaded = try ConfigLoader.load(text: text, file: "fleet.yaml")
        #expect(loaded.config.agentAllocation.map { "\($0.type)=\($0.count)" } == ["general=7", "reviewer=1", "idle=0"])
        let warning = try #require(loaded.warnings.first { $0.description.contains("fleet.maxAgents is 8") }).description
        #expect(warning.hasSuffix("only 8 will run: general gets 7 of 12, reviewer gets 1 of 2"), "\(warning)")
        // Counts that fit are kept as they are.
        let fits = try ConfigLoader.load(text: "fleet: {id: a, maxAgents: 8}\nagents:\n  - {type: general, count: 3}\n  - {type: reviewer, count: 2}\n",
                                         file: "fleet.yaml")
        #expect(fits.config.agentAllocation.map { $0.count } == [3, 2])
    }

    @Test func mysqlValidatesWithAWarning() throws {
        let loaded = try ConfigLoader.load(text: "database:\n  type: mysql\n  host: db\n", file: "fleet.yaml")
        #expect(loaded.config.database.type == .mysql)
        #expect(loaded.warnings.first?.description.contains("set database.type: sqlite") == true)
    }

    @Test func postgresRunsWithItsSettingsAndTheV104Variables() throws {
        let text = "database:\n  type: postgres\n  host: db\n  port: 5433\n  tls: require\n  poolSize: 4\n  reservationLeaseSeconds: 30\n"
        let loaded = try ConfigLoader.load(text: text, file: "fleet.yaml")
        #expect(loaded.warnings.isEmpty)
        let db = loaded.config.database
        #expect(db.type == .postgres && db.host == "db" && db.port == 5433 && db.tls == .require && db.poolSize == 4)
        #expect(db.reservationLeaseSeconds == 30)
        let env = ["DB_HOST": "pg.internal", "DB_PORT": "6543", "DB_NAME": "fleet", "DB_USER": "svc", "DB_PASSWORD": "pw", "DB_TLS": "disable",
                   "DB_POOL_SIZE": "7"]
        let overridden = try ConfigLoader.load(text: text, file: "fleet.yaml", environment: env).config.database
        #expect(overridden.host == "pg.internal" && overridden.port == 6543 && overridden.database == "fleet")
        #expect(overridden.username == "svc" && overridden.password == "pw" && overridden.tls == .disable && overridden.poolSize == 7)
    }

    @Test func missingSectionsTakeDefaults() throws {
        let config = try ConfigLoader.load(text: "fleet:\n  id: x\n").config
        #expect(config.fleet.maxAgents == 10)
        #expect(config.fleet.heartbeatInterval == 30_000)
        #expect(config.fleet.taskTimeout == 300_000)
        #expect(config.api.port == 8080)
        #expect(config.database.filename == "fleetd.sqlite")
        #expect(config.features == .allOff)
    }

    @Test func jsonInputIsAccepted() throws {
        let config = try ConfigLoader.load(text: #"{"fleet": {"id": "j", "maxAgents": 4}, "api": {"cors": true}}"#).config
        #expect(config.fleet.id == "j" && config.fleet.maxAgents == 4)
        #expect(config.api.corsOrigins == ["*"])
    }
}

@Suite struct EnvironmentOverrideTests {
    @Test func legacyVariablesOverrideTheFile() throws {
        let env = ["FLEET_ID": "from-env", "MAX_AGENTS": "7", "API_PORT": "9999", "LOG_LEVEL": "DEBUG",
                   "LOG_OUTPUTS": "console,file", "DB_FILENAME": "other.db", "API_CORS": "https://a.example, https://b.example"]
        let config = try ConfigLoader.load(text: "fleet:\n  id: file\n", environment: env).config
        #expect(config.fleet.id == "from-env")
        #expect(config.fleet.maxAgents == 7)
        #expect(config.api.port == 9999)
        #expect(config.logging.level == .debug)
        #expect(config.logging.outputs == [.console, .file])
        #expect(config.database.filename == "other.db")
        #expect(config.api.corsOrigins == ["https://a.example", "https://b.example"])
    }

    @Test func featureVariablesSetTheGlobalFlag() throws {
        let config = try ConfigLoader.load(text: "features:\n  streaming: false\n",
                                           environment: ["FEATURE_STREAMING": "true", "FEATURE_MULTI_MODEL_ROUTER": "0"]).config
        #expect(config.features.global["streaming"] == .on)
        #expect(config.features.global["multiModelRouter"] == .off)
    }

    @Test func badValuesNameTheVariable() {
        let out = rendered("fleet: {id: a}\n", environment: ["MAX_AGENTS": "many", "FEATURE_STREAMING": "maybe", "API_PORT": "-1"])
        #expect(out == [
            "environment: error: MAX_AGENTS: expected an integer, got \"many\"",
            "environment: error: API_PORT: must be between 0 and 65535, got -1",
            "environment: error: FEATURE_STREAMING: expected true or false, got \"maybe\"",
        ])
    }
}
