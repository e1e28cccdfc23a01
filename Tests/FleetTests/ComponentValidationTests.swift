import Testing
@testable import Fleet

/// The rules of the sections owned by components: routing, costs, quotas, streaming, memory.
@Suite struct ComponentValidationTests {
    static let models = """
    routing:
      defaultModel: sonet
      lastResort: local
      models:
        - name: sonnet
          provider: anthropic
          model: claude-sonnet-4-5
          complexityRange: {min: 0.6, max: 0.3}
        - name: sonnet
          provider: antropic
          model: x
          complexityRange: {min: -0.1, max: 1.2}
          capabilities: {maxTokens: 0, costPer1kTokens: {input: -1}}
          credentials: {apiKey: sk-live-123}
        - name: local
          provider: builtin
          model: fleetd-builtin
    """

    @Test func routingRules() {
        let out = rendered(Self.models)
        #expect(out == [
            "fleet.yaml:2:17: error: routing.defaultModel: 'sonet' names no model in routing.models (did you mean 'sonnet'?)",
            "fleet.yaml:8:24: error: routing.models[0].complexityRange: min (0.6) must not be above max (0.3)",
            "fleet.yaml:9:7: error: routing.models[1].name: duplicate model name 'sonnet'; model names must be unique",
            "fleet.yaml:10:17: error: routing.models[1].provider: expected one of 'anthropic', 'openai', 'google', 'xai', 'ollama', 'builtin', got the string \"antropic\" (did you mean 'anthropic'?)",
            "fleet.yaml:12:30: error: routing.models[1].complexityRange.min: must be between 0 and 1, got -0.1",
            "fleet.yaml:12:41: error: routing.models[1].complexityRange.max: must be between 0 and 1, got 1.2",
            "fleet.yaml:13:33: error: routing.models[1].capabilities.maxTokens: must be between 1 and 100000000, got 0",
            "fleet.yaml:13:61: error: routing.models[1].capabilities.costPer1kTokens.input: must not be negative, got -1",
            "fleet.yaml:14:21: error: routing.models[1].credentials.apiKey: API keys are never read from the file; put the key in an environment variable and name it with apiKeyEnv",
        ])
        #expect(!out.joined().contains("sk-live-123"), "a key in the file is never echoed")
    }

    @Test func learningRules() {
        let out = rendered("""
        routing:
          learning: {minOutcomes: -1, exploration: 0.9, window: 1, bands: 0, strongQuality: 2, automaticWeight: 0.5, typo: 1}
        """)
        #expect(out.count == 6, "\(out)")
        for field in ["minOutcomes", "exploration", "window", "bands", "strongQuality", "typo"] {
            #expect(out.contains { $0.contains("routing.learning.\(field)") }, "\(field) in \(out)")
        }
        #expect(out.contains { $0.contains("routing.learning.exploration: must be between 0 and 0.5") }, "\(out)")
    }

    @Test func streamingRules() {
        let out = rendered("""
        streaming:
          bufferSize: 0
          backpressureThreshold: 1.5
          timeoutMs: -1
          retryConfig: {maxRetries: 3, backoffMultiplier: 0.5, jitter: 2}
        """)
        #expect(out == [
            "fleet.yaml:2:15: error: streaming.bufferSize: must be between 1 and 1000000, got 0",
            "fleet.yaml:3:26: error: streaming.backpressureThreshold: must be above 0 and at most 1, got 1.5",
            "fleet.yaml:4:14: error: streaming.timeoutMs: must be at least 1, got -1",
            "fleet.yaml:5:51: error: streaming.retryConfig.backoffMultiplier: must be at least 1, got 0.5",
            "fleet.yaml:5:64: error: streaming.retryConfig.jitter: must be between 0 and 1, got 2",
        ])
        #expect(rendered("streaming: {backpressureThreshold: 0}\n").first?.contains("must be above 0 and at most 1, got 0") == true)
        #expect(rendered("streaming: {backpressureThreshold: 1}\n").isEmpty)
    }

    /// YAML merge keys as people write them: defaults under an `x-` key, merged into each model
    /// (own keys win) and into an agent type's free-form config.
    @Test func mergeKeysAndExtensionKeys() throws {
        let config = try ConfigLoader.load(text: """
        x-model: &model
          provider: anthropic
          capabilities: {costPer1kTokens: {input: 0.003, output: 0.015}}
        x-agent: &agent {systemPrompt: "Be brief.", taskType: code}
        agents:
          - {type: coder, count: 1, config: {<<: *agent, taskType: review}}
        routing:
          enabled: true
          defaultModel: fast
          models:
            - {<<: *model, name: fast, model: claude-haiku}
            - <<: [*model]
              name: strong
              model: claude-opus
              capabilities: {costPer1kTokens: {input: 0.015, output: 0.075}}
        """).config
        #expect(config.routing.models.map(\.name) == ["fast", "strong"])
        #expect(config.routing.models.map(\.provider) == [.anthropic, .anthropic])
        #expect(config.routing.models[0].capabilities.costPer1kTokens.input == 0.003)
        #expect(config.routing.models[1].capabilities.costPer1kTokens.input == 0.015, "the model's own value wins")
        #expect(config.agents.first?.config["systemPrompt"] == .string("Be brief."))
        #expect(config.agents.first?.config["taskType"] == .string("review"))
        #expect(config.agents.first?.config["<<"] == nil)
    }

    /// A webhook URL is a secret (a Slack hook's path is its key): a bad one is named, not echoed.
    @Test func aBadAlertWebhookIsNotEchoed() {
        let out = rendered("""
        routing:
          costTracking:
            alertWebhook: hooks.slack.com/services/T0/B0/XXXXSECRET
        """)
        #expect(out.contains { $0.contains("routing.costTracking.alertWebhook") && $0.contains("http or https URL") }, "\(out)")
        #expect(!out.joined().contains("XXXXSECRET"), "\(out)")
    }

    @Test func costQuotaAndMemoryRules() {
        let out = rendered("""
        routing:
          costTracking:
            budgetLimits: {daily: 0}
            alertThresholds: {dailyPercent: 120}
            policy: stop
            timeZone: Mars/Olympus
          quotas:
            anthropic: {requestsPerDay: 0}
        memory:
          ttl: {routing/costs: 3 weeks}
        """)
        #expect(out == [
            "fleet.yaml:3:27: error: routing.costTracking.budgetLimits.daily: must be above 0, got 0",
            "fleet.yaml:4:37: error: routing.costTracking.alertThresholds.dailyPercent: must be above 0 and at most 100, got 120",
            "fleet.yaml:5:13: error: routing.costTracking.policy: expected one of 'block', 'cheaper-only', 'allow-with-alert', got the string \"stop\"",
            "fleet.yaml:6:5: error: routing.costTracking.timeZone: unknown time zone 'Mars/Olympus'; use an IANA name such as UTC or Europe/Paris",
            "fleet.yaml:8:33: error: routing.quotas.anthropic.requestsPerDay: must be at least 1, got 0",
            "fleet.yaml:10:24: error: memory.ttl.routing/costs: expected a duration such as 30d, 12h, 5m, 90s, a number of seconds, or never; got the string \"3 weeks\"",
        ])
    }

    @Test func componentDefaultsAndValues() throws {
        let config = try ConfigLoader.load(text: """
        routing:
          enabled: true
          defaultModel: m
          strategy: cost
          models: [{name: m, provider: ollama, model: llama3.2, credentials: {endpoint: "http://localhost:11434"}}]
          costTracking: {budgetLimits: {daily: 5}, policy: cheaper-only, timeZone: Europe/Paris}
        memory: {ttl: {streaming/buffer: 90s, routing/stats: never, routing/costs: 2d}}
        """).config
        #expect(config.routing.strategy == .cost)
        #expect(config.routing.models.first?.credentials?.endpoint == "http://localhost:11434")
        #expect(config.cost.enabled && config.cost.budgetLimits.daily == 5 && config.cost.policy == .cheaperOnly)
        #expect(config.quotas.timeZone == "Europe/Paris")
        #expect(config.memory.ttl(forPartition: "streaming/buffer") == 90)
        #expect(config.memory.ttl(forPartition: "routing/costs") == 172_800)
        #expect(!config.streaming.enabled)
        // Absent sections: routing and cost tracking off, as v1.0.4 had neither.
        let bare = try ConfigLoader.load(text: "fleet: {id: x}\n").config
        #expect(!bare.routing.enabled && !bare.cost.enabled && bare.routing.models.isEmpty)
    }

    @Test func v105EnvironmentVariables() throws {
        let yaml = "routing:\n  models: [{name: a, provider: builtin, model: b}, {name: c, provider: builtin, model: d}]\n"
        let env = ["ROUTING_ENABLED": "true", "ROUTING_DEFAULT_MODEL": "c", "COST_TRACKING_ENABLED": "1",
                   "BUDGET_LIMIT_DAILY": "12.5", "BUDGET_LIMIT_MONTHLY": "300", "BUDGET_ALERT_DAILY_PERCENT": "75",
                   "BUDGET_ALERT_MONTHLY_PERCENT": "95", "STREAMING_ENABLED": "yes", "STREAMING_BUFFER_SIZE": "64",
                   "STREAMING_BACKPRESSURE_THRESHOLD": "0.5", "STREAMING_TIMEOUT_MS": "1000"]
        let config = try ConfigLoader.load(text: yaml, environment: env).config
        #expect(config.routing.enabled && config.routing.defaultModel == "c")
        #expect(config.cost.enabled && config.cost.budgetLimits.daily == 12.5 && config.cost.budgetLimits.monthly == 300)
        #expect(config.cost.alertThresholds.dailyPercent == 75 && config.cost.alertThresholds.monthlyPercent == 95)
        #expect(config.streaming.enabled && config.streaming.bufferSize == 64)
        #expect(config.streaming.backpressureThreshold == 0.5 && config.streaming.timeoutMs == 1000)
        let bad = rendered(yaml, environment: ["ROUTING_DEFAULT_MODEL": "zzz", "STREAMING_BACKPRESSURE_THRESHOLD": "2",
                                               "BUDGET_LIMIT_DAILY": "-3", "STREAMING_BUFFER_SIZE": "big"])
        #expect(bad == [
            "environment: error: ROUTING_DEFAULT_MODEL: 'zzz' names no model in routing.models",
            "environment: error: BUDGET_LIMIT_DAILY: must be above 0, got -3",
            "environment: error: STREAMING_BUFFER_SIZE: expected an integer, got \"big\"",
            "environment: error: STREAMING_BACKPRESSURE_THRESHOLD: must be above 0 and at most 1, got 2",
        ])
    }
}

@Suite("Agent types' allowed models and providers")
struct AgentAccessValidationTests {
    @Test func unknownModelsAndProvidersAreErrorsWithTheirPlace() throws {
        let text = """
            agents:
              - {type: coder, config: {models: [fast, slo], providers: [openai, acme]}}
              - {type: ok, config: {models: fast}}
            routing:
              models:
                - {name: fast, provider: builtin, model: fleetd-builtin}
                - {name: slow, provider: builtin, model: fleetd-builtin}
            """
        do {
            _ = try ConfigLoader.load(text: text, file: "fleet.yaml")
            Issue.record("the config must be refused")
        } catch let error as ConfigError {
            let messages = error.diagnostics.map(\.description)
            #expect(messages.contains { $0.contains("agents[0].config.models: 'slo' names no model in routing.models (did you mean 'slow'?)") }, "\(messages)")
            #expect(messages.contains { $0.contains("agents[0].config.providers: unknown provider 'acme'") }, "\(messages)")
            #expect(messages.count == 2, "\(messages)")
        }
    }
}

@Suite("Model aliases that shadow a model")
struct ModelAliasShadowingTests {
    @Test func anAliasWithAModelsNameIsAWarningAtTheAlias() throws {
        let loaded = try ConfigLoader.load(text: """
            agents: [{type: general}]
            api:
              modelAliases:
                fast: {agentType: general, model: auto}
                my-app: {agentType: general, model: fast}
            routing:
              models:
                - {name: fast, provider: builtin, model: fleetd-builtin}
            """, file: "fleet.yaml")
        let shadowing = loaded.warnings.map(\.description).filter { $0.contains("shadows") }
        #expect(shadowing == [
            "fleet.yaml:4:5: warning: api.modelAliases.fast: the alias has the name of the model 'fast' of routing.models and shadows it: "
                + "a client's model 'fast' means the alias, never that model; give the alias another name",
        ], "\(loaded.warnings)")
    }

    @Test func theShippedAliasesShadowNoModel() throws {
        let loaded = try ConfigLoader.load(path: repositoryRoot.appendingPathComponent("config/fleet.yaml").path, environment: [:])
        #expect(!loaded.config.api.modelAliases.isEmpty)
        #expect(!loaded.warnings.contains { $0.path.hasPrefix("api.modelAliases") }, "\(loaded.warnings)")
    }
}
