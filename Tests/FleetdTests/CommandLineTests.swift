import Fleet
import FleetSupport
import Foundation
import Testing

/// The one-shot subcommands, through the real binary: output and exit codes.
@Suite struct CommandLineTests {
    let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    @Test func validateTheExampleConfig() async throws {
        let result = try await FleetdProcess.run(["validate", "--config", repository.appendingPathComponent("config/fleet.yaml").path])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("valid."))
        #expect(result.stdout.contains("10 models (9 enabled), default model claude-sonnet-4.5"), "\(result.stdout)")
        #expect(!result.stderr.contains("shadows"), "the example's aliases shadow no model: \(result.stderr)")
    }

    @Test func validateWarnsOfAnAliasThatShadowsAModel() async throws {
        let directory = try temporaryDirectory()
        let file = directory.appendingPathComponent("shadow.yaml")
        try """
        agents: [{type: general}]
        api:
          modelAliases:
            fast: {agentType: general, model: auto}
        routing:
          models:
            - {name: fast, provider: builtin, model: fleetd-builtin}
        """.write(to: file, atomically: true, encoding: .utf8)
        let result = try await FleetdProcess.run(["validate", "--config", file.path])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("shadow.yaml:4:5: warning: api.modelAliases.fast: the alias has the name of the model 'fast'"), "\(result.stderr)")
    }

    @Test func flagsForAnUnknownAgentTypeExit1NamingTheKnownTypes() async throws {
        let directory = try temporaryDirectory()
        let file = directory.appendingPathComponent("types.yaml")
        try "agents:\n  - {type: general}\n  - {type: coder}\n".write(to: file, atomically: true, encoding: .utf8)
        let result = try await FleetdProcess.run(["flags", "--config", file.path, "--data-dir", directory.appendingPathComponent("data").path,
                                            "--agent-type", "nope"])
        #expect(result.status == 1, "\(result.stdout)")
        #expect(result.stdout.isEmpty, "no flags are shown: \(result.stdout)")
        let lines = result.stderr.split(separator: "\n")
        #expect(lines.count == 1 && lines.first?.contains("no agent type 'nope'") == true && lines.first?.contains("known agent types: general, coder") == true,
                "\(result.stderr)")
        let known = try await FleetdProcess.run(["flags", "--config", file.path, "--data-dir", directory.appendingPathComponent("data").path,
                                           "--agent-type", "coder"])
        #expect(known.status == 0, "\(known.stderr)")
    }

    @Test func validateReportsEveryErrorAndExits1() async throws {
        let directory = try temporaryDirectory()
        let file = directory.appendingPathComponent("bad.yaml")
        try "fleet:\n  maxAgents: lots\nfeatures:\n  streming: true\n".write(to: file, atomically: true, encoding: .utf8)
        let result = try await FleetdProcess.run(["validate", "--config", file.path])
        #expect(result.status == 1)
        #expect(result.stderr.contains("bad.yaml:2:14: error: fleet.maxAgents: expected an integer, got the string \"lots\""))
        #expect(result.stderr.contains("bad.yaml:4:3: error: features.streming: unknown feature flag 'streming' (did you mean 'streaming'?)"))
    }

    @Test func routeSkipsModelsWhoseKeyIsNotSetAsServeDoes() async throws {
        let config = repository.appendingPathComponent("config/fleet.yaml").path
        let prompt = "Refactor this Swift module for testability and explain the trade-offs of each change."
        func selection(_ environment: [String: String]) async throws -> [String: Any] {
            let result = try await FleetdProcess.run(["route", "--config", config, prompt, "--json"], environment: environment)
            #expect(result.status == 0, "\(result.stderr)")
            return try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        }
        // No key in the environment: the cloud models are off, as serve has them, and the trace says why.
        let keyless = try await selection([:])
        #expect(keyless["modelName"] as? String == "local-builtin", "\(keyless)")
        let candidates = jsonValue(keyless, "trace.candidates") as? [[String: Any]] ?? []
        let decisions = candidates.first { $0["modelName"] as? String == "claude-sonnet-4.5" }?["decisions"] as? [[String: Any]] ?? []
        #expect(decisions.first?["detail"] as? String == "no API key (ANTHROPIC_API_KEY not set)", "\(decisions)")
        // With the key, Anthropic's models are routed to again.
        let keyed = try await selection(["ANTHROPIC_API_KEY": "sk-ant-route"])
        #expect((keyed["modelName"] as? String)?.hasPrefix("claude") == true, "\(keyed["modelName"] ?? "none")")
    }

    @Test func usageErrorsExit2() async throws {
        #expect(try await FleetdProcess.run(["validate", "--no-such-option"]).status == 2)
        #expect(try await FleetdProcess.run(["flags", "--config"]).status == 2)
    }

    @Test func flagsJSONShape() async throws {
        let directory = try temporaryDirectory()
        let file = directory.appendingPathComponent("f.yaml")
        try """
        agents: [{type: coder}]
        features:
          streaming: {enabled: true, rollout: {percentage: 100, stickiness: tenantId}}
        featureOverrides:
          agentType: {coder: {multiModelRouter: true}}
        streaming: {enabled: true}
        """.write(to: file, atomically: true, encoding: .utf8)
        let result = try await FleetdProcess.run(["flags", "--config", file.path, "--agent-type", "coder", "--context", "tenantId=acme", "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let flags = try #require(object["flags"] as? [String: [String: Any]])
        // On for the type, but the routing section's switch is off: what tasks get, and why.
        #expect(flags["multiModelRouter"]?["enabled"] as? Bool == false)
        #expect(flags["multiModelRouter"]?["rule"] as? String == "agent type 'coder': on; but routing.enabled is false, so it is off")
        #expect(flags["streaming"]?["enabled"] as? Bool == true)
        #expect((flags["streaming"]?["rule"] as? String)?.hasPrefix("global: rollout 100% by tenantId: bucket") == true)
        #expect(flags.count == 6)

        // The changes made at runtime in the data directory apply, as fleetd serve has them, and
        // FLEETD_ENVIRONMENT picks the environment as it does for serve.
        let data = directory.appendingPathComponent("data")
        try FileManager.default.createDirectory(at: data, withIntermediateDirectories: true)
        try RuntimeFlagStore(url: data.appendingPathComponent("runtime-flags.json"))
            .save([.init(flag: "advancedCaching", scope: .environment("staging"), setting: FlagSetting(enabled: true))])
        let changed = try await FleetdProcess.run(["flags", "--config", file.path, "--data-dir", data.path, "--json"],
                                            environment: ["FLEETD_ENVIRONMENT": "staging"])
        let changedFlags = try #require((try JSONSerialization.jsonObject(with: Data(changed.stdout.utf8)) as? [String: Any])?["flags"] as? [String: [String: Any]])
        #expect(changedFlags["advancedCaching"]?["enabled"] as? Bool == true, "\(changed.stdout) \(changed.stderr)")
    }

    @Test func migrateConfigWritesAtomicallyAndRefusesToClobber() async throws {
        let directory = try temporaryDirectory()
        let old = directory.appendingPathComponent("old.yaml")
        let new = directory.appendingPathComponent("new.yaml")
        try "fleet:\n  id: legacy\nai:\n  model: claude-3-5-sonnet\n".write(to: old, atomically: true, encoding: .utf8)
        let check = try await FleetdProcess.run(["migrate-config", old.path, "--check"])
        #expect(check.status == 1)
        let first = try await FleetdProcess.run(["migrate-config", old.path, "--output", new.path])
        #expect(first.status == 0, "\(first.stderr)")
        #expect(try String(contentsOf: old, encoding: .utf8) == "fleet:\n  id: legacy\nai:\n  model: claude-3-5-sonnet\n")
        let migrated = try String(contentsOf: new, encoding: .utf8)
        #expect(migrated.contains("multiModelRouter: false"))
        let again = try await FleetdProcess.run(["migrate-config", old.path, "--output", new.path])
        #expect(again.status == 1)
        #expect(again.stderr.contains("exists; pass --force"))
        let current = try await FleetdProcess.run(["migrate-config", new.path])
        #expect(current.status == 0)
        #expect(current.stderr.contains("already a v1.0.5 config; nothing changed"))
        // Passed through unchanged, so `migrate NEW > OTHER` never leaves an empty config.
        #expect(current.stdout == migrated)
        let copy = directory.appendingPathComponent("copy.yaml")
        #expect(try await FleetdProcess.run(["migrate-config", new.path, "--output", copy.path]).status == 0)
        #expect(try String(contentsOf: copy, encoding: .utf8) == migrated)
        #expect(try await FleetdProcess.run(["migrate-config", new.path, "--output", new.path]).status == 0)
        #expect(try String(contentsOf: new, encoding: .utf8) == migrated)
        #expect(try await FleetdProcess.run(["migrate-config", new.path, "--check"]).status == 0)
        #expect(try await FleetdProcess.run(["validate", "--config", new.path]).status == 0)
    }

    /// Start-up failures are one line on standard error that names what failed: a port in use
    /// (NIO says only "bind(…): Address already in use"), an unreadable runtime flag file.
    @Test func startUpFailuresNameWhatFailed() async throws {
        let directory = try temporaryDirectory()
        let file = directory.appendingPathComponent("fleet.yaml")
        try "fleet: {id: busy}\nagents: [{type: general, count: 1}]\n".write(to: file, atomically: true, encoding: .utf8)
        let first = try await FleetdProcess(config: file, dataDirectory: directory.appendingPathComponent("one"))
        let busy = try await FleetdProcess.run(["serve", "--config", file.path, "--port", "\(first.port)", "--data-dir", directory.appendingPathComponent("two").path])
        #expect(busy.status == 1)
        #expect(busy.stderr.contains("fleetd: cannot listen on 127.0.0.1:\(first.port): the address is in use"), "\(busy.stderr)")
        #expect(busy.stdout.isEmpty, "\(busy.stdout)")
        first.signal(SIGTERM)
        #expect(await first.waitForExit() == 0)

        let data = directory.appendingPathComponent("three")
        try FileManager.default.createDirectory(at: data, withIntermediateDirectories: true)
        try "{".write(to: data.appendingPathComponent("runtime-flags.json"), atomically: true, encoding: .utf8)
        let corrupt = try await FleetdProcess.run(["serve", "--config", file.path, "--port", "0", "--data-dir", data.path])
        #expect(corrupt.status == 1)
        #expect(corrupt.stderr.contains("fleetd: cannot read the runtime flag changes in \(data.path)/runtime-flags.json"), "\(corrupt.stderr)")
        #expect(corrupt.stdout.isEmpty)
    }

    /// `fleetd keys` against the wrong data directory: `list` names the missing file instead of
    /// making an empty one; `create` says it made a new file; and a fleetd that never made the key
    /// refuses it, even while it needs no credential, instead of letting it in without its limits.
    @Test func keysMadeForAnotherStoreAreNoticed() async throws {
        let directory = try temporaryDirectory()
        let file = directory.appendingPathComponent("fleet.yaml")
        try "fleet: {id: keys}\nagents: [{type: general, count: 1}]\n".write(to: file, atomically: true, encoding: .utf8)
        let elsewhere = directory.appendingPathComponent("elsewhere")
        let list = try await FleetdProcess.run(["keys", "list", "--config", file.path, "--data-dir", elsewhere.path])
        #expect(list.status == 1 && list.stderr.contains("no database at \(elsewhere.path)/fleetd.sqlite"), "\(list.stderr)")
        #expect(!FileManager.default.fileExists(atPath: elsewhere.path))
        let made = try await FleetdProcess.run(["keys", "create", "--config", file.path, "--data-dir", elsewhere.path, "--tenant", "acme"])
        #expect(made.status == 0 && made.stderr.contains("did not exist and is made now"), "\(made.stderr)")
        let key = made.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let fleetd = try await FleetdProcess(config: file, dataDirectory: directory.appendingPathComponent("served"))
        let open = try await http(.GET, fleetd.baseURL + "/v1/models")
        #expect(open.status == 200, "no key made here: open")
        let refused = try await http(.GET, fleetd.baseURL + "/v1/models", headers: [("authorization", "Bearer \(key)")])
        #expect(refused.status == 401 && refused.body.contains("not known to this fleetd"), "\(refused.status) \(refused.body)")
        fleetd.signal(SIGTERM)
        #expect(await fleetd.waitForExit() == 0)
    }

    @Test func migrationScriptWrapsTheCommand() async throws {
        let directory = try temporaryDirectory()
        let old = directory.appendingPathComponent("old.json")
        try #"{"fleet": {"id": "j"}, "agents": [{"type": "a", "count": 1}]}"#.write(to: old, atomically: true, encoding: .utf8)
        let script = try await ChildProcess.run(
            executable: "/bin/bash", arguments: [repository.appendingPathComponent("migrations/1.0.4-to-1.0.5.sh").path, old.path],
            environment: FleetdProcess.baseEnvironment.merging(["FLEETD": FleetdProcess.binary.path]) { $1 })
        let text = String(decoding: script.output, as: UTF8.self)
        #expect(script.status == 0)
        #expect(text.contains("streaming:") && text.contains("features:") && text.contains("id: j"))
    }
}
