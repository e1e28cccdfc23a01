import FakeProvider
import Foundation
import Testing

/// A v1.0.4 config runs unmodified: its `database.filename` may name a folder that does not exist
/// yet, its `ai.model` is the model fleetd calls, and the provider's base URL can come from the
/// variable the official SDK reads, so the file can be pointed at a proxy or a test server.
@Suite("v1.0.4 configs, unmigrated")
struct LegacyConfigTests {
    /// The repository's v1.0.4 example with a production-style database path and a free port.
    static func legacyConfig() throws -> String {
        let example = try String(contentsOfFile: "migrations/examples/fleet-1.0.4.yaml", encoding: .utf8)
        return example.replacingOccurrences(of: "filename: fleet.db", with: "filename: ./data/fleet-eu.db")
    }

    /// The example binds 0.0.0.0 and configures no credential, which fleetd now refuses to serve
    /// (README, "Authentication"; tested in AuthEndToEndTests); these tests are about the file's
    /// other settings, so they serve it on loopback.
    static let loopback = ["--host", "127.0.0.1"]

    @Test func anUnmigratedFileCallsItsAIModelThroughTheSDKBaseURLVariable() async throws {
        let fake = try await FakeProviderServer.start(script: .always(try .fixture("providers/anthropic-nonstream-docs-example.json")))
        let directory = try temporaryDirectory()
        let file = directory.appendingPathComponent("fleet.yaml")
        try Self.legacyConfig().write(to: file, atomically: true, encoding: .utf8)
        let data = directory.appendingPathComponent("data")
        let fleetd = try await FleetdProcess(config: file, dataDirectory: data, environment: [
            "ANTHROPIC_API_KEY": "sk-ant-test-legacy", "ANTHROPIC_BASE_URL": fake.baseURL,
        ], extraArguments: Self.loopback)
        let result = try await http(.POST, fleetd.baseURL + "/v1/tasks", body: #"{"prompt": "Hello"}"#)
        #expect(result.status == 200, "\(result.body)")
        #expect(result.json["model"] as? String == "claude-sonnet-4-5-20250929")
        #expect(result.json["provider"] as? String == "anthropic")
        #expect(result.json["localDefault"] as? Bool == false)
        // The call went to the fake, on Anthropic's wire format, for the file's model id.
        let request = try #require(fake.requests.first)
        #expect(request.path == "/v1/messages")
        #expect(request.jsonBody?["model"] as? String == "claude-sonnet-4-5-20250929")
        // The store lives where the file says, in a folder fleetd created.
        #expect(FileManager.default.fileExists(atPath: data.appendingPathComponent("data/fleet-eu.db").path))
        fleetd.signal(SIGTERM)
        #expect(await fleetd.waitForExit() == 0)
        await fake.shutdown()
    }

    @Test func withoutAKeyTheLabelledLocalDefaultAnswers() async throws {
        let directory = try temporaryDirectory()
        let file = directory.appendingPathComponent("fleet.yaml")
        try Self.legacyConfig().write(to: file, atomically: true, encoding: .utf8)
        let fleetd = try await FleetdProcess(config: file, dataDirectory: directory.appendingPathComponent("data"), extraArguments: Self.loopback)
        let result = try await http(.POST, fleetd.baseURL + "/v1/tasks", body: #"{"prompt": "Hello"}"#)
        #expect(result.status == 200, "\(result.body)")
        #expect(result.json["localDefault"] as? Bool == true)
        #expect(fleetd.logText.contains("ANTHROPIC_API_KEY is not set"))
        fleetd.signal(SIGTERM)
        #expect(await fleetd.waitForExit() == 0)
    }
}
