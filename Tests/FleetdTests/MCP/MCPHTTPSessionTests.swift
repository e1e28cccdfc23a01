import FakeProvider
import Fleet
import FleetSupport
import Foundation
import Testing
@testable import fleetd

/// `/mcp` sessions over raw Streamable HTTP: an MCP session that ends ends what it was running
/// (a `run_task` call in flight when the client sends `DELETE /mcp` stops its provider call and
/// gives its agent back, instead of running, and being billed, to `fleet.taskTimeout` for a
/// client that can no longer receive it); `fleetd://config` keeps secrets and the whole fleet's
/// settings to itself.
@Suite(.serialized) struct MCPHTTPSessionTests {
    static let headers = [("Content-Type", "application/json"), ("Accept", "application/json, text/event-stream")]

    @Test func deletingASessionCancelsItsRunningToolCall() async throws {
        let (gate, fake, fleetd) = try await MCPSDKTests.startHeldFleet()
        let url = fleetd.baseURL + "/mcp"

        let initialize = #"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}"#
        let opened = try await http(.POST, url, body: initialize, headers: Self.headers)
        let session = try #require(opened.headers["mcp-session-id"].first, "\(opened.status) \(opened.body)")
        let inSession = Self.headers + [("Mcp-Session-Id", session)]
        #expect(try await http(.POST, url, body: #"{"jsonrpc":"2.0","method":"notifications/initialized"}"#, headers: inSession).status == 202)

        // A run_task whose provider answers one chunk and then holds.
        let call = #"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"run_task","arguments":{"prompt":"HOLDME and wait","id":"mcp-held"}}}"#
        let held = Task { try await http(.POST, url, body: call, headers: inSession) }
        #expect(await eventually(timeout: .seconds(10)) { fake.openConnections == 1 }, "the provider call started")
        #expect(try await http(.GET, fleetd.baseURL + "/v1/tasks/mcp-held").json["status"] as? String == "running")

        let ended = try await http(.DELETE, url, headers: [("Mcp-Session-Id", session)])
        #expect(ended.status == 200, "\(ended.body)")
        #expect(try await eventually(timeout: .seconds(5)) {
            try await http(.GET, fleetd.baseURL + "/v1/tasks/mcp-held").body.contains("TASK_CANCELLED")
        }, "the session's task was cancelled when the session ended")
        #expect(await eventually(timeout: .seconds(5)) { fake.openConnections == 0 }, "its provider call was closed: \(fake.openConnections)")
        _ = try? await held.value
        // The one general agent is free again: the next task runs at once.
        let next = try await http(.POST, fleetd.baseURL + "/v1/tasks", body: #"{"prompt": "Say ten tokens.", "stream": true}"#)
        #expect(next.status == 200 && next.body.contains("event: complete"), "\(next.body)")

        fleetd.signal(SIGTERM)
        #expect(await fleetd.waitForExit() == 0)
        gate.open()
        await fake.shutdown()
    }

    /// Literal tokens an operator wrote for an agent type's MCP servers are not shown; a value
    /// that only names a variable is.
    @Test func theConfigResourceRedactsToolServerSecrets() throws {
        let config = try ConfigLoader.load(text: """
        fleet: {id: x}
        agents:
          - type: coder
            count: 1
            config:
              mcpServers:
                - {name: gh, command: gh-mcp, env: {GITHUB_TOKEN: ghp_literalsecret123, HOME_DIR: "${HOME}", API: "${API_TOKEN:-sk-default-secret}"}}
                - {name: web, url: "https://tools.example/mcp", headers: {Authorization: "Bearer sk-live-abc"}}
        """, environment: ["HOME": "/root"]).config
        let json = String(decoding: try FastJSONEncoder().encode(RedactedConfig(config, generation: 1)), as: UTF8.self)
        #expect(!json.contains("ghp_literalsecret123") && !json.contains("sk-live-abc") && !json.contains("sk-default-secret"), "\(json)")
        #expect(json.contains("(set, redacted)") && json.contains("${HOME}") && json.contains("gh-mcp"), "\(json)")
    }

    /// A tenant's caller may not read the whole fleet's config (its budgets, every agent type).
    @Test func aTenantsCallerMayNotReadTheFleetsConfig() async throws {
        let directory = try temporaryDirectory()
        let file = directory.appendingPathComponent("fleet.yaml")
        try MCPSDKTests.config(baseURL: "http://127.0.0.1:9").write(to: file, atomically: true, encoding: .utf8)
        let admin = "mcp-admin-config"
        let fleetd = try await FleetdProcess(config: file, dataDirectory: directory.appendingPathComponent("data"),
                                             environment: ["FLEETD_ADMIN_TOKEN": admin])
        let key = try await AuthFixture.makeKey(fleetd, admin: admin, #"{"tenant": "acme"}"#).key
        let read = #"{"jsonrpc":"2.0","id":2,"method":"resources/read","params":{"uri":"fleetd://config"}}"#
        for (caller, allowed) in [(key, false), (admin, true)] {
            let auth = [("Authorization", "Bearer \(caller)")]
            let initialize = #"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}"#
            let opened = try await http(.POST, fleetd.baseURL + "/mcp", body: initialize, headers: Self.headers + auth)
            let session = try #require(opened.headers["mcp-session-id"].first, "\(opened.status) \(opened.body)")
            let inSession = Self.headers + auth + [("Mcp-Session-Id", session)]
            _ = try await http(.POST, fleetd.baseURL + "/mcp", body: #"{"jsonrpc":"2.0","method":"notifications/initialized"}"#, headers: inSession)
            let answer = try await http(.POST, fleetd.baseURL + "/mcp", body: read, headers: inSession)
            if allowed {
                #expect(answer.body.contains("budgetLimits"), "\(answer.body)")
            } else {
                #expect(answer.body.contains("whole fleet") && !answer.body.contains("budgetLimits"), "\(answer.body)")
            }
        }
        fleetd.signal(SIGTERM)
        #expect(await fleetd.waitForExit() == 0)
    }

    /// A client that reopens its GET stream (after a proxy's idle timeout, say) gets a new one:
    /// the old one, which fleetd cannot tell is dead, ends instead of refusing the new one.
    @Test func aNewGetStreamTakesOverFromTheOldOne() async throws {
        let directory = try temporaryDirectory()
        let file = directory.appendingPathComponent("fleet.yaml")
        try MCPSDKTests.config(baseURL: "http://127.0.0.1:9").write(to: file, atomically: true, encoding: .utf8)
        let fleetd = try await FleetdProcess(config: file, dataDirectory: directory.appendingPathComponent("data"))
        let initialize = #"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}"#
        let opened = try await http(.POST, fleetd.baseURL + "/mcp", body: initialize, headers: Self.headers)
        let session = try #require(opened.headers["mcp-session-id"].first, "\(opened.status) \(opened.body)")
        _ = try await http(.POST, fleetd.baseURL + "/mcp", body: #"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
                           headers: Self.headers + [("Mcp-Session-Id", session)])
        let get = "GET /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\nMcp-Session-Id: \(session)\r\n\r\n"
        let first = try RawConnection(port: fleetd.port)
        try first.send(get)
        #expect(try first.read(until: "\r\n\r\n", timeout: .seconds(5)).hasPrefix("HTTP/1.1 200"))
        let second = try RawConnection(port: fleetd.port)
        try second.send(get)
        let head = try second.read(until: "\r\n\r\n", timeout: .seconds(5))
        #expect(head.hasPrefix("HTTP/1.1 200") && head.lowercased().contains("text/event-stream"), "\(head)")
        // The first stream was ended (its chunked body's last chunk).
        #expect(try first.read(until: "0\r\n\r\n", timeout: .seconds(5)).contains("0\r\n\r\n"))
        first.close()
        second.close()
        fleetd.signal(SIGTERM)
        #expect(await fleetd.waitForExit() == 0)
    }

    static let initialize = #"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}"#

    /// A refusal before the session sees the request keeps its status and headers, with a
    /// JSON-RPC error body whose message is the reason (the mcp SDK shows it, not "-32603 Server
    /// returned an error response").
    @Test func aRefusedRequestIsAJSONRPCErrorWithTheReason() async throws {
        let directory = try temporaryDirectory()
        let file = directory.appendingPathComponent("fleet.yaml")
        try MCPSDKTests.config(baseURL: "http://127.0.0.1:9").write(to: file, atomically: true, encoding: .utf8)
        let fleetd = try await FleetdProcess(config: file, dataDirectory: directory.appendingPathComponent("data"),
                                             environment: ["API_KEY": "mcp-secret"])
        let callers: [[(String, String)]] = [[], [("Authorization", "Bearer wrong-key")]]
        for auth in callers {
            let refused = try await http(.POST, fleetd.baseURL + "/mcp", body: Self.initialize, headers: Self.headers + auth)
            #expect(refused.status == 401, "\(refused.body)")
            #expect(refused.headers["www-authenticate"].first == "Bearer")
            #expect(refused.json["jsonrpc"] as? String == "2.0" && refused.json["id"] as? Int == 1, "\(refused.body)")
            let error = refused.json["error"] as? [String: Any]
            #expect(error?["code"] as? Int == MCPHTTPError.refusedCode, "\(refused.body)")
            #expect((error?["message"] as? String)?.isEmpty == false, "\(refused.body)")
        }
        fleetd.signal(SIGTERM)
        #expect(await fleetd.waitForExit() == 0)
    }

    /// A key's rpm counts the work a session runs (`tools/call`), not its plumbing: with rpm 2 the
    /// handshake and a tools/list leave both calls, the third is refused as a JSON-RPC error with
    /// Retry-After, and the session's DELETE still ends it.
    @Test func onlyToolCallsCountAgainstAKeysRPM() async throws {
        let directory = try temporaryDirectory()
        let file = directory.appendingPathComponent("fleet.yaml")
        try MCPSDKTests.config(baseURL: "http://127.0.0.1:9").write(to: file, atomically: true, encoding: .utf8)
        let admin = "mcp-admin-rpm"
        let fleetd = try await FleetdProcess(config: file, dataDirectory: directory.appendingPathComponent("data"),
                                             environment: ["FLEETD_ADMIN_TOKEN": admin])
        let key = try await AuthFixture.makeKey(fleetd, admin: admin, #"{"tenant": "acme", "rpm": 2}"#).key
        let auth = [("Authorization", "Bearer \(key)")]
        let url = fleetd.baseURL + "/mcp"
        let opened = try await http(.POST, url, body: Self.initialize, headers: Self.headers + auth)
        let session = try #require(opened.headers["mcp-session-id"].first, "\(opened.status) \(opened.body)")
        let inSession = Self.headers + auth + [("Mcp-Session-Id", session)]
        #expect(try await http(.POST, url, body: #"{"jsonrpc":"2.0","method":"notifications/initialized"}"#, headers: inSession).status == 202)
        let list = try await http(.POST, url, body: #"{"jsonrpc":"2.0","id":2,"method":"tools/list"}"#, headers: inSession)
        #expect(list.status == 200 && list.body.contains("run_task"), "\(list.status) \(list.body)")
        for id in 3...4 {
            let call = #"{"jsonrpc":"2.0","id":\#(id),"method":"tools/call","params":{"name":"models","arguments":{}}}"#
            let answer = try await http(.POST, url, body: call, headers: inSession)
            #expect(answer.status == 200, "tools/call \(id): \(answer.status) \(answer.body)")
        }
        let over = try await http(.POST, url, body: #"{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"models","arguments":{}}}"#,
                                  headers: inSession)
        #expect(over.status == 429, "\(over.body)")
        #expect(over.headers["retry-after"].first != nil)
        #expect(over.json["id"] as? Int == 5, "\(over.body)")
        #expect(((over.json["error"] as? [String: Any])?["message"] as? String)?.contains("rpm") == true, "\(over.body)")
        let ended = try await http(.DELETE, url, headers: auth + [("Mcp-Session-Id", session)])
        #expect(ended.status == 200, "\(ended.body)")
        fleetd.signal(SIGTERM)
        #expect(await fleetd.waitForExit() == 0)
    }
}
