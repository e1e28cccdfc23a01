import Foundation
import Routing
import Testing

@Suite("Model registry and routing configuration")
struct RegistryConfigurationTests {
    @Test("duplicate names keep the first model and are reported")
    func duplicates() {
        let first = ModelConfiguration(name: "m", provider: .openai, model: "one")
        let second = ModelConfiguration(name: "m", provider: .google, model: "two")
        let registry = ModelRegistry(models: [first, second, Seed.haiku])
        #expect(registry.names == ["m", "claude-haiku-4"])
        #expect(registry.model(named: "m")?.model == "one")
        #expect(registry.issues.map(\.path) == ["routing.models[1].name"])
        #expect(registry.issues[0].code == .duplicateModel)
        #expect(registry.model(named: "nope") == nil)
    }

    @Test("validation names each bad field")
    func validation() {
        var bad = ModelConfiguration(name: "x", provider: .openai, model: "x", complexityRange: ComplexityRange(min: 0.8, max: 0.2))
        bad.qualityScore = 2
        var config = RoutingConfiguration(defaultModel: "ghost", models: [bad, bad], quotaPreferenceThreshold: 1.5, lastResort: "x")
        config.health.halfOpenProbes = 0
        let issues = config.issues()
        #expect(issues.map(\.path).contains("routing.models[1].name"))
        #expect(issues.contains { $0.path == "routing.models[0].complexityRange" && $0.message.contains("min 0.8 max 0.2") })
        #expect(issues.contains { $0.path == "routing.models[0].qualityScore" })
        #expect(issues.contains { $0.path == "routing.defaultModel" && $0.code == .unknownModel })
        #expect(!issues.contains { $0.path == "routing.lastResort" })
        #expect(issues.contains { $0.path == "routing.quotaPreferenceThreshold" })
        #expect(issues.contains { $0.path == "routing.health.halfOpenProbes" })
        #expect(throws: RoutingConfigurationError.self) { try config.validate() }
        #expect(RoutingConfiguration(defaultModel: "claude-haiku-4", models: [Seed.haiku]).issues().isEmpty)
    }

    @Test("decoding fills every absent field with its default; seed 001's model entries decode")
    func decodingDefaults() throws {
        let json = """
        {"defaultModel": "claude-haiku-4", "strategy": "cost", "health": {"cooldownSeconds": 5},
         "models": [{"name": "claude-haiku-4", "provider": "anthropic", "model": "claude-haiku-4-20250110",
                     "capabilities": {"maxTokens": 200000, "supportsStreaming": true, "costPer1kTokens": {"input": 0.8, "output": 4}},
                     "complexityRange": {"min": 0, "max": 0.4}, "enabled": true},
                    {"name": "local", "provider": "ollama", "model": "qwen2.5:14b", "strengths": ["code"],
                     "capabilities": {"inputModalities": ["text", "image"]}}]}
        """
        let config = try JSONDecoder().decode(RoutingConfiguration.self, from: Data(json.utf8))
        #expect(config.enabled && config.strategy == .cost && config.quotaPreferenceThreshold == 0.8)
        #expect(config.health.cooldownSeconds == 5 && config.health.failureThreshold == 5)
        #expect(config.weights == BalancedWeights())
        #expect(config.models[0].capabilities.supportsTools && config.models[0].capabilities.inputModalities == [.text])
        #expect(config.models[0].effectiveQuality == 0.2)
        #expect(config.models[1].complexityRange == ComplexityRange(min: 0, max: 1))
        #expect(config.models[1].capabilities.inputModalities == [.text, .image])
        #expect(config.models[1].strengths == [.code])
        #expect(config.issues().isEmpty)
        let round = try JSONDecoder().decode(RoutingConfiguration.self, from: JSONEncoder().encode(config))
        #expect(round == config)
    }

    @Test("a task decodes with only taskId and prompt; privacy uses its wire name")
    func taskDecoding() throws {
        let minimal = try JSONDecoder().decode(RoutingTask.self, from: Data(#"{"taskId": "t", "prompt": "p"}"#.utf8))
        #expect(minimal == RoutingTask(taskId: "t", prompt: "p"))
        let full = try JSONDecoder().decode(RoutingTask.self, from: Data(#"{"taskId": "t", "prompt": "p", "privacy": "local-only", "constraints": {"maxCost": 0.5}, "attachments": ["image"], "preferredProvider": "ollama"}"#.utf8))
        #expect(full.privacy == .localOnly && full.constraints.maxCost == 0.5 && full.attachments == [.image] && full.preferredProvider == .ollama)
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(RoutingTask.self, from: Data(#"{"taskId": "t"}"#.utf8)) }
    }
}
