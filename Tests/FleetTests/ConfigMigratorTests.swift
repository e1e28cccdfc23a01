import Foundation
import Testing
import Yams
@testable import Fleet

@Suite struct ConfigMigratorTests {
    let example = repositoryRoot.appendingPathComponent("migrations/examples/fleet-1.0.4.yaml")
    let migratedExample = repositoryRoot.appendingPathComponent("migrations/examples/fleet-1.0.5.yaml")

    func migrated(_ text: String) throws -> String {
        guard case .migrated(let output, _) = try ConfigMigrator.migrate(text: text) else {
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
}
