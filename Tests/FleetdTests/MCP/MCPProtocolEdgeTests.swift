import Foundation
import Routing
import Testing
@testable import fleetd

/// The JSON-RPC edges of fleetd's MCP server: `resources/templates/list` (which MCP Inspector
/// asks for when a server has resources) is served; malformed `tools/call` params and task limits
/// out of range are invalid params (-32602) naming the field, not internal errors; on stdio, a line
/// that is no JSON-RPC message is answered with `"id": null`, as JSON-RPC 2.0 asks.
@Suite(.serialized) struct MCPProtocolEdgeTests {
    static let headers = MCPHTTPSessionTests.headers

    /// fleetd serving `/mcp` (its one model unreachable: nothing here needs an answer), and the
    /// headers of a session opened on it.
    static func openSession() async throws -> (fleetd: FleetdProcess, url: String, headers: [(String, String)]) {
        let directory = try temporaryDirectory()
        let file = directory.appendingPathComponent("fleet.yaml")
        try MCPSDKTests.config(baseURL: "http://127.0.0.1:9").write(to: file, atomically: true, encoding: .utf8)
        let fleetd = try await FleetdProcess(config: file, dataDirectory: directory.appendingPathComponent("data"))
        let url = fleetd.baseURL + "/mcp"
        let opened = try await http(.POST, url, body: MCPHTTPSessionTests.initialize, headers: headers)
        let session = try #require(opened.headers["mcp-session-id"].first, "\(opened.status) \(opened.body)")
        let inSession = headers + [("Mcp-Session-Id", session)]
        _ = try await http(.POST, url, body: #"{"jsonrpc":"2.0","method":"notifications/initialized"}"#, headers: inSession)
        return (fleetd, url, inSession)
    }

    /// The JSON-RPC message a POST was answered with: its SSE stream's `data:` line, or the body.
    static func message(_ body: String) -> [String: Any] {
        let json = body.split(separator: "\n").first { $0.hasPrefix("data: ") }.map { String($0.dropFirst("data: ".count)) } ?? body
        return (try? JSONSerialization.jsonObject(with: Data(json.utf8))) as? [String: Any] ?? [:]
    }

    /// The `error` of a JSON-RPC message, and its code and message.
    static func error(_ message: [String: Any]) -> (code: Int?, message: String) {
        let fields = message["error"] as? [String: Any]
        return (fields?["code"] as? Int, fields?["message"] as? String ?? "")
    }

    @Test func resourceTemplatesListTheCostsReportByPeriod() async throws {
        let (fleetd, url, inSession) = try await Self.openSession()
        let answer = try await http(.POST, url, body: #"{"jsonrpc":"2.0","id":2,"method":"resources/templates/list"}"#, headers: inSession)
        let templates = (Self.message(answer.body)["result"] as? [String: Any])?["resourceTemplates"] as? [[String: Any]] ?? []
        let uris = templates.compactMap { $0["uriTemplate"] as? String }
        #expect(uris == ["fleetd://costs/{period}"], "\(answer.status) \(answer.body)")
        // What the template makes is what resources/read serves.
        let read = try await http(.POST, url, body: #"{"jsonrpc":"2.0","id":3,"method":"resources/read","params":{"uri":"fleetd://costs/week"}}"#,
                                  headers: inSession)
        let contents = (Self.message(read.body)["result"] as? [String: Any])?["contents"] as? [[String: Any]] ?? []
        #expect(contents.first?["uri"] as? String == "fleetd://costs/week", "\(read.body)")
        fleetd.signal(SIGTERM)
        #expect(await fleetd.waitForExit() == 0)
    }

    /// `tools/call` params the SDK cannot decode, and what the error must say.
    static let malformedCalls: [(params: String, names: String)] = [
        (#"{"name":"models","arguments":"all"}"#, "param 'arguments'"),
        (#"{"name":"models","arguments":[1,2]}"#, "param 'arguments'"),
        (#"{"arguments":{}}"#, "param 'name'"),
        (#"{"name":42,"arguments":{}}"#, "param 'name'"),
        ("\"models\"", "params: must be an object"),
        ("null", "params: must be an object"),
    ]

    @Test func malformedToolCallParamsAreInvalidParamsNamingTheField() async throws {
        let (fleetd, url, inSession) = try await Self.openSession()
        for (index, call) in Self.malformedCalls.enumerated() {
            let id = 10 + index
            let body = #"{"jsonrpc":"2.0","id":\#(id),"method":"tools/call","params":\#(call.params)}"#
            let answer = try await http(.POST, url, body: body, headers: inSession)
            let message = Self.message(answer.body)
            let error = Self.error(message)
            #expect(message["id"] as? Int == id, "\(call.params): \(answer.body)")
            #expect(error.code == -32602, "\(call.params): \(answer.body)")
            #expect(error.message.contains(call.names), "\(call.params): \(answer.body)")
        }
        // resources/read the same: a missing or non-string uri names it.
        for (index, params) in [#"{}"#, #"{"uri":7}"#, #""fleetd://config""#].enumerated() {
            let id = 40 + index
            let answer = try await http(.POST, url, body: #"{"jsonrpc":"2.0","id":\#(id),"method":"resources/read","params":\#(params)}"#,
                                        headers: inSession)
            let error = Self.error(Self.message(answer.body))
            #expect(error.code == -32602, "\(params): \(answer.body)")
            #expect(error.message.contains("uri") || error.message.contains("params"), "\(params): \(answer.body)")
        }
        // A well-formed call still works.
        let models = try await http(.POST, url, body: #"{"jsonrpc":"2.0","id":30,"method":"tools/call","params":{"name":"models","arguments":{}}}"#,
                                    headers: inSession)
        #expect((Self.message(models.body)["result"] as? [String: Any])?["isError"] as? Bool == false, "\(models.body)")
        fleetd.signal(SIGTERM)
        #expect(await fleetd.waitForExit() == 0)
    }

    /// Task limits out of range, by tool, and the argument the error must name.
    static let badLimits: [(tool: String, constraints: String, field: String)] = [
        ("run_task", #"{"maxCost":-1}"#, "constraints.maxCost"),
        ("run_task", #"{"maxLatencyMs":-5}"#, "constraints.maxLatencyMs"),
        ("run_task", #"{"minQuality":1.5}"#, "constraints.minQuality"),
        ("route", #"{"maxCost":-0.01}"#, "constraints.maxCost"),
        ("agent_general", #"{"minQuality":-0.1}"#, "constraints.minQuality"),
    ]

    @Test func negativeMaxCostAndOtherLimitsOutOfRangeAreInvalidParams() async throws {
        let (fleetd, url, inSession) = try await Self.openSession()
        for (index, limits) in Self.badLimits.enumerated() {
            let id = 40 + index
            let arguments = #"{"prompt":"Say hi.","constraints":\#(limits.constraints)}"#
            let body = #"{"jsonrpc":"2.0","id":\#(id),"method":"tools/call","params":{"name":"\#(limits.tool)","arguments":\#(arguments)}}"#
            let answer = try await http(.POST, url, body: body, headers: inSession)
            let message = Self.message(answer.body)
            let error = Self.error(message)
            #expect(message["id"] as? Int == id, "\(limits.tool) \(limits.constraints): \(answer.body)")
            #expect(error.code == -32602, "\(limits.tool) \(limits.constraints): \(answer.body)")
            #expect(error.message.contains("argument '\(limits.field)'"), "\(limits.tool) \(limits.constraints): \(answer.body)")
        }
        // The edges of each range are limits, not mistakes: route answers (it runs nothing).
        let edges = #"{"jsonrpc":"2.0","id":60,"method":"tools/call","params":{"name":"route","arguments":{"prompt":"Say hi.","constraints":{"maxCost":0,"minQuality":1,"maxLatencyMs":0}}}}"#
        let answer = try await http(.POST, url, body: edges, headers: inSession)
        let answered = Self.message(answer.body)["result"] is [String: Any]
        #expect(answered, "\(answer.body)")
        fleetd.signal(SIGTERM)
        #expect(await fleetd.waitForExit() == 0)
    }

    /// JSON cannot carry them, but a limit that is not a finite number is refused too.
    @Test func nonFiniteTaskLimitsAreRefused() throws {
        let cases: [(RoutingConstraints, String)] = [
            (RoutingConstraints(maxCost: Double.infinity), "constraints.maxCost"),
            (RoutingConstraints(minQuality: Double.nan), "constraints.minQuality"),
            (RoutingConstraints(maxLatencyMs: Double.infinity), "constraints.maxLatencyMs"),
        ]
        for (constraints, field) in cases {
            var refused: APIError?
            do {
                _ = try TaskRequest(prompt: "hi", constraints: constraints).task()
            } catch let error as APIError {
                refused = error
            }
            #expect(refused?.field == field, "\(constraints)")
        }
    }

    /// Over stdio, a line that is not JSON gets a parse error and JSON that is no message an
    /// invalid request, both with `"id": null`; the lines after them are served. (A batch is
    /// answered before the next line is read, so its answer is out before the end of standard
    /// input ends the session.)
    @Test func overStdioALineThatIsNotJSONIsAParseErrorWithANullID() async throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("fleet.yaml")
        try MCPSDKTests.config(baseURL: "http://127.0.0.1:9").write(to: file, atomically: true, encoding: .utf8)
        let input = "this is not JSON\n42\n" + #"[{"jsonrpc":"2.0","id":7,"method":"ping"}]"# + "\n"
        let run = try await FleetdProcess.run(["mcp", "--config", file.path, "--data-dir", directory.appendingPathComponent("data").path],
                                        stdin: Data(input.utf8))
        let lines = run.stdout.split(separator: "\n").map(String.init)
        try #require(lines.count == 3, "stdout:\n\(run.stdout)\nstderr:\n\(run.stderr.suffix(3_000))")
        for (line, code) in [(lines[0], -32700), (lines[1], -32600)] {
            let message = Self.message(line)
            let nullID = message["id"] is NSNull
            #expect(nullID, "\(line)")
            #expect(Self.error(message).code == code, "\(line)")
        }
        let batch = (try? JSONSerialization.jsonObject(with: Data(lines[2].utf8))) as? [[String: Any]] ?? []
        let pinged = batch.first?["result"] is [String: Any]
        #expect(batch.first?["id"] as? Int == 7, "\(lines[2])")
        #expect(pinged, "\(lines[2])")
    }
}
