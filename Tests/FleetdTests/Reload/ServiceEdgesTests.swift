import FakeProvider
import Foundation
import Testing

/// CORS from `api.cors`, readiness that means it, and a request's `maxTokens` honoured up to the
/// model's `maxOutputTokens`.
@Suite(.serialized) struct ServiceEdgesTests {
    func config(baseURL: String, cors: String = "false") -> String {
        """
        fleet: {id: edges, maxAgents: 2}
        agents: [{type: general, count: 2}]
        api: {host: 127.0.0.1, cors: \(cors)}
        features: {multiModelRouter: true, streaming: false}
        routing:
          enabled: true
          defaultModel: capped
          health: {failureThreshold: 1, cooldownSeconds: 60}
          models:
            - name: capped
              provider: anthropic
              model: capped-model
              credentials: {endpoint: "\(baseURL)"}
              capabilities: {maxOutputTokens: 2000}
            - name: open
              provider: anthropic
              model: open-model
              credentials: {endpoint: "\(baseURL)"}
        """
    }

    @Test func corsHeadersFollowTheConfiguredOrigins() async throws {
        let directory = try temporaryDirectory()
        let file = directory.appendingPathComponent("fleet.yaml")
        try config(baseURL: "http://127.0.0.1:9", cors: #"["https://ops.example.com"]"#).write(to: file, atomically: true, encoding: .utf8)
        let fleetd = try await FleetdProcess(config: file, dataDirectory: directory.appendingPathComponent("data"))
        let allowed = try await http(.GET, fleetd.baseURL + "/v1/models", headers: [("origin", "https://ops.example.com")])
        #expect(allowed.headers.first(name: "access-control-allow-origin") == "https://ops.example.com")
        let other = try await http(.GET, fleetd.baseURL + "/v1/models", headers: [("origin", "https://evil.example.com")])
        #expect(other.headers.first(name: "access-control-allow-origin") == nil)
        let preflight = try await http(.OPTIONS, fleetd.baseURL + "/v1/tasks", headers: [
            ("origin", "https://ops.example.com"), ("access-control-request-method", "POST"),
        ])
        #expect(preflight.headers.first(name: "access-control-allow-methods")?.contains("POST") == true)
        // What browser clients send and read: the SDKs' own headers, MCP's session header both ways.
        let allowedHeaders = preflight.headers.first(name: "access-control-allow-headers")?.lowercased() ?? ""
        for header in ["mcp-session-id", "mcp-protocol-version", "anthropic-version", "x-stainless-os", "x-api-key"] {
            #expect(allowedHeaders.contains(header), "\(header) in \(allowedHeaders)")
        }
        #expect(allowed.headers.first(name: "access-control-expose-headers")?.lowercased().contains("mcp-session-id") == true,
                "\(allowed.headers)")
        fleetd.signal(SIGTERM)
        #expect(await fleetd.waitForExit() == 0)
    }

    @Test func readyzIsNotReadyWhenNoModelCanServe() async throws {
        let fake = try await FakeProviderServer.start(script: .always(.status(429, headers: [("retry-after", "120")])))
        let directory = try temporaryDirectory()
        let file = directory.appendingPathComponent("fleet.yaml")
        try config(baseURL: fake.baseURL).write(to: file, atomically: true, encoding: .utf8)
        let fleetd = try await FleetdProcess(config: file, dataDirectory: directory.appendingPathComponent("data"),
                                             environment: ["ANTHROPIC_API_KEY": "sk-ant-ready"])
        #expect(try await http(.GET, fleetd.baseURL + "/readyz").status == 200)
        // Both models' provider answers 429 for two minutes: after one task, no breaker accepts calls.
        _ = try await http(.POST, fleetd.baseURL + "/v1/tasks", body: #"{"prompt": "hi", "preferredModel": "capped"}"#)
        _ = try await http(.POST, fleetd.baseURL + "/v1/tasks", body: #"{"prompt": "hi", "preferredModel": "open"}"#)
        let ready = try await http(.GET, fleetd.baseURL + "/readyz")
        #expect(ready.status == 503, "\(ready.body)")
        #expect((ready.json["problems"] as? [String])?.first?.contains("no model can serve") == true)
        #expect(try await http(.GET, fleetd.baseURL + "/healthz").status == 200, "alive, just not ready")
        fleetd.signal(SIGTERM)
        #expect(await fleetd.waitForExit() == 0)
        await fake.shutdown()
    }

    @Test func maxTokensIsHonouredUpToTheModelsOutputLimit() async throws {
        let fake = try await FakeProviderServer.start(script: .always(try .fixture("providers/anthropic-nonstream-docs-example.json")))
        let directory = try temporaryDirectory()
        let file = directory.appendingPathComponent("fleet.yaml")
        try config(baseURL: fake.baseURL).write(to: file, atomically: true, encoding: .utf8)
        let fleetd = try await FleetdProcess(config: file, dataDirectory: directory.appendingPathComponent("data"),
                                             environment: ["ANTHROPIC_API_KEY": "sk-ant-tokens"])
        #expect(try await http(.POST, fleetd.baseURL + "/v1/tasks", body: #"{"prompt": "hi", "maxTokens": 4000, "preferredModel": "capped"}"#).status == 200)
        #expect(try await http(.POST, fleetd.baseURL + "/v1/tasks",
                               body: #"{"prompt": "hi", "maxTokens": 3000, "preferredModel": "open"}"#).status == 200)
        let sent = fake.requests.compactMap { $0.jsonBody?["max_tokens"] as? Int }
        #expect(sent == [2000, 3000], "capped at the model's maxOutputTokens, else as asked: \(sent)")
        fleetd.signal(SIGTERM)
        #expect(await fleetd.waitForExit() == 0)
        await fake.shutdown()
    }
}
