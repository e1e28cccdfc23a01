import AsyncHTTPClient
import FakeProvider
import FleetSupport
import Foundation
import NIOCore
import Testing

/// Agents that use MCP tools, end to end: the real `fleetd` binary runs an agent type whose
/// `mcpServers` start Tests/SDK/tool_server.py (the official `mcp` Python SDK) over stdio or reach
/// it over Streamable HTTP, against the fake provider replaying the recorded tool-use
/// transcripts (Tests/Fixtures/providers): the model asks for `get_weather`, fleetd calls it, the
/// result goes back in the provider's own format, the final answer arrives, and both model calls
/// are billed.
@Suite(.serialized) struct MCPAgentToolsTests {
    static let toolServer = SDKCompatibilityTests.repositoryRoot.appendingPathComponent("Tests/SDK/tool_server.py")

    enum Dialect: String { case anthropic, openai }

    /// The first call (no tool result in it yet) gets the recorded tool-use stream; the call that
    /// carries the tool's result gets the recorded text answer.
    static func script(_ dialect: Dialect, alwaysTools: Bool = false, firstFails: Bool = false) -> FakeScript {
        FakeScript { request, index in
            if firstFails && index == 0 { return .status(500, body: #"{"error":{"type":"api_error","message":"down"}}"#) }
            let body = String(decoding: request.body, as: UTF8.self)
            let answered = !alwaysTools && (dialect == .anthropic ? body.contains("\"tool_result\"") : body.contains("\"role\":\"tool\""))
            let fixture = switch (dialect, answered) {
            case (.anthropic, false): "providers/anthropic-stream-sdkfixture-tool-use.sse"
            case (.anthropic, true): "providers/anthropic-stream-sdkfixture-basic.sse"
            case (.openai, false): "providers/openai-chat-stream-sdksnapshot-toolcall-usage.sse"
            case (.openai, true): "providers/openai-chat-stream-sdksnapshot-text-usage.sse"
            }
            return (try? FakeResponse.fixture(fixture)) ?? .status(500, body: "{\"error\":\"fixture missing\"}")
        }
    }

    static func config(baseURL: String, dialect: Dialect, server: String, mcpTools: Bool = true, limits: String = "", twoModels: Bool = false) -> String {
        """
        fleet: {id: tools, maxAgents: 2, taskTimeout: 30000}
        agents:
          - {type: general, count: 1}
          - type: assistant
            count: 1
            config:
              systemPrompt: "Use the tools when they help."
              \(limits)
              mcpServers:
        \(server)
        api: {host: 127.0.0.1}
        features: {multiModelRouter: true, streaming: true, mcpTools: \(mcpTools)}
        routing:
          enabled: true
          defaultModel: main
          models:
            - name: main
              provider: \(dialect.rawValue)
              model: main-model-id
              credentials: {endpoint: "\(baseURL)\(dialect == .openai ? "/v1" : "")"}
              capabilities: {costPer1kTokens: {input: 0.001, output: 0.002}, supportsTools: true}
        \(twoModels ? secondModel(baseURL: baseURL, dialect: dialect) : "")
          costTracking: {enabled: true, budgetLimits: {daily: 100}}
        streaming: {enabled: true, timeoutMs: 20000, retryConfig: {maxRetries: 0, backoffMs: 10}}
        """
    }

    /// A second model for `config`'s list, on the same upstream.
    static func secondModel(baseURL: String, dialect: Dialect) -> String {
        ["    - name: second", "      provider: \(dialect.rawValue)", "      model: second-model-id",
         "      credentials: {endpoint: \"\(baseURL)\(dialect == .openai ? "/v1" : "")\"}",
         "      capabilities: {costPer1kTokens: {input: 0.001, output: 0.002}, supportsTools: true}"].joined(separator: "\n")
    }

    /// Tests/SDK/tool_server.py over Streamable HTTP on `port`, logging its calls to `log`.
    static func startHTTPToolServer(python: String, port: Int, log: URL) async throws -> ChildProcess {
        try await ChildProcess.start(executable: python, arguments: [toolServer.path, "http", String(port)],
                                     environment: FleetdProcess.baseEnvironment.merging(["TOOL_LOG": log.path]) { $1 })
    }

    /// The `mcpServers` entry for `config` of one HTTP server, `weather`, on `port`.
    static func httpServerEntry(port: Int) -> (String, URL) -> String {
        { _, _ in
            """
                    - name: weather
                      url: http://127.0.0.1:\(port)/mcp
            """
        }
    }

    /// Whether something answers HTTP on `port`'s `/mcp`.
    static func isUp(port: Int) async -> Bool {
        (try? await http(.GET, "http://127.0.0.1:\(port)/mcp")) != nil
    }

    /// The outcome of a task's first tool call (`none` when it made none).
    static func firstCallOutcome(_ response: (status: Int, complete: [String: Any], body: String)) -> String {
        (((response.complete["toolUse"] as? [String: Any])?["calls"] as? [[String: Any]])?.first?["outcome"] as? String) ?? "none"
    }

    /// The stdio server entry for `config`, started with the SDK's venv Python.
    static func stdioServer(python: String, mode: String = "ok", log: URL) -> String {
        """
                - name: weather
                  command: \(python)
                  args: ["\(toolServer.path)"]
                  env: {WEATHER_MODE: \(mode), TOOL_LOG: "\(log.path)"}
        """
    }

    /// One fleetd with the fake provider and the tool server; `body` gets both and the tool log.
    func withFleet(_ dialect: Dialect, mode: String = "ok", mcpTools: Bool = true, limits: String = "", alwaysTools: Bool = false,
                   twoModels: Bool = false, environment: [String: String] = [:],
                   server: ((String, URL) -> String)? = nil,
                   _ body: (FleetdProcess, FakeProviderServer, URL) async throws -> Void) async throws {
        let python = try await SDKCompatibilityTests.python()
        let fake = try await FakeProviderServer.start(script: Self.script(dialect, alwaysTools: alwaysTools, firstFails: twoModels))
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let log = directory.appendingPathComponent("tool-calls.jsonl")
        let file = directory.appendingPathComponent("fleet.yaml")
        let entry = server?(python, log) ?? Self.stdioServer(python: python, mode: mode, log: log)
        try Self.config(baseURL: fake.baseURL, dialect: dialect, server: entry, mcpTools: mcpTools, limits: limits, twoModels: twoModels)
            .write(to: file, atomically: true, encoding: .utf8)
        let fleetd = try await FleetdProcess(config: file, dataDirectory: directory.appendingPathComponent("data"),
                                             environment: ["ANTHROPIC_API_KEY": "test-anthropic", "OPENAI_API_KEY": "test-openai"]
                                                 .merging(environment) { $1 })
        do {
            // Tool servers connect in the background; tasks sent before get no tools.
            #expect(await eventually(timeout: .seconds(20)) { fleetd.logText.contains("agent tools ready") }, "\(fleetd.logText.suffix(2_000))")
            try await body(fleetd, fake, log)
        } catch {
            fleetd.signal(SIGTERM)
            _ = await fleetd.waitForExit()
            await fake.shutdown()
            throw error
        }
        fleetd.signal(SIGTERM)
        _ = await fleetd.waitForExit()
        await fake.shutdown()
        // No tool server outlives fleetd.
        let pids = Set(((try? String(contentsOf: log, encoding: .utf8)) ?? "").split(separator: "\n").compactMap {
            ((try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any])?["pid"] as? Int32
        })
        #expect(await eventually(timeout: .seconds(5)) { pids.allSatisfy { kill($0, 0) != 0 } }, "tool servers left running: \(pids)")
    }

    /// The SSE events of a streamed task, as (name, JSON object).
    static func events(_ body: String) -> [(String, [String: Any])] {
        var out: [(String, [String: Any])] = []
        var name = "message"
        for line in body.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("event: ") { name = String(line.dropFirst(7)) }
            if line.hasPrefix("data: ") {
                let object = (try? JSONSerialization.jsonObject(with: Data(line.dropFirst(6).utf8))) as? [String: Any] ?? [:]
                out.append((name, object))
            }
        }
        return out
    }

    /// Runs a streamed task (the recorded tool-use transcripts are streams); its `complete` event.
    static func run(_ fleetd: FleetdProcess, _ id: String) async throws -> (status: Int, complete: [String: Any], body: String) {
        let response = try await http(.POST, fleetd.baseURL + "/v1/tasks", body: task(id, stream: true))
        let complete = events(response.body).last { $0.0 == "complete" }?.1 ?? [:]
        return (response.status, complete, response.body)
    }

    static func task(_ id: String, stream: Bool) -> String {
        #"{"id": "\#(id)", "prompt": "What's the weather in Paris?", "agentType": "assistant", "stream": \#(stream)}"#
    }

    @Test("Anthropic, streamed: tool_call and tool_result events, the result goes back as a tool_result block, both calls billed")
    func anthropicStreamed() async throws {
        try await withFleet(.anthropic) { fleetd, fake, log in
            let response = try await http(.POST, fleetd.baseURL + "/v1/tasks", body: Self.task("tools-1", stream: true))
            #expect(response.status == 200, "\(response.body)\n\(fleetd.logText.suffix(3_000))")
            let events = Self.events(response.body)
            let names = events.map(\.0)
            #expect(names.first == "start" && names.last == "complete", "\(names)")
            let call = events.first { $0.0 == "tool_call" }?.1 ?? [:]
            #expect(call["tool"] as? String == "get_weather" && call["server"] as? String == "weather", "\(call)")
            #expect(call["callId"] as? String == "toolu_01NRLabsLyVHZPKxbKvkfSMn", "\(call)")
            #expect((call["arguments"] as? [String: Any])?["location"] as? String == "Paris", "\(call)")
            let result = events.first { $0.0 == "tool_result" }?.1 ?? [:]
            #expect(result["outcome"] as? String == "ok" && result["text"] as? String == "Paris: 18°C, light rain", "\(result)")
            #expect(names.firstIndex(of: "tool_call")! < names.firstIndex(of: "tool_result")!, "\(names)")
            #expect(names.filter { $0 == "start" }.count == 1, "\(names)")
            let complete = events.last?.1 ?? [:]
            let toolUse = complete["toolUse"] as? [String: Any] ?? [:]
            #expect(toolUse["rounds"] as? Int == 1 && toolUse["exhausted"] as? Bool == false, "\(complete)")
            #expect((complete["usage"] as? [String: Any])?["outputTokens"] as? Int ?? 0 > 65, "both calls' output counted: \(complete)")
            // Both calls' text reached the client, numbered as one stream, and the output is all of it.
            let chunks = events.filter { $0.0 == "chunk" }.map(\.1)
            let sequences = chunks.compactMap { $0["sequence"] as? Int }
            #expect(sequences == Array(0..<chunks.count), "\(sequences)")
            let streamed = chunks.compactMap { $0["text"] as? String }.joined()
            #expect(streamed.hasPrefix("I'll check the current weather in Paris for you."), "\(streamed)")
            #expect(complete["output"] as? String == streamed, "\(complete)")

            // What the provider received: the tool offered with its schema, then the result.
            #expect(fake.requests.count == 2)
            let first = String(decoding: fake.requests[0].body, as: UTF8.self)
            #expect(first.contains("\"tools\"") && first.contains("\"get_weather\"") && first.contains("\"input_schema\""), "\(first)")
            let second = fake.requests[1].jsonBody ?? [:]
            let messages = second["messages"] as? [[String: Any]] ?? []
            #expect(messages.count == 3, "\(messages)")
            let assistant = messages.count == 3 ? messages[1]["content"] as? [[String: Any]] ?? [] : []
            #expect(assistant.contains { $0["type"] as? String == "tool_use" && $0["id"] as? String == "toolu_01NRLabsLyVHZPKxbKvkfSMn" }, "\(assistant)")
            let answer = messages.count == 3 ? messages[2]["content"] as? [[String: Any]] ?? [] : []
            let block = answer.first ?? [:]
            #expect(block["type"] as? String == "tool_result" && block["tool_use_id"] as? String == "toolu_01NRLabsLyVHZPKxbKvkfSMn", "\(answer)")
            #expect(String(decoding: fake.requests[1].body, as: UTF8.self).contains("Paris: 18°C, light rain"))

            // The tool server ran the call; the ledger has both model calls; the call is recorded.
            let calls = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
            #expect(calls.contains("\"place\": \"Paris\""), "\(calls)")
            let costs = try await http(.GET, fleetd.baseURL + "/v1/costs?period=day")
            #expect((((costs.json["report"] as? [String: Any])?["total"] as? [String: Any])?["entries"] as? Int) == 2, "\(costs.body)")
            let metrics = try await http(.GET, fleetd.baseURL + "/metrics")
            #expect(metrics.body.contains(#"fleetd_tool_calls_total{outcome="ok",server="weather",tool="get_weather"} 1"#)
                    || metrics.body.contains(#"fleetd_tool_calls_total{server="weather",tool="get_weather",outcome="ok"} 1"#),
                    "\(metrics.body.split(separator: "\n").filter { $0.contains("tool") })")
        }
    }

    @Test("a stdio tool server gets HOME, LOGNAME, PATH, SHELL, TERM, USER and its env, not fleetd's API keys or admin token")
    func stdioServerEnvironment() async throws {
        let entry = { (python: String, log: URL) in
            """
                    - name: weather
                      command: \(python)
                      args: ["\(Self.toolServer.path)"]
                      env: {TOOL_LOG: "\(log.path)", PASSED_TOKEN: "${FLEETD_TEST_PASSED}"}
            """
        }
        try await withFleet(.anthropic, environment: ["FLEETD_ADMIN_TOKEN": "admin-secret", "FLEETD_TEST_PASSED": "passed"],
                            server: entry) { fleetd, _, log in
            let response = try await Self.run(fleetd, "tools-env")
            #expect(Self.firstCallOutcome(response) == "ok", "\(response.body)\n\(fleetd.logText.suffix(2_000))")
            // The server logs the names (not the values) of its environment with each call.
            let line = ((try? String(contentsOf: log, encoding: .utf8)) ?? "").split(separator: "\n").first.map(String.init) ?? ""
            let call = (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any] ?? [:]
            let names = Set(call["env"] as? [String] ?? [])
            #expect(names.isSuperset(of: ["PATH", "HOME", "TOOL_LOG", "PASSED_TOKEN"]), "\(line)")
            #expect(names.isDisjoint(with: ["ANTHROPIC_API_KEY", "OPENAI_API_KEY", "FLEETD_ADMIN_TOKEN", "FLEETD_TEST_PASSED"]), "\(line)")
            // What it writes to its standard error is in fleetd's log, line by line, with its name.
            let logged = fleetd.logText.split(separator: "\n").first { $0.contains("fleetd-test-tools: serving over stdio") }
            #expect(logged?.contains("tool server stderr") == true && logged?.contains("\"server\":\"weather\"") == true,
                    "\(fleetd.logText.suffix(2_000))")
        }
    }

    @Test("OpenAI: the call goes back as a tool message with its tool_call_id; the result lists the call")
    func openAIJSON() async throws {
        try await withFleet(.openai) { fleetd, fake, _ in
            let response = try await Self.run(fleetd, "tools-2")
            #expect(response.status == 200, "\(response.body)\n\(fleetd.logText.suffix(3_000))")
            let toolUse = response.complete["toolUse"] as? [String: Any] ?? [:]
            let calls = toolUse["calls"] as? [[String: Any]] ?? []
            #expect(calls.count == 1 && calls.first?["tool"] as? String == "get_weather" && calls.first?["outcome"] as? String == "ok", "\(response.body)")
            #expect((response.complete["output"] as? String ?? "").isEmpty == false, "\(response.body)")
            #expect(fake.requests.count == 2)
            let second = fake.requests.count == 2 ? fake.requests[1].jsonBody ?? [:] : [:]
            let messages = second["messages"] as? [[String: Any]] ?? []
            let tool = messages.last ?? [:]
            #expect(tool["role"] as? String == "tool" && tool["tool_call_id"] as? String == "call_4XzlGBLtUe9dy3GVNV4jhq7h", "\(messages)")
            #expect((tool["content"] as? String ?? "").contains("New York City: 24°C, clear"), "\(tool)")
            let assistant = messages.dropLast().last ?? [:]
            #expect((assistant["tool_calls"] as? [[String: Any]])?.first?["id"] as? String == "call_4XzlGBLtUe9dy3GVNV4jhq7h", "\(assistant)")
        }
    }

    @Test("a tool that hangs: the call times out, the model gets an error result, the task still completes, the operator gets a log line")
    func hangingTool() async throws {
        try await withFleet(.anthropic, mode: "hang", limits: "toolTimeoutMs: 700") { fleetd, fake, _ in
            let started = ContinuousClock.now
            let response = try await Self.run(fleetd, "tools-3")
            #expect(response.status == 200, "\(response.body)")
            #expect(ContinuousClock.now - started < .seconds(10))
            let calls = (response.complete["toolUse"] as? [String: Any])?["calls"] as? [[String: Any]] ?? []
            #expect(calls.first?["outcome"] as? String == "timeout", "\(response.body)")
            let second = fake.requests.count == 2 ? String(decoding: fake.requests[1].body, as: UTF8.self) : ""
            #expect(second.contains("\"is_error\":true") && second.contains("did not answer within"), "\(second)")
            #expect(await eventually { fleetd.logText.contains("tool call timeout") }, "\(fleetd.logText.suffix(2_000))")
        }
    }

    @Test("a tool server that dies during the call: an error result, not a stuck agent; the next task starts it again")
    func dyingServer() async throws {
        try await withFleet(.anthropic, mode: "crash") { fleetd, fake, log in
            let response = try await Self.run(fleetd, "tools-4")
            #expect(response.status == 200, "\(response.body)\n\(fleetd.logText.suffix(2_000))")
            let calls = (response.complete["toolUse"] as? [String: Any])?["calls"] as? [[String: Any]] ?? []
            #expect(calls.first?["outcome"] as? String == "failed", "\(response.body)")
            let last = String(decoding: fake.requests.last?.body ?? [], as: UTF8.self)
            #expect(last.contains("\"is_error\":true"), "\(last)")
            // After the retry interval the server is started again for the next call (it dies again).
            try await Task.sleep(for: .milliseconds(2_200))
            let again = try await Self.run(fleetd, "tools-5")
            #expect(again.status == 200, "\(again.body)")
            let pids = Set(((try? String(contentsOf: log, encoding: .utf8)) ?? "").split(separator: "\n").compactMap {
                ((try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any])?["pid"] as? Int
            })
            #expect(pids.count == 2, "the server was started again: \(pids)")
        }
    }

    @Test("a client that walks away while a tool runs: the task is cancelled, the tool call with it, the model call already made is billed, the agent is free")
    func clientLeavesDuringTool() async throws {
        try await withFleet(.anthropic, mode: "hang", limits: "toolTimeoutMs: 60000") { fleetd, fake, log in
            let sawToolCall = LogBuffer()
            let reader = Task {
                var request = HTTPClientRequest(url: fleetd.baseURL + "/v1/tasks")
                request.method = .POST
                request.headers.add(name: "content-type", value: "application/json")
                request.body = .bytes(ByteBuffer(string: Self.task("tools-9", stream: true)))
                let response = try await HTTPClient.shared.execute(request, timeout: .seconds(60))
                for try await buffer in response.body where String(buffer: buffer).contains("event: tool_call") {
                    sawToolCall.append(Data("yes".utf8))
                }
            }
            #expect(await eventually(timeout: .seconds(10)) { sawToolCall.text == "yes" }, "\(fleetd.logText.suffix(2_000))")
            // The tool server has the call (it hangs); then the client leaves.
            #expect(await eventually(timeout: .seconds(5)) { ((try? String(contentsOf: log, encoding: .utf8)) ?? "").contains("Paris") })
            let left = ContinuousClock.now
            reader.cancel()
            #expect(await eventually(timeout: .seconds(10)) {
                let record = try? await http(.GET, fleetd.baseURL + "/v1/tasks/tools-9")
                return record?.body.contains("TASK_CANCELLED") == true
            }, "\(fleetd.logText.suffix(2_000))")
            #expect(ContinuousClock.now - left < .seconds(10), "not held until the tool's 60 s timeout")
            #expect(fake.requests.count == 1, "no second model call after the client left")
            let costs = try await http(.GET, fleetd.baseURL + "/v1/costs?period=day")
            #expect((((costs.json["report"] as? [String: Any])?["total"] as? [String: Any])?["entries"] as? Int) == 1, "\(costs.body)")
            // The assistant agent is free for the next task.
            let agentFree = await eventually(timeout: .seconds(5)) {
                let agents = try? await http(.GET, fleetd.baseURL + "/v1/agents")
                return agents?.body.contains("tools-9") == false
            }
            let agents = (try? await http(.GET, fleetd.baseURL + "/v1/agents"))?.body ?? ""
            #expect(agentFree, "\(agents)")
        }
    }

    @Test("a reload that adds a tool server: tasks after it get the new server's tools")
    func reloadAddsServer() async throws {
        let python = try await SDKCompatibilityTests.python()
        // At first one server that cannot start (so the type has tool settings but no tools).
        let missing = """
                - name: missing
                  command: /nonexistent/tool-server
        """
        try await withFleet(.anthropic, server: { _, _ in missing }) { fleetd, fake, log in
            let before = try await Self.run(fleetd, "tools-10")
            #expect(before.status == 200, "\(before.body)")
            let first = String(decoding: fake.requests.first?.body ?? [], as: UTF8.self)
            #expect(!first.contains("get_weather"), "\(first)")
            // The same file with the Python server in its place, then SIGHUP.
            let file = log.deletingLastPathComponent().appendingPathComponent("fleet.yaml")
            let text = try String(contentsOf: file, encoding: .utf8)
            #expect(text.contains(missing))
            try text.replacingOccurrences(of: missing, with: Self.stdioServer(python: python, log: log))
                .write(to: file, atomically: true, encoding: .utf8)
            fleetd.signal(SIGHUP)
            #expect(await eventually(timeout: .seconds(20)) { fleetd.logText.components(separatedBy: "agent tools ready").count > 2 },
                    "\(fleetd.logText.suffix(2_000))")
            let after = try await Self.run(fleetd, "tools-11")
            let calls = (after.complete["toolUse"] as? [String: Any])?["calls"] as? [[String: Any]] ?? []
            #expect(calls.first?["outcome"] as? String == "ok" && calls.first?["server"] as? String == "weather", "\(after.body)")
        }
    }

    @Test("a model that keeps asking for tools stops after maxToolRounds: its last answer is the result, marked exhausted, every call billed")
    func roundsExhausted() async throws {
        try await withFleet(.anthropic, limits: "maxToolRounds: 2", alwaysTools: true) { fleetd, fake, _ in
            let response = try await Self.run(fleetd, "tools-8")
            #expect(response.status == 200, "\(response.body)")
            let toolUse = response.complete["toolUse"] as? [String: Any] ?? [:]
            #expect(toolUse["rounds"] as? Int == 2 && toolUse["exhausted"] as? Bool == true, "\(response.body)")
            #expect((response.complete["toolCalls"] as? [[String: Any]])?.first?["name"] as? String == "get_weather", "\(response.body)")
            #expect(fake.requests.count == 3)
            let costs = try await http(.GET, fleetd.baseURL + "/v1/costs?period=day")
            #expect((((costs.json["report"] as? [String: Any])?["total"] as? [String: Any])?["entries"] as? Int) == 3, "\(costs.body)")
            // A compatible client declared no tools: fleetd's own calls never reach it, and the
            // answer ends as a turn, not as calls it could not answer.
            let compat = try await http(.POST, fleetd.baseURL + "/v1/chat/completions",
                                        body: #"{"model": "auto", "stream": true, "messages": [{"role": "user", "content": "What's the weather in Paris?"}]}"#,
                                        headers: [("x-fleetd-agent-type", "assistant")])
            #expect(compat.status == 200, "\(compat.body)")
            #expect(compat.body.contains(#""finish_reason":"stop""#) && !compat.body.contains("tool_calls"), "\(compat.body)")
            #expect(fake.requests.count == 6, "the compatible task ran its tool rounds too")
        }
    }

    @Test("the pick fails, a fallback asks for a tool: the next round goes to that fallback, not back to the failing pick")
    func aFallbacksToolRoundStaysWithIt() async throws {
        try await withFleet(.anthropic, twoModels: true) { fleetd, fake, _ in
            let response = try await Self.run(fleetd, "tools-9")
            #expect(response.status == 200, "\(response.body)")
            let models = fake.requests.map { String(decoding: $0.body, as: UTF8.self).contains("second-model-id") ? "second" : "main" }
            #expect(models.count == 3 && models[1] != models[0] && models[2] == models[1], "\(models)")
            #expect(response.complete["model"] as? String == models[1], "\(response.body)")
        }
    }

    @Test("mcpTools off: no tools are offered and none run; the model's tool request is the result, as before")
    func flagOff() async throws {
        try await withFleet(.anthropic, mcpTools: false) { fleetd, fake, log in
            let response = try await Self.run(fleetd, "tools-6")
            #expect(response.status == 200, "\(response.body)")
            #expect(response.complete["toolUse"] == nil, "\(response.body)")
            #expect(fake.requests.count == 1)
            let first = String(decoding: fake.requests.first?.body ?? [], as: UTF8.self)
            #expect(!first.contains("\"tools\""), "\(first)")
            #expect(!FileManager.default.fileExists(atPath: log.path))
        }
    }

    @Test("a tool server that was not up when fleetd started is tried again, and its tools arrive once it answers")
    func aServerThatComesUpLaterIsPickedUp() async throws {
        let port = Int.random(in: 20_000..<40_000)
        let python = try await SDKCompatibilityTests.python()
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let entries = Self.httpServerEntry(port: port)
        try await withFleet(.anthropic, server: entries) { fleetd, _, _ in
            #expect(!fleetd.logText.contains("get_weather"), "nothing listens yet")
            let server = try await Self.startHTTPToolServer(python: python, port: port, log: directory.appendingPathComponent("late.jsonl"))
            defer { server.signal(SIGKILL) }
            #expect(await eventually(timeout: .seconds(40)) { fleetd.logText.contains("get_weather") }, "\(fleetd.logText.suffix(2_000))")
            let response = try await Self.run(fleetd, "tools-10")
            #expect(Self.firstCallOutcome(response) == "ok", "\(response.body)")
        }
    }

    @Test("an HTTP tool server that restarts: its old session (now 404) is dropped, and a later call starts a new one")
    func anHTTPServerThatRestartsIsReconnected() async throws {
        let port = Int.random(in: 20_000..<40_000)
        let python = try await SDKCompatibilityTests.python()
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let log = directory.appendingPathComponent("restarts.jsonl")
        var server = try await Self.startHTTPToolServer(python: python, port: port, log: log)
        defer { server.signal(SIGKILL) }
        #expect(await eventually(timeout: .seconds(15)) { await Self.isUp(port: port) })
        let entries = Self.httpServerEntry(port: port)
        try await withFleet(.anthropic, server: entries) { fleetd, _, _ in
            #expect(Self.firstCallOutcome(try await Self.run(fleetd, "tools-11")) == "ok")
            // The server restarts: it knows none of the sessions it gave before.
            server.signal(SIGKILL)
            _ = await server.waitForExit()
            server = try await Self.startHTTPToolServer(python: python, port: port, log: log)
            #expect(await eventually(timeout: .seconds(15)) { await Self.isUp(port: port) })
            _ = try await Self.run(fleetd, "tools-12") // may fail: its call found the session gone
            try await Task.sleep(for: .seconds(3))
            let after = try await Self.run(fleetd, "tools-13")
            #expect(Self.firstCallOutcome(after) == "ok", "\(after.body)\n\(fleetd.logText.suffix(1_500))")
        }
    }

    @Test("over Streamable HTTP: the same tool through the Python SDK's HTTP server; a server that is not there gives an error result")
    func streamableHTTP() async throws {
        let port = Int.random(in: 20_000..<40_000)
        let python = try await SDKCompatibilityTests.python()
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let server = try await Self.startHTTPToolServer(python: python, port: port, log: directory.appendingPathComponent("http.jsonl"))
        defer { server.signal(SIGKILL) }
        #expect(await eventually(timeout: .seconds(15)) { await Self.isUp(port: port) })
        let entries = { (_: String, _: URL) in
            """
                    - name: weather
                      url: http://127.0.0.1:\(port)/mcp
                    - name: gone
                      url: http://127.0.0.1:9/mcp
            """
        }
        try await withFleet(.anthropic, server: entries) { fleetd, fake, _ in
            let response = try await Self.run(fleetd, "tools-7")
            #expect(response.status == 200, "\(response.body)\n\(fleetd.logText.suffix(3_000))")
            let calls = (response.complete["toolUse"] as? [String: Any])?["calls"] as? [[String: Any]] ?? []
            #expect(calls.first?["outcome"] as? String == "ok" && calls.first?["server"] as? String == "weather", "\(response.body)")
            let last = String(decoding: fake.requests.last?.body ?? [], as: UTF8.self)
            #expect(last.contains("Paris: 18°C, light rain"), "\(last)")
            #expect(fleetd.logText.contains("tool server unavailable") && fleetd.logText.contains("gone"), "\(fleetd.logText.suffix(2_000))")
        }
    }
}
