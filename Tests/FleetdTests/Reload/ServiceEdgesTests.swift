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

    /// A web page from another origin may not run tasks on a fleetd that needs no key (its
    /// plain-text POST needs no preflight); fleetd's own pages, loopback pages, the origins
    /// `api.cors` lists and clients that send no Origin may.
    @Test func aForeignWebPageMayNotRunTasks() async throws {
        let directory = try temporaryDirectory()
        let file = directory.appendingPathComponent("fleet.yaml")
        try config(baseURL: "http://127.0.0.1:9", cors: #"["https://ops.example.com"]"#).write(to: file, atomically: true, encoding: .utf8)
        let fleetd = try await FleetdProcess(config: file, dataDirectory: directory.appendingPathComponent("data"))
        let route = fleetd.baseURL + "/v1/route"
        let body = #"{"prompt": "hi"}"#
        let foreign = try await http(.POST, route, body: body, headers: [("origin", "https://evil.example"), ("content-type", "text/plain")])
        #expect(foreign.status == 403 && foreign.body.contains("api.cors"), "\(foreign.status) \(foreign.body)")
        for origin in ["http://localhost:5173", "https://ops.example.com"] {
            #expect(try await http(.POST, route, body: body, headers: [("origin", origin)]).status == 200, "\(origin)")
        }
        #expect(try await http(.POST, route, body: body).status == 200, "no Origin: not a browser")
        #expect(try await http(.GET, fleetd.baseURL + "/v1/models", headers: [("origin", "https://evil.example")]).status == 200, "reads are CORS's")
        // fleetd's own page (the dashboard) under the machine's name: its origin is the request's host.
        let machine = ProcessInfo.processInfo.hostName
        let own = try RawConnection(port: fleetd.port)
        try own.send("POST /v1/route HTTP/1.1\r\nHost: \(machine):\(fleetd.port)\r\nOrigin: http://\(machine):\(fleetd.port)\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)")
        #expect(try own.read(until: "\r\n\r\n", timeout: .seconds(5)).hasPrefix("HTTP/1.1 200"))
        own.close()
        // A page whose DNS name was rebound to 127.0.0.1 is same-origin with itself; on a loopback
        // listener its Host is not this machine: refused, reads and writes alike.
        for head in ["POST /v1/route HTTP/1.1\r\nContent-Type: text/plain\r\nContent-Length: \(body.utf8.count)\r\n", "GET /v1/costs HTTP/1.1\r\n"] {
            let rebound = try RawConnection(port: fleetd.port)
            try rebound.send(head + "Host: evil.example:\(fleetd.port)\r\nOrigin: http://evil.example:\(fleetd.port)\r\n\r\n" + (head.hasPrefix("POST") ? body : ""))
            #expect(try rebound.read(until: "\r\n\r\n", timeout: .seconds(5)).hasPrefix("HTTP/1.1 403"), "\(head)")
            rebound.close()
        }
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
