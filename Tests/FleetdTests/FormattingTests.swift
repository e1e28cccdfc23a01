import Fleet
import FleetSupport
import Foundation
import Routing
import Store
import Streaming
import Logging
import Testing
@testable import fleetd

/// The CLI's formatters: `fleetd costs` (table, JSON, CSV), `fleetd route` (text, JSON) and
/// `fleetd sse decode`.
@Suite("CLI formatters")
struct FormattingTests {
    @Test func costReportAsTableJSONAndCSV() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("fleetd-fmt-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let start = try #require(ISO8601DateFormatter().date(from: "2026-02-27T10:00:00Z"))
        let clock = ManualWallClock(start)
        let db = try await StoreDatabase(path: directory.appendingPathComponent("fleet.sqlite").path)
        let tracker = try CostTracker(database: db, clock: clock)
        let pricing = ModelPricing(input: 1, output: 2)
        let odd = "review, \"quick\"\nsecond line"
        try await tracker.record(CostCall(model: "opus", provider: "anthropic", taskId: "t1", agentId: "a1", taskType: odd),
                                 usage: CostUsage(inputTokens: 1_000, outputTokens: 1_000), pricing: pricing, entryId: "e1")   // $3
        try await tracker.record(CostCall(model: "gpt", provider: "openai", taskId: "t2", agentId: "a2", taskType: "plain"),
                                 usage: CostUsage(inputTokens: 500, outputTokens: 0, cachedTokens: 100), pricing: pricing, entryId: "e2") // $0.5
        clock.advance(by: 2 * 86_400)
        try await tracker.record(CostCall(model: "opus", provider: "anthropic", taskId: "t3", agentId: "a1", taskType: "plain"),
                                 usage: CostUsage(inputTokens: 1_000, outputTokens: 0), pricing: pricing, entryId: "e3")     // $1
        let feb = try await CostReport.load(database: db, period: .month, now: start)
        let march = try await CostReport.load(database: db, period: .day, now: clock.now, timeZoneIdentifier: "UTC")

        let csv = try CostReportFormatter.render(feb, format: .csv)
        #expect(csv.hasPrefix("period,period_key,section,name,cost_usd,entries,input_tokens,output_tokens,cached_tokens\r\n"))
        #expect(csv.hasSuffix("\r\n"))
        #expect(csv.contains("month,2026-02,task type,\"review, \"\"quick\"\"\nsecond line\",3.000000,1,1000,1000,0\r\n"))
        #expect(csv.contains("month,2026-02,total,total,3.500000,2,1500,1000,100\r\n"))
        // Every record break is CRLF (the one bare LF is inside the quoted field).
        #expect(csv.replacingOccurrences(of: "\r\n", with: "").filter { $0 == "\r" }.isEmpty)

        let json = try CostReportFormatter.render(feb, format: .json)
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        #expect(try decoder.decode(CostReport.self, from: Data(json.utf8)) == feb)

        let table = try CostReportFormatter.render(march, format: .table)
        let lines = table.split(separator: "\n").dropFirst()
        #expect(Set(lines.map(\.count)).count == 1)  // aligned: every row as wide as the header
        #expect(table.contains("Costs for day 2026-03-01 (UTC)"))
    }

    @Test func csvFieldQuotingFollowsRFC4180() {
        #expect(CostReportFormatter.csvField("plain") == "plain")
        #expect(CostReportFormatter.csvField("a,b") == "\"a,b\"")
        #expect(CostReportFormatter.csvField("say \"hi\"") == "\"say \"\"hi\"\"\"")
        #expect(CostReportFormatter.csvField("line\r\nbreak") == "\"line\r\nbreak\"")
        #expect(CostReportFormatter.csvField("cr\ronly") == "\"cr\ronly\"")
    }

    @Test("the route explanation lists score, factors, the pick and the fallbacks; errors list each exclusion")
    func routeExplanation() async throws {
        let loaded = try ConfigLoader.load(path: "config/fleet.yaml", environment: [:])
        let router = ModelRouter(configuration: loaded.config.routing, scorer: ComplexityAnalyzer(weights: loaded.config.routing.complexity))
        let selection = try await router.explain(RoutingTask(taskId: "x", prompt: "Explain the race condition in this code and fix it"))
        let text = SelectionRenderer.text(selection)
        #expect(text.hasPrefix("Task x: complexity "))
        #expect(text.contains("[PICK] \(selection.modelName) ("))
        #expect(text.contains("Fallbacks:\n  1. \(selection.fallbackModels[0]): "))

        let json = try SelectionRenderer.json(selection)
        let object = try #require(JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        #expect(object["modelName"] as? String == selection.modelName)
        #expect(object["fallbackModels"] as? [String] == selection.fallbackModels)
        #expect((object["timestamp"] as? String)?.hasSuffix("Z") == true)

        let error = RouterError(code: .budgetExceeded, message: "m", exclusions: [ModelExclusion(model: "a", stage: .budget, reason: "r")])
        #expect(SelectionRenderer.text(error) == "ROUTER_002 BudgetExceeded: m\n  a: budget: r")
        #expect(try SelectionRenderer.json(error, pretty: false) == #"{"error":{"code":"ROUTER_002","exclusions":[{"model":"a","reason":"r","stage":"budget"}],"message":"m","name":"BudgetExceeded"}}"#)
    }

    @Test func decodeFormatterPrintsEventsThenRetry() {
        var formatter = SSEDecodeFormatter()
        var lines = formatter.feed(Array("retry: 3000\nid: 1\nevent: a\ndata: x/y\n\ndata: \"q\"\n\ndata: unterminated\n".utf8))
        lines += formatter.finish()
        #expect(lines == [
            #"{"event":"a","data":"x/y","id":"1"}"#,
            #"{"event":"message","data":"\"q\"","id":"1"}"#,
            #"{"retry":3000}"#,
        ])
    }

    @Test func decodeFormatterWithoutRetryPrintsNoRetryLine() {
        var formatter = SSEDecodeFormatter()
        _ = formatter.feed(Array("retry: x\ndata: a\n\n".utf8))
        #expect(formatter.finish().isEmpty)
    }
}

/// The JSON log line writer: what a log shipper parses.
@Suite struct LogLineTests {
    @Test("keys sorted, strings escaped as JSON requires, nested values kept, and the result parses back to the same values")
    func writesJSON() throws {
        let fields: Logger.Metadata = [
            "msg": "line one\nline \"two\"\t\\ end/é \u{01}",
            "level": "info",
            "nested": .dictionary(["b": "2", "a": .array(["x", .stringConvertible(3)])]),
        ]
        var bytes: [UInt8] = []
        LogLineWriter.object(fields, into: &bytes)
        let text = String(decoding: bytes, as: UTF8.self)
        #expect(text == #"{"level":"info","msg":"line one\nline \"two\"\t\\ end/é \u0001","nested":{"a":["x","3"],"b":"2"}}"#)
        let parsed = try #require(try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any])
        #expect(parsed["msg"] as? String == "line one\nline \"two\"\t\\ end/é \u{01}")
    }
}

/// The JSON handler's whole line: what a request's access line and an error look like in the file.
@Suite struct JSONLogHandlerTests {
    struct Failure: Error, CustomStringConvertible { var description: String { "the provider hung up" } }

    @Test("a line has the fixed fields, the metadata (the call's winning), the request's id as requestId, and the error")
    func wholeLine() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("log-\(UUID().uuidString).jsonl")
        #expect(FileManager.default.createFile(atPath: file.path, contents: nil))
        defer { try? FileManager.default.removeItem(at: file) }
        let handle = try FileHandle(forWritingTo: file)
        var logger = Logger(label: "fleetd") { label in JSONLogHandler(label: label, sink: LogSink(handles: [handle])) }
        logger.logLevel = .info
        logger[metadataKey: LogLineWriter.requestIDKey] = "req-1"
        logger[metadataKey: "agent"] = "coder-1"
        logger.info("request", metadata: ["status": "200", "agent": "coder-2"])
        logger.warning("call failed", error: Failure(), metadata: ["requestId": "given", "level": "custom"])
        logger.debug("not written")
        try handle.close()
        let lines = try String(contentsOf: file, encoding: .utf8).split(separator: "\n").map {
            try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: String])
        }
        #expect(lines.count == 2)
        #expect(lines[0]["msg"] == "request" && lines[0]["level"] == "info" && lines[0]["label"] == "fleetd")
        #expect(lines[0]["status"] == "200" && lines[0]["agent"] == "coder-2" && lines[0]["requestId"] == "req-1")
        #expect(lines[0]["hb.request.id"] == nil && lines[0]["error"] == nil && lines[0]["ts"]?.hasSuffix("Z") == true)
        #expect(lines[1]["error"] == "the provider hung up" && lines[1]["requestId"] == "given" && lines[1]["level"] == "custom")
    }
}

extension JSONLogHandlerTests {
    @Test("a line that cannot be written (its reader gone) is lost, not the process")
    func aClosedPipeLosesTheLine() throws {
        signal(SIGPIPE, SIG_IGN) // as fleetd runs (NIO ignores it): the write fails with EPIPE instead
        let pipe = Pipe()
        try pipe.fileHandleForReading.close()
        let logger = Logger(label: "fleetd") { label in JSONLogHandler(label: label, sink: LogSink(handles: [pipe.fileHandleForWriting])) }
        logger.error("nobody reads this")
        logger.error("nor this")
    }
}

@Suite struct LogTimestampTests {
    @Test("a log line's time is what ISO8601FormatStyle with fractional seconds writes: UTC, milliseconds")
    func sameTextAsTheFormatStyle() {
        let style = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
        let instants: [Double] = [0, 1, 0.999, 951_782_400.5, 1_764_531_545.408, 1_764_531_545.4089, 4_102_444_799.001, 1_709_164_800.07]
        for seconds in instants {
            let date = Date(timeIntervalSince1970: seconds)
            #expect(logTimestamp(date) == style.format(date), "\(seconds)")
        }
        #expect(logTimestamp(Date(timeIntervalSince1970: 1_764_531_545.408)) == "2025-11-30T19:39:05.407Z", "the fraction of the Double, rounded down, as the style takes it")
    }
}

@Suite struct MetricLabelTests {
    /// A tool name the model made up is the model's output: counted under `tool="unknown"`, so
    /// no prompt can make `/metrics` grow a series per invented name.
    @Test func aRejectedToolCallIsCountedUnderUnknown() {
        let metrics = FleetMetrics()
        for (tool, outcome) in [("get_weather", ToolCallReport.Outcome.ok), ("made_up_1", .rejected), ("made_up_2", .rejected)] {
            metrics.toolCall(ToolCallReport(taskId: "t", round: 0, callId: "c", server: tool == "get_weather" ? "weather" : nil, tool: tool,
                                            outcome: outcome, startedAt: Date(), durationMs: 1, resultBytes: 0, truncated: false, message: nil))
        }
        let text = metrics.render()
        #expect(!text.contains("made_up"), "\(text)")
        #expect(text.contains(#"tool="unknown""#) && text.contains(#"tool="get_weather""#))
    }
}

@Suite struct LoopbackHostTests {
    typealias CORS = LiveCORSMiddleware<FleetRequestContext>

    /// On a loopback listener only this machine's names pass (and `api.allowedHosts`'): a page
    /// rebound to 127.0.0.1 by DNS names its own host. A listener on other addresses checks none.
    @Test func onlyThisMachinesNamesReachALoopbackListener() {
        for host in ["127.0.0.1:8080", "localhost:8080", "[::1]:8080", "localhost.", "app.localhost:3000", "127.0.0.2"] {
            #expect(CORS.hostIsThisMachine(host, listeningOn: "127.0.0.1"), "\(host)")
        }
        #expect(CORS.hostIsThisMachine(ProcessInfo.processInfo.hostName + ":8080", listeningOn: "127.0.0.1"))
        #expect(!CORS.hostIsThisMachine("evil.example:8080", listeningOn: "127.0.0.1"))
        #expect(!CORS.hostIsThisMachine("127.0.0.1.evil.example:8080", listeningOn: "127.0.0.1"))
        #expect(!CORS.hostIsThisMachine("0127.0.0.1:8080", listeningOn: "127.0.0.1"))
        #expect(!CORS.hostIsThisMachine("fleet.example.com", listeningOn: "localhost"))
        #expect(CORS.hostIsThisMachine("fleet.example.com", listeningOn: "127.0.0.1", allowed: ["fleet.example.com"]))
        #expect(CORS.hostIsThisMachine("anything", listeningOn: "127.0.0.1", allowed: ["*"]))
        #expect(CORS.hostIsThisMachine("evil.example", listeningOn: "0.0.0.0"))
        #expect(CORS.hostIsThisMachine(nil, listeningOn: "127.0.0.1"))
    }
}
