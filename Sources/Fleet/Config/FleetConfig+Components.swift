import FleetSupport
import Foundation
import Routing
import Store
import Streaming
import Yams

// Sections owned by the components: `routing` (with `costTracking` and `quotas`), `streaming`
// and `memory`. Fleet owns the file format; the values land in each component's own
// configuration struct.

extension FleetConfig {
    static func decodeComponents(into config: inout FleetConfig, _ top: inout MappingReader, sink: DiagnosticSink) {
        var routing = top.section("routing")
        config.routing = decodeRouting(&routing)
        config.cost = decodeCost(routing.section("costTracking"))
        config.quotas = decodeQuotas(routing.mapping("quotas"), timeZone: config.cost.timeZone)
        routing.finish()
        config.streaming = decodeStreaming(top.section("streaming"))
        config.memory = decodeMemory(top.mapping("memory"))
    }

    // MARK: routing

    private static func decodeRouting(_ r: inout MappingReader) -> RoutingConfiguration {
        var routing = RoutingConfiguration(enabled: false)
        routing.enabled = r.bool("enabled", default: routing.enabled)
        routing.defaultModel = r.string("defaultModel")
        routing.lastResort = r.string("lastResort")
        routing.strategy = r.choice("strategy", default: routing.strategy)
        routing.quotaPreferenceThreshold = r.double("quotaPreferenceThreshold", default: routing.quotaPreferenceThreshold, check: unitInterval)
        routing.assumedLatencyMs = r.double("assumedLatencyMs", default: routing.assumedLatencyMs, check: positive)
        if var complexity = r.mapping("complexity") {
            routing.complexity.tokenWeighting = complexity.double("tokenWeighting", default: routing.complexity.tokenWeighting, check: unitInterval)
            routing.complexity.structureWeighting = complexity.double("structureWeighting", default: routing.complexity.structureWeighting, check: unitInterval)
            routing.complexity.contextWeighting = complexity.double("contextWeighting", default: routing.complexity.contextWeighting, check: unitInterval)
            if routing.complexity.tokenWeighting + routing.complexity.structureWeighting + routing.complexity.contextWeighting <= 0 {
                complexity.sink.error(complexity.path, at: complexity.mark, "at least one complexity weight must be above 0")
            }
            complexity.finish()
        }
        if var weights = r.mapping("weights") {
            let w = routing.weights
            routing.weights.capability = weights.double("capability", default: w.capability, check: nonNegative)
            routing.weights.cost = weights.double("cost", default: w.cost, check: nonNegative)
            routing.weights.quality = weights.double("quality", default: w.quality, check: nonNegative)
            routing.weights.latency = weights.double("latency", default: w.latency, check: nonNegative)
            routing.weights.history = weights.double("history", default: w.history, check: nonNegative)
            if routing.weights.total <= 0 {
                weights.sink.error(weights.path, at: weights.mark, "at least one balanced weight must be above 0")
            }
            weights.finish()
        }
        if var learning = r.mapping("learning") {
            let l = routing.learning
            routing.learning.minOutcomes = learning.double("minOutcomes", default: l.minOutcomes, check: nonNegative)
            routing.learning.exploration = learning.double("exploration", default: l.exploration, check: { (0...0.5).contains($0) ? nil : "must be between 0 and 0.5" })
            routing.learning.window = learning.double("window", default: l.window, check: { $0 >= 2 ? nil : "must be at least 2" })
            routing.learning.bands = learning.int("bands", default: l.bands, in: 1...20)
            routing.learning.strongQuality = learning.double("strongQuality", default: l.strongQuality, check: unitInterval)
            routing.learning.automaticWeight = learning.double("automaticWeight", default: l.automaticWeight, check: unitInterval)
            learning.finish()
        }
        if var health = r.mapping("health") {
            let h = routing.health
            routing.health.failureThreshold = health.int("failureThreshold", default: h.failureThreshold, in: 1...1_000)
            routing.health.providerFailureThreshold = health.int("providerFailureThreshold", default: h.providerFailureThreshold, in: 1...1_000)
            routing.health.cooldownSeconds = health.double("cooldownSeconds", default: h.cooldownSeconds, check: positive)
            routing.health.halfOpenProbes = health.int("halfOpenProbes", default: h.halfOpenProbes, in: 1...100)
            routing.health.maxRetryAfterSeconds = health.double("maxRetryAfterSeconds", default: h.maxRetryAfterSeconds, check: positive)
            health.finish()
        }
        routing.models = decodeModels(&r)
        return routing
    }

    private static func decodeModels(_ r: inout MappingReader) -> [ModelConfiguration] {
        guard let items = r.list("models") else { return [] }
        var models: [ModelConfiguration] = []
        var seen: Set<String> = []
        for (path, node) in items {
            guard var m = MappingReader(node, path: path, sink: r.sink) else { continue }
            let name = m.string("name")
            let provider = m.choice("provider", as: ProviderKind.self)
            let id = m.string("model")
            var model = ModelConfiguration(name: name ?? "", provider: provider ?? .builtin, model: id ?? "")
            for (key, value) in [("name", name), ("model", id)] where value?.isEmpty ?? true {
                if m.keyMark(key) == nil {
                    m.sink.error(m.child(key), at: m.mark, "every model needs a '\(key)'")
                } else if value?.isEmpty == true {
                    m.sink.error(m.child(key), at: m.keyMark(key), "must not be empty")
                }
            }
            if provider == nil, m.keyMark("provider") == nil {
                m.sink.error(m.child("provider"), at: m.mark, "every model needs a 'provider' (\(ProviderKind.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            if let name, !name.isEmpty, !seen.insert(name).inserted {
                m.sink.error(m.child("name"), at: m.keyMark("name"), "duplicate model name '\(name)'; model names must be unique")
            }
            model.enabled = m.bool("enabled", default: true)
            model.capabilities = decodeCapabilities(m.section("capabilities"))
            if var range = m.mapping("complexityRange") {
                let min = range.double("min", default: 0, check: unitInterval)
                let max = range.double("max", default: 1, check: unitInterval)
                if min > max {
                    range.sink.error(range.path, at: range.mark, "min (\(min.formattedForHumans)) must not be above max (\(max.formattedForHumans))")
                }
                model.complexityRange = ComplexityRange(min: min, max: max)
                range.finish()
            }
            if var credentials = m.mapping("credentials") {
                model.credentials = ModelCredentials(endpoint: credentials.string("endpoint"), apiKeyEnv: credentials.string("apiKeyEnv"))
                if let endpoint = model.credentials?.endpoint, URL(string: endpoint)?.scheme == nil {
                    credentials.sink.error(credentials.child("endpoint"), at: credentials.keyMark("endpoint"), "expected a base URL such as https://api.example.com, got \"\(endpoint)\"")
                }
                if credentials.keyMark("apiKey") != nil {
                    credentials.accept("apiKey")
                    credentials.sink.error(credentials.child("apiKey"), at: credentials.keyMark("apiKey"),
                                           "API keys are never read from the file; put the key in an environment variable and name it with apiKeyEnv")
                }
                credentials.finish()
            }
            model.qualityScore = m.double("qualityScore", check: unitInterval)
            model.typicalLatencyMs = m.double("typicalLatencyMs", check: positive)
            if let strengths = m.stringList("strengths") {
                model.strengths = strengths.compactMap { name in
                    if let type = TaskType(rawValue: name) { return type }
                    m.sink.error(m.child("strengths"), at: m.keyMark("strengths"),
                                 "unknown task type '\(name)'; known: \(TaskType.allCases.map(\.rawValue).joined(separator: ", "))")
                    return nil
                }
            }
            m.finish()
            models.append(model)
        }
        return models
    }

    private static func decodeCapabilities(_ reader: MappingReader) -> ModelCapabilities {
        var c = reader
        var capabilities = ModelCapabilities()
        capabilities.maxTokens = c.int("maxTokens", default: capabilities.maxTokens, in: 1...100_000_000)
        capabilities.supportsStreaming = c.bool("supportsStreaming", default: capabilities.supportsStreaming)
        capabilities.supportsTools = c.bool("supportsTools", default: capabilities.supportsTools)
        capabilities.maxOutputTokens = c.int("maxOutputTokens", in: 1...100_000_000)
        if let modalities = c.stringList("inputModalities") {
            capabilities.inputModalities = Set(modalities.compactMap { name in
                if let modality = InputModality(rawValue: name) { return modality }
                c.sink.error(c.child("inputModalities"), at: c.keyMark("inputModalities"),
                             "unknown input modality '\(name)'; known: \(InputModality.allCases.map(\.rawValue).joined(separator: ", "))")
                return nil
            })
        }
        if var cost = c.mapping("costPer1kTokens") {
            capabilities.costPer1kTokens = ModelPricing(
                input: cost.double("input", default: 0, check: nonNegative),
                output: cost.double("output", default: 0, check: nonNegative),
                cached: cost.double("cached", check: nonNegative)
            )
            cost.finish()
        }
        c.finish()
        return capabilities
    }

    // MARK: costs and quotas

    private static func decodeCost(_ reader: MappingReader) -> CostConfiguration {
        var r = reader
        // Absent section: tracking off, as v1.0.4 had none.
        var cost = CostConfiguration(enabled: r.mark != nil)
        cost.enabled = r.bool("enabled", default: cost.enabled)
        if var limits = r.mapping("budgetLimits") {
            cost.budgetLimits.daily = limits.double("daily", check: positive)
            cost.budgetLimits.weekly = limits.double("weekly", check: positive)
            cost.budgetLimits.monthly = limits.double("monthly", check: positive)
            limits.finish()
        }
        if var alerts = r.mapping("alertThresholds") {
            cost.alertThresholds.dailyPercent = alerts.double("dailyPercent", check: percent) ?? cost.alertThresholds.dailyPercent
            cost.alertThresholds.weeklyPercent = alerts.double("weeklyPercent", check: percent) ?? cost.alertThresholds.weeklyPercent
            cost.alertThresholds.monthlyPercent = alerts.double("monthlyPercent", check: percent) ?? cost.alertThresholds.monthlyPercent
            alerts.finish()
        }
        cost.policy = r.choice("policy", default: cost.policy)
        if let hook = r.string("alertWebhook") {
            if let url = URL(string: hook), ["http", "https"].contains(url.scheme?.lowercased() ?? ""), url.host != nil {
                cost.alertWebhook = hook
            } else {
                // The value is not echoed: a webhook URL is a secret (a Slack hook's path is its key).
                r.sink.error(r.child("alertWebhook"), at: r.keyMark("alertWebhook"), "must be an http or https URL with a host")
            }
        }
        if let zone = r.string("timeZone") {
            if TimeZone(identifier: zone) == nil {
                r.sink.error(r.child("timeZone"), at: r.keyMark("timeZone"), "unknown time zone '\(zone)'; use an IANA name such as UTC or Europe/Paris")
            } else {
                cost.timeZone = zone
            }
        }
        r.finish()
        return cost
    }

    private static func decodeQuotas(_ reader: MappingReader?, timeZone: String) -> QuotaConfiguration {
        var quotas = QuotaConfiguration(timeZone: timeZone)
        guard let reader else { return quotas }
        for entry in reader.entries {
            guard var limits = MappingReader(entry.value, path: reader.child(entry.key), sink: reader.sink) else { continue }
            quotas.providers[entry.key] = QuotaConfiguration.Limits(
                requestsPerDay: limits.int("requestsPerDay", in: 1...Int.max),
                requestsPerMonth: limits.int("requestsPerMonth", in: 1...Int.max),
                tokensPerDay: limits.int("tokensPerDay", in: 1...Int.max),
                tokensPerMonth: limits.int("tokensPerMonth", in: 1...Int.max)
            )
            limits.finish()
        }
        return quotas
    }

    // MARK: streaming and memory

    private static func decodeStreaming(_ reader: MappingReader) -> StreamingConfiguration {
        var r = reader
        var s = StreamingConfiguration()
        s.enabled = r.bool("enabled", default: s.enabled)
        s.bufferSize = r.int("bufferSize", default: s.bufferSize, in: 1...1_000_000)
        s.backpressureThreshold = r.double("backpressureThreshold", default: s.backpressureThreshold) { value in
            value > 0 && value <= 1 ? nil : "must be above 0 and at most 1"
        }
        s.timeoutMs = r.int("timeoutMs", default: s.timeoutMs, in: 1...Int.max)
        s.firstChunkTimeoutMs = r.int("firstChunkTimeoutMs", in: 1...Int.max) ?? s.firstChunkTimeoutMs
        s.idleTimeoutMs = r.int("idleTimeoutMs", in: 1...Int.max) ?? s.idleTimeoutMs
        if var retry = r.mapping("retryConfig") {
            s.retryConfig.maxRetries = retry.int("maxRetries", default: s.retryConfig.maxRetries, in: 0...100)
            s.retryConfig.backoffMs = retry.int("backoffMs", default: s.retryConfig.backoffMs, in: 0...Int.max)
            s.retryConfig.backoffMultiplier = retry.double("backoffMultiplier", default: s.retryConfig.backoffMultiplier) { $0 >= 1 ? nil : "must be at least 1" }
            s.retryConfig.maxBackoffMs = retry.int("maxBackoffMs", default: s.retryConfig.maxBackoffMs, in: 0...Int.max)
            s.retryConfig.jitter = retry.double("jitter", default: s.retryConfig.jitter, check: unitInterval)
            retry.finish()
        }
        r.finish()
        return s
    }

    private static func decodeMemory(_ reader: MappingReader?) -> MemoryStoreConfiguration {
        guard var r = reader else { return MemoryStoreConfiguration() }
        var overrides: [String: TimeInterval] = [:]
        if let ttl = r.mapping("ttl") {
            for entry in ttl.entries {
                if let seconds = duration(entry.value, path: ttl.child(entry.key), sink: ttl.sink) {
                    overrides[entry.key] = seconds
                }
            }
        }
        var memory = MemoryStoreConfiguration(partitionTTLOverrides: overrides)
        if var cache = r.mapping("responseCache") {
            memory.responseCacheMaxEntries = cache.int("maxEntries", default: memory.responseCacheMaxEntries, in: 1...10_000_000)
            memory.responseCacheMaxTemperature = cache.double("maxTemperature", default: memory.responseCacheMaxTemperature) {
                $0 >= 0 && $0 <= 2 ? nil : "must be between 0 and 2"
            }
            cache.finish()
        }
        r.finish()
        return memory
    }

    /// `30d`, `7d`, `1h`, `5m`, `90s`, a number of seconds, or `never` (stored as infinity).
    static func duration(_ node: Node, path: String, sink: DiagnosticSink) -> TimeInterval? {
        if node.tagName == .int || node.tagName == .float, let seconds = node.float, seconds > 0 { return seconds }
        let text = node.scalar?.string.trimmingCharacters(in: .whitespaces).lowercased() ?? ""
        if text == "never" { return .infinity }
        let units: [Character: Double] = ["s": 1, "m": 60, "h": 3_600, "d": 86_400]
        if let unit = text.last, let factor = units[unit], let value = Double(text.dropLast()), value > 0 {
            return value * factor
        }
        sink.error(path, at: node.mark, "expected a duration such as 30d, 12h, 5m, 90s, a number of seconds, or never; got \(node.yamlDescription)")
        return nil
    }

    // MARK: checks

    private static func unitInterval(_ value: Double) -> String? { (0...1).contains(value) ? nil : "must be between 0 and 1" }
    private static func positive(_ value: Double) -> String? { value > 0 ? nil : "must be above 0" }
    private static func nonNegative(_ value: Double) -> String? { value >= 0 ? nil : "must not be negative" }
    private static func percent(_ value: Double) -> String? { value > 0 && value <= 100 ? nil : "must be above 0 and at most 100" }
}

extension FleetConfig {
    static func validateComponents(_ config: FleetConfig, root: Node, sink: DiagnosticSink) {
        let names = Set(config.routing.models.map(\.name))
        for (key, value) in [("defaultModel", config.routing.defaultModel), ("lastResort", config.routing.lastResort)] {
            guard let value, !names.contains(value) else { continue }
            var message = "'\(value)' names no model in routing.models"
            if let near = Suggestion.closest(to: value, in: Array(names)) { message += " (did you mean '\(near)'?)" }
            sink.error("routing.\(key)", at: root["routing"]?[key]?.mark, message)
        }
        let types = Set(config.agents.map(\.type))
        for (name, alias) in config.api.modelAliases.sorted(by: { $0.key < $1.key }) {
            let node = root["api"]?["modelAliases"]?[name]
            if let type = alias.agentType, !types.isEmpty, !types.contains(type) {
                sink.error("api.modelAliases.\(name).agentType", at: node?["agentType"]?.mark,
                           "'\(type)' names no agent type in agents (configured: \(types.sorted().joined(separator: ", ")))")
            }
            if let model = alias.model, model != "auto", !names.contains(model) {
                var message = "'\(model)' names no model in routing.models (or use 'auto')"
                if let near = Suggestion.closest(to: model, in: Array(names)) { message += " (did you mean '\(near)'?)" }
                sink.error("api.modelAliases.\(name).model", at: node?["model"]?.mark, message)
            }
            // A client's `model` is read as an alias before a model's name, so the model can no
            // longer be asked for by its name (and the model lists name the alias only).
            if names.contains(name) {
                sink.warning("api.modelAliases.\(name)", at: keyMark(name, in: root["api"]?["modelAliases"]) ?? node?.mark,
                             "the alias has the name of the model '\(name)' of routing.models and shadows it: a client's model '\(name)' "
                                 + "means the alias, never that model; give the alias another name")
            }
        }
        if config.routing.enabled, config.routing.models.filter(\.enabled).isEmpty {
            sink.error("routing.models", at: root["routing"]?.mark, "routing is enabled but no model is enabled")
        }
    }

    /// The position of `key` in `mapping` (the key itself, not its value).
    private static func keyMark(_ key: String, in mapping: Node?) -> Mark? {
        guard case .mapping(let pairs)? = mapping else { return nil }
        return pairs.first { $0.key.scalar?.string == key }?.key.mark
    }
}
