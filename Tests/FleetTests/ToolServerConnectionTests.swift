import AsyncHTTPClient
import FakeProvider
import Foundation
import Logging
import Providers
import Synchronization
import Testing
@testable import ToolServers

/// How fleetd reaches an agent type's tool servers: what a started (stdio) server gets of
/// fleetd's environment, the headers of the Streamable HTTP requests, and a call given up while
/// the server holds it (the fake provider server plays a small MCP server and records them).
@Suite struct ToolServerConnectionTests {
    @Test("a stdio server gets HOME, LOGNAME, PATH, SHELL, TERM and USER of fleetd's environment and its env, none of fleetd's secrets")
    func stdioEnvironment() {
        let fleetd = [
            "HOME": "/home/fleetd", "LOGNAME": "fleetd", "PATH": "/usr/bin:/bin", "SHELL": "/bin/sh", "TERM": "xterm", "USER": "fleetd",
            "ANTHROPIC_API_KEY": "sk-ant", "OPENAI_API_KEY": "sk-oai", "JWT_SECRET": "jwt", "FLEETD_ADMIN_TOKEN": "admin",
            "GITHUB_TOKEN": "ghp-1", "LANG": "C.UTF-8",
        ]
        // `env` as the config gives it: `GITHUB_TOKEN: "${GITHUB_TOKEN}"` passes one through, and
        // a configured PATH wins over fleetd's.
        let environment = ToolServerConnection.processEnvironment(
            configured: ["GITHUB_TOKEN": "ghp-1", "PATH": "/opt/node/bin:/usr/bin", "LOG_LEVEL": "warn"], inherited: fleetd)
        #expect(environment == [
            "HOME": "/home/fleetd", "LOGNAME": "fleetd", "PATH": "/opt/node/bin:/usr/bin", "SHELL": "/bin/sh", "TERM": "xterm",
            "USER": "fleetd", "GITHUB_TOKEN": "ghp-1", "LOG_LEVEL": "warn",
        ])
        // An unset variable stays unset; a shell function's value is not passed on (as the MCP SDKs do).
        #expect(ToolServerConnection.processEnvironment(configured: [:], inherited: ["PATH": "/bin", "HOME": "() { :; }"]) == ["PATH": "/bin"])
    }

    @Test("an HTTPS tool server behind a private CA is reached with the client that trusts FLEETD_EXTRA_CA_CERTS, and not without it")
    func httpsServerBehindAPrivateCA() async throws {
        let tls = try FakeTLS.make()
        let fake = try await FakeProviderServer.start(script: Self.mcpServer(version: "2025-06-18"), tls: tls)
        let url = try #require(URL(string: fake.baseURL + "/mcp"))
        let spec = ToolServerSpec(name: "private", transport: .http(url: url, headers: [:]))
        let trusting = ProviderClientFactory.makeHTTPClient(trust: try tls.providerTrust())
        let reached = ToolServerConnection(spec: spec, logger: Logger(label: "tool-server-test"), httpClient: trusting)
        #expect(await reached.tools().count == 1)
        #expect(fake.requests.contains { $0.httpVersion == 2 }, "HTTPS is HTTP/2 with this server")
        await reached.close()
        let seen = fake.requests.count
        // AsyncHTTPClient's shared client trusts only the system's CAs: the handshake fails, no request arrives.
        let refused = ToolServerConnection(spec: spec, logger: Logger(label: "tool-server-test"), connectTimeout: .seconds(2))
        #expect(await refused.tools().isEmpty)
        #expect(fake.requests.count == seen)
        await refused.close()
        try await trusting.shutdown()
        await fake.shutdown()
    }

    @Test("over Streamable HTTP every request after initialize carries MCP-Protocol-Version, the version the server chose")
    func protocolVersionHeader() async throws {
        // Not the SDK's own latest (2025-11-25, what the client asks for): the header carries the server's choice.
        let fake = try await FakeProviderServer.start(script: Self.mcpServer(version: "2025-06-18"))
        let url = try #require(URL(string: fake.baseURL + "/mcp"))
        let spec = ToolServerSpec(name: "fake", transport: .http(url: url, headers: ["Authorization": "Bearer t"]))
        let connection = ToolServerConnection(spec: spec, logger: Logger(label: "tool-server-test"))
        let tools = await connection.tools()
        await connection.close() // ends the session: a DELETE
        await fake.shutdown()

        #expect(tools.count == 1)
        let requests = fake.requests
        let methods = requests.map { $0.method == "POST" ? ($0.jsonBody?["method"] as? String ?? "?") : $0.method }
        #expect(methods == ["initialize", "notifications/initialized", "tools/list", "DELETE"], "\(methods)")
        #expect(requests.first?.header("MCP-Protocol-Version") == nil, "initialize carries no version: none is negotiated yet")
        for (method, request) in zip(methods, requests).dropFirst() {
            #expect(request.header("MCP-Protocol-Version") == "2025-06-18", "\(method)")
            #expect(request.header("Mcp-Session-Id") == "session-1", "\(method)")
            #expect(request.header("Authorization") == "Bearer t", "\(method)")
        }
    }

    @Test("a Streamable HTTP call given up while the server holds its answer: its request's connection is closed at once, and the server gets notifications/cancelled")
    func cancelledCallReleasesItsConnection() async throws {
        let gate = FakeGate()
        let fake = try await FakeProviderServer.start(script: Self.mcpServer(version: "2025-06-18", holdingCallsAt: gate))
        let url = try #require(URL(string: fake.baseURL + "/mcp"))
        let connection = ToolServerConnection(spec: ToolServerSpec(name: "fake", transport: .http(url: url, headers: [:])),
                                              logger: Logger(label: "tool-server-test"))
        #expect(await connection.tools().count == 1)
        let call = Task { try await connection.call("echo", arguments: [:]) }
        // The call is in the server, which holds its answer; every other request's connection was
        // closed after its answer (`connection: close`), so the call's is the one open.
        let isCall = { (request: RecordedRequest) in request.jsonBody?["method"] as? String == "tools/call" }
        #expect(await waitUntil { fake.requests.contains(where: isCall) && fake.openConnections == 1 }, "\(fake.openConnections) open")

        // The task gives up (its client left, or the tool's timeout cancelled it).
        call.cancel()
        await #expect(throws: CancellationError.self) { try await call.value }
        #expect(await waitUntil { fake.openConnections == 0 }, "the call's request still holds its connection: \(fake.openConnections) open")
        let callID = fake.requests.first(where: isCall)?.jsonBody?["id"] as? String
        // The notice goes on a connection of its own, which may arrive after the call's closed.
        let isCancelled = { (request: RecordedRequest) in request.jsonBody?["method"] as? String == "notifications/cancelled" }
        #expect(await waitUntil { fake.requests.contains(where: isCancelled) }, "no notifications/cancelled arrived")
        let cancelled = fake.requests.first(where: isCancelled)
        let cancelledID = (cancelled?.jsonBody?["params"] as? [String: Any])?["requestId"] as? String
        #expect(callID != nil && cancelledID == callID, "\(fake.requests.map { String(decoding: $0.body, as: UTF8.self) })")

        await connection.close()
        gate.open()
        await fake.shutdown()
    }

    @Test("the version is taken only from a response's result, and only when it is fit for a header")
    func negotiatedVersion() {
        func version(_ json: String) -> String? { HTTPToolServerTransport.negotiatedVersion(in: Data(json.utf8)) }
        #expect(version(#"{"jsonrpc":"2.0","id":"a","result":{"protocolVersion":"2025-06-18","capabilities":{}}}"#) == "2025-06-18")
        #expect(version(#"{"jsonrpc":"2.0","method":"x","params":{},"result":{"protocolVersion":"2025-06-18"}}"#) == nil)
        #expect(version(#"{"jsonrpc":"2.0","id":"a","result":{"protocolVersion":"2025-06-18\r\nX-Evil: 1"}}"#) == nil)
        #expect(version(#"{"jsonrpc":"2.0","id":"a","error":{"code":-32602,"message":"no"}}"#) == nil)
        #expect(HTTPToolServerTransport.isInitializeRequest(Data(#"{"jsonrpc":"2.0","id":"a","method":"initialize","params":{}}"#.utf8)))
        #expect(!HTTPToolServerTransport.isInitializeRequest(Data(#"{"jsonrpc":"2.0","id":"b","method":"tools/list"}"#.utf8)))
    }

    /// A Streamable HTTP MCP server in miniature: answers `initialize` over SSE (as the Python
    /// SDK's server does) with `version` and a session id, accepts notifications (202), lists one
    /// tool as JSON, answers its calls with `ok`, and accepts the session's DELETE.
    ///
    /// With `gate`, a call's answer is an SSE stream that sends nothing until the gate opens, and
    /// every other answer says `connection: close` (so only held calls keep a connection open).
    static func mcpServer(version: String, holdingCallsAt gate: FakeGate? = nil) -> FakeScript {
        let closing: [(String, String)] = gate == nil ? [] : [("connection", "close")]
        return FakeScript { request, _ in
            guard request.method == "POST" else { return FakeResponse(status: 200, headers: closing) }
            let message = request.jsonBody ?? [:]
            let id: String
            if let text = message["id"] as? String {
                id = "\"\(text)\""
            } else if let number = message["id"] as? Int {
                id = String(number)
            } else {
                return FakeResponse(status: 202, reason: "Accepted", headers: closing) // a notification
            }
            let method = message["method"] as? String ?? ""
            let result = switch method {
            case "initialize": #"{"protocolVersion":"\#(version)","capabilities":{"tools":{}},"serverInfo":{"name":"fake","version":"1"}}"#
            case "tools/list": #"{"tools":[{"name":"echo","inputSchema":{"type":"object","properties":{}}}]}"#
            case "tools/call": #"{"content":[{"type":"text","text":"ok"}]}"#
            default: "{}"
            }
            let answer = #"{"jsonrpc":"2.0","id":\#(id),"result":\#(result)}"#
            if method == "tools/call", let gate {
                return FakeResponse(headers: [("content-type", "text/event-stream")] + closing,
                                    body: .held([], gate: gate, then: Array("data: \(answer)\n\n".utf8)))
            }
            guard method != "initialize" else {
                var response = FakeResponse.sse([answer])
                response.headers.append(("mcp-session-id", "session-1"))
                response.headers += closing
                return response
            }
            return FakeResponse(headers: [("content-type", "application/json")] + closing, body: .bytes(Array(answer.utf8)))
        }
    }
}

/// A stdio server's standard error, cut into the lines fleetd logs.
@Suite struct ToolServerStderrLinesTests {
    @Test("a line that arrives in two reads is one line; the end hands over what is left; empty lines are dropped")
    func linesAcrossReads() {
        let lines = LineAssembler()
        #expect(lines.add(Data("first li".utf8)).isEmpty)
        #expect(lines.add(Data("ne\n\nsecond\nthi".utf8)) == ["first line", "second"])
        #expect(lines.add(Data("rd".utf8)).isEmpty)
        #expect(lines.add(Data()) == ["third"])
        #expect(lines.add(Data()).isEmpty)
    }

    @Test("a line with no newline is handed over once it is 64 KiB long")
    func longLine() {
        let lines = LineAssembler()
        #expect(lines.add(Data(repeating: UInt8(ascii: "x"), count: LineAssembler.longest - 1)).isEmpty)
        #expect(lines.add(Data("y".utf8)).map(\.count) == [LineAssembler.longest])
    }

    @Test("a started server's standard error reaches the log line by line, though it writes a line in two parts")
    func startedServerLines() async throws {
        let logged = Mutex<[String]>([])
        let server = try await ServerProcess.start(
            executable: "/bin/sh", arguments: ["-c", "printf 'par' >&2; sleep 0.3; printf 'tial\\nsecond\\n' >&2; printf 'last' >&2"],
            environment: ["PATH": "/usr/bin:/bin"], directory: nil,
            logLines: { line in logged.withLock { $0.append(String(line)) } }, onExit: { _, _ in })
        let deadline = ContinuousClock.now + .seconds(5)
        while logged.withLock({ $0.count }) < 3, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
        #expect(logged.withLock { $0 } == ["partial", "second", "last"])
        #expect(server.exitStatus == 0 || server.isRunning)
    }
}
