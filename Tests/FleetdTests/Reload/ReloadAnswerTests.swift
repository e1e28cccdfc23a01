import AsyncHTTPClient
import Fleet
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import Providers
import Testing
@testable import fleetd

/// `POST /v1/admin/reload` answers once the new config is in force: the caller's very next
/// request (no wait, no polling) sees the new flags, agents and HTTP limits; an invalid file is
/// answered with its errors and the running config keeps serving.
@Suite("Admin reload answers after the config is in force", .timeLimit(.minutes(1)))
struct ReloadAnswerTests {
    let token = "reload-answer-token"

    func config(streaming: Bool, agents: Int, maxBodyBytes: Int = 1_048_576) -> String {
        """
        fleet: {id: reload-answer, maxAgents: 4, taskTimeout: 20000}
        agents:
          - {type: general, count: \(agents)}
        api: {host: 127.0.0.1, port: 0, maxBodyBytes: \(maxBodyBytes)}
        features: {multiModelRouter: true, streaming: \(streaming)}
        streaming: {enabled: true}
        routing:
          enabled: true
          defaultModel: quick
          models:
            - {name: quick, provider: builtin, model: fleetd-builtin}
        """
    }

    /// Replaces `url` in one step (the file watcher never reads a half-written file).
    func write(_ text: String, to url: URL) throws {
        let temporary = url.deletingLastPathComponent().appendingPathComponent(".tmp-\(UUID().uuidString)")
        try text.write(to: temporary, atomically: false, encoding: .utf8)
        #expect(rename(temporary.path, url.path) == 0)
    }

    /// fleetd built in process on a real config file (so that it can be reloaded), with the admin
    /// token, its services running (the file watcher among them); `body` gets the client and the file.
    func withFleetdOnFile<Value>(_ yaml: String, _ body: @Sendable (any TestClientProtocol, URL) async throws -> Value) async throws -> Value {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("fleet.yaml")
        try write(yaml, to: file)
        let environment = ["FLEETD_ADMIN_TOKEN": token]
        let loaded = try ConfigLoader.load(path: file.path, environment: environment)
        let settings = ServiceSettings(configPath: file.path, dataDirectory: directory, environmentOption: nil, processEnvironment: environment)
        var logger = Logger(label: "fleetd-reload-answer-test")
        logger.logLevel = .warning
        return try await withBuiltApplication(loaded: loaded, settings: settings, logger: logger) { app in
            try await app.test(.router) { client in try await body(client, file) }
        }
    }

    @Test("after the reload's answer, the next requests see its flag, its agents and its body limit")
    func theNextRequestSeesTheReloadedConfig() async throws {
        let auth: HTTPFields = [.authorization: "Bearer \(token)"]
        try await withFleetdOnFile(config(streaming: false, agents: 1)) { client, file in
            let big = #"{"prompt": ""# + String(repeating: "x", count: 3_000) + #""}"#
            #expect(try await client.send(.post, "/v1/route", json: big).status == .ok)
            // Several edits, each read back at once: a reload that answered before the manager and
            // the HTTP layer took its config is caught by one of them.
            for (round, streaming) in [true, false, true].enumerated() {
                let agents = round + 2
                try write(config(streaming: streaming, agents: agents, maxBodyBytes: 2_048), to: file)
                let reload = try await client.send(.post, "/v1/admin/reload", headers: auth)
                #expect(reload.status == .ok, "\(reload.text)")
                let changed = reload.object["changed"] as? [String] ?? []
                #expect(changed.contains("features") && changed.contains("agents"), "\(reload.text)")
                #expect(changed.contains("api.maxBodyBytes") == (round == 0), "\(reload.text)")
                #expect((reload.object["needsRestart"] as? [String])?.isEmpty == true, "\(reload.text)")
                let generation = try #require(reload.object["generation"] as? Int)

                let flags = try await client.send(.get, "/v1/flags")
                #expect(jsonValue(flags.object, "flags.streaming.enabled") as? Bool == streaming, "round \(round): \(flags.text)")
                #expect(flags.object["configGeneration"] as? Int == generation)
                let listed = try await client.send(.get, "/v1/agents").object["agents"] as? [[String: Any]] ?? []
                #expect(listed.count == agents, "round \(round): the manager runs the new agent count")
                #expect(try await client.send(.post, "/v1/route", json: big).status == .contentTooLarge,
                        "round \(round): the HTTP layer has the new body limit")
            }
        }
    }

    @Test("an invalid file is answered 422 with its errors, and the running config keeps serving")
    func anInvalidFileIsRefusedAndTheRunningConfigStays() async throws {
        let auth: HTTPFields = [.authorization: "Bearer \(token)"]
        try await withFleetdOnFile(config(streaming: false, agents: 1)) { client, file in
            #expect(try await client.send(.post, "/v1/tasks", json: #"{"prompt": "hello"}"#).status == .ok)
            let before = try await client.send(.get, "/v1/flags").object["configGeneration"] as? Int

            try write("agents: [{type: general, count: 3}]\nfeatures:\n  streaming: [1]\n", to: file)
            let refused = try await client.send(.post, "/v1/admin/reload", headers: auth)
            #expect(refused.status == .unprocessableContent, "\(refused.text)")
            #expect(refused.apiError["code"] as? String == ConfigError.code)
            let details = refused.apiError["details"] as? [String] ?? []
            #expect(details.contains(where: { $0.contains("features.streaming") }), "\(refused.text)")

            let flags = try await client.send(.get, "/v1/flags")
            #expect(jsonValue(flags.object, "flags.streaming.enabled") as? Bool == false)
            #expect(flags.object["configGeneration"] as? Int == before, "no new generation")
            let listed = try await client.send(.get, "/v1/agents").object["agents"] as? [[String: Any]] ?? []
            #expect(listed.count == 1)
            let task = try await client.send(.post, "/v1/tasks", json: #"{"prompt": "still serving"}"#)
            #expect(task.status == .ok, "\(task.text)")
        }
    }
}
