import FleetSupport
import Foundation
import Routing
import Store
import Testing
import Yams
@testable import Fleet

@Suite struct ConfigMigratorTests {
    let example = repositoryRoot.appendingPathComponent("migrations/examples/fleet-1.0.4.yaml")
    let migratedExample = repositoryRoot.appendingPathComponent("migrations/examples/fleet-1.0.5.yaml")

    func migrated(_ text: String) throws -> String {
        guard case .migrated(let output, _, _) = try ConfigMigrator.migrate(text: text) else {
            Issue.record("expected a migration")
            return ""
        }
        return output
    }

    @Test func everyKeyIsKeptAndNewSectionsAdded() throws {
        let original = try String(contentsOf: example, encoding: .utf8)
        let output = try migrated(original)
        // Block YAML is migrated by appending: the original text, comments included, is a prefix.
        #expect(output.hasPrefix(original))
        let before = try #require(try Yams.compose(yaml: original))
        let after = try #require(try Yams.compose(yaml: output))
        for key in ["fleet", "agents", "database", "logging", "api", "security", "ai"] {
            #expect(after[key] == before[key], "\(key) changed")
        }
        #expect(after["features"]?["multiModelRouter"]?.bool == false)
        #expect(after["features"]?["streaming"]?.bool == false)
        #expect(after["routing"]?["defaultModel"]?.string == "claude-sonnet-4-5-20250929")
        #expect(after["routing"]?["models"]?.array().count == 1)
        #expect(after["routing"]?["complexity"]?["tokenWeighting"]?.float == 0.4)
        #expect(after["routing"]?["costTracking"]?["enabled"]?.bool == false)
        #expect(after["streaming"]?["retryConfig"]?["maxRetries"]?.int == 3)
    }

    @Test func migratedConfigLoadsWithEveryFlagOffAndOneDefaultModel() throws {
        let output = try migrated(try String(contentsOf: example, encoding: .utf8))
        let config = try ConfigLoader.load(text: output).config
        #expect(config.features.evaluateAll(in: FlagContext()).allSatisfy { !$0.enabled })
        #expect(config.routing.defaultModel == "claude-sonnet-4-5-20250929")
        #expect(config.routing.models.map(\.name) == ["claude-sonnet-4-5-20250929"])
        #expect(!config.streaming.enabled)
    }

    @Test func committedExampleIsInStep() throws {
        let output = try migrated(try String(contentsOf: example, encoding: .utf8))
        #expect(output == (try String(contentsOf: migratedExample, encoding: .utf8)),
                "migrations/examples/fleet-1.0.5.yaml is stale: regenerate it with migrations/1.0.4-to-1.0.5.sh")
    }

    @Test func idempotent() throws {
        let once = try migrated(try String(contentsOf: example, encoding: .utf8))
        #expect(try ConfigMigrator.migrate(text: once) == .alreadyCurrent)
        #expect(try ConfigMigrator.migrate(text: "fleet: {id: a}\nfeatures: {streaming: true}\n") == .alreadyCurrent)
    }

    @Test func withoutAIModelThereIsNoRoutingSection() throws {
        let output = try migrated("fleet:\n  id: small\n")
        let after = try #require(try Yams.compose(yaml: output))
        #expect(after["routing"] == nil)
        #expect(after["streaming"] != nil)
    }

    @Test func jsonInputBecomesYAMLWithTheSameValues() throws {
        let json = #"{"fleet": {"id": "j", "maxAgents": 3}, "agents": [{"type": "a", "count": 1}], "ai": {"model": "gpt-4o"}}"#
        let output = try migrated(json)
        let config = try ConfigLoader.load(text: output).config
        #expect(config.fleet.id == "j" && config.fleet.maxAgents == 3)
        #expect(config.agents.map(\.type) == ["a"])
        #expect(config.routing.models.first?.provider == .openai)
    }

    @Test func unrecognisableInputIsRefused() {
        for bad in ["- just\n- a list\n", "hello\n", "name: my-app\nversion: 3\n", "fleet: {id: a}\ncolour: blue\n", "fleet: [unclosed\n"] {
            #expect(throws: ConfigMigrator.MigrationError.self, "\(bad)") { try ConfigMigrator.migrate(text: bad) }
        }
    }

    @Test func invalidV104IsRefusedWithItsErrors() {
        do {
            _ = try ConfigMigrator.migrate(text: "fleet:\n  maxAgents: lots\n")
            Issue.record("expected a refusal")
        } catch let error as ConfigMigrator.MigrationError {
            #expect(error.message.contains("<input>:2:14: error: fleet.maxAgents: expected an integer"))
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    // MARK: prices and limits per model

    /// A v1.0.4 file naming `model`, migrated, and the one model the result loads with.
    func migratedModel(_ model: String) throws -> (text: String, model: ModelConfiguration?) {
        let output = try migrated("fleet:\n  id: priced\nai:\n  model: \"\(model)\"\n")
        return (output, try ConfigLoader.load(text: output).config.routing.models.first)
    }

    @Test func eachModelGetsItsOwnListPricesAndLimits() throws {
        // (model id, input, output per 1k tokens, context window, longest answer)
        let cases: [(String, Double, Double, Int, Int?)] = [
            ("gpt-4o-mini", 0.00015, 0.0006, 128_000, 16_384),
            ("gpt-4o-2024-08-06", 0.0025, 0.01, 128_000, 16_384),
            ("gpt-4.1-mini", 0.0004, 0.0016, 1_047_576, 32_768),
            ("o4-mini", 0.0011, 0.0044, 200_000, 100_000),
            ("claude-3-5-haiku-20241022", 0.0008, 0.004, 200_000, 8_192),
            ("claude-opus-4-1-20250805", 0.015, 0.075, 200_000, 32_000),
            ("gemini-1.5-flash-8b", 0.0000375, 0.00015, 1_000_000, 8_192),
            ("gemini-2.5-flash", 0.0003, 0.0025, 1_000_000, 65_536),
            ("grok-3-mini", 0.0003, 0.0005, 131_072, nil),
            ("qwen2.5:7b", 0, 0, LegacyAIModel.localContextWindow, nil),
            ("llama3.2", 0, 0, LegacyAIModel.localContextWindow, nil),
        ]
        for (id, input, output, context, maxOutput) in cases {
            let (text, model) = try migratedModel(id)
            let capabilities = try #require(model?.capabilities, "\(id)")
            #expect(capabilities.costPer1kTokens.input == input, "\(id)")
            #expect(capabilities.costPer1kTokens.output == output, "\(id)")
            #expect(capabilities.maxTokens == context, "\(id)")
            #expect(capabilities.maxOutputTokens == maxOutput, "\(id)")
            #expect(!text.contains("TODO"), "\(id)")
            // An unmigrated v1.0.4 file runs the same model at the same prices.
            let unmigrated = try ConfigLoader.load(text: "fleet:\n  id: priced\nai:\n  model: \"\(id)\"\n").config
            #expect(unmigrated.routing.models.first?.capabilities == capabilities, "\(id)")
        }
        #expect(try migratedModel("qwen2.5:7b").model?.provider == .ollama)
    }

    @Test func unknownModelKeepsTheFallbackAndSaysSo() throws {
        guard case .migrated(let text, _, let warnings) = try ConfigMigrator.migrate(text: "fleet:\n  id: u\nai:\n  model: deepseek-chat\n") else {
            Issue.record("expected a migration")
            return
        }
        #expect(text.contains("# TODO: check prices: fleetd has no list prices for ai.model 'deepseek-chat'"))
        #expect(warnings.count == 1 && warnings[0].contains("deepseek-chat"))
        let capabilities = try #require(try ConfigLoader.load(text: text).config.routing.models.first?.capabilities)
        #expect(capabilities.costPer1kTokens == LegacyAIModel.fallbackPricing)
        #expect(capabilities.maxTokens == LegacyAIModel.fallbackContextWindow)
        // JSON input is rewritten; the comment is still there.
        let json = try migrated(#"{"fleet": {"id": "j"}, "ai": {"model": "mystery-1"}}"#)
        #expect(json.contains("# TODO: check prices: fleetd has no list prices for ai.model 'mystery-1'"))
    }

    /// One source of truth: where config/fleet.yaml lists a model, the price list agrees with it.
    @Test func priceListAgreesWithTheShippedExample() throws {
        let shipped = try ConfigLoader.load(path: repositoryRoot.appendingPathComponent("config/fleet.yaml").path, environment: [:])
        var compared = 0
        for model in shipped.config.routing.models {
            guard let entry = ModelPriceList.entry(for: model.model) else { continue }
            compared += 1
            #expect(entry.pricing == model.capabilities.costPer1kTokens, "\(model.name)")
            #expect(entry.contextWindow == model.capabilities.maxTokens, "\(model.name)")
            if let maxOutput = model.capabilities.maxOutputTokens {
                #expect(entry.maxOutputTokens == maxOutput, "\(model.name)")
            }
        }
        #expect(compared >= 7)
    }

    @Test func pricesAreWrittenAsPlainDecimals() {
        #expect(ConfigMigrator.decimal(0.00008) == "0.00008")
        #expect(ConfigMigrator.decimal(0.0000375) == "0.0000375")
        #expect(ConfigMigrator.decimal(0.015) == "0.015")
        #expect(ConfigMigrator.decimal(0) == "0.0")
    }

    // MARK: document markers and line ends

    @Test func documentEndMarkerStaysLast() throws {
        for end in ["...\n", "...", "... # end\n# trailing comment\n\n"] {
            let original = "---\nfleet:\n  id: d\nai:\n  model: gpt-4o\n" + end
            let output = try migrated(original)
            #expect(output.hasPrefix("---\nfleet:\n  id: d\nai:\n  model: gpt-4o\n"), "\(end)")
            #expect(output.hasSuffix(end), "\(end)")
            let config = try ConfigLoader.load(text: output).config
            #expect(config.fleet.id == "d")
            #expect(config.routing.defaultModel == "gpt-4o")
            #expect(!config.streaming.enabled)
        }
    }

    @Test func crlfInputGivesCRLFOutputThroughout() throws {
        let original = try String(contentsOf: example, encoding: .utf8).replacingOccurrences(of: "\n", with: "\r\n")
        let output = try migrated(original)
        #expect(output.hasPrefix(original))
        // Every line break is CRLF: none is left once the CRLFs are removed.
        let bare = output.replacingOccurrences(of: "\r\n", with: "")
        #expect(!bare.unicodeScalars.contains("\n") && !bare.unicodeScalars.contains("\r"))
        let lf = try migrated(try String(contentsOf: example, encoding: .utf8))
        #expect(output == lf.replacingOccurrences(of: "\n", with: "\r\n"))
        #expect(try ConfigMigrator.migrate(text: output) == .alreadyCurrent)
    }
}
