import FakeProvider
import Foundation
import Testing

/// Every call the provider accepted is billed: a client that walks away, a call that fails over,
/// a crash; and concurrent tasks never overshoot a budget by more than one reservation.
@Suite(.serialized) struct BillingTests {
    /// One model per fake server, cost tracking on. The agent type asks for answers of at most
    /// 1,024 tokens: the budgets below are reckoned with reservations of that size (without it,
    /// a call reserves up to AgentRole.defaultOutputTokenCeiling, 8,192 tokens).
    static func config(models: [(name: String, baseURL: String)], daily: Double = 1000, agents: Int = 4,
                       prices: (Double, Double) = (0.003, 0.015)) -> String {
        """
        fleet: {id: billing, maxAgents: \(agents), taskTimeout: 20000}
        agents: [{type: general, count: \(agents), config: {maxTokens: 1024}}]
        api: {host: 127.0.0.1, maxQueuedTasks: 1000}
        features: {multiModelRouter: true, streaming: true}
        routing:
          enabled: true
          defaultModel: \(models[0].name)
          strategy: cost
          models:
        \(models.enumerated().map { index, model in
            "    - {name: \(model.name), provider: anthropic, model: \(model.name)-id, credentials: {endpoint: \"\(model.baseURL)\"}, "
                + "capabilities: {costPer1kTokens: {input: \(prices.0 * Double(index + 1)), output: \(prices.1 * Double(index + 1))}}}"
        }.joined(separator: "\n"))
          costTracking: {enabled: true, policy: block, budgetLimits: {daily: \(daily)}}
          quotas: {anthropic: {requestsPerDay: 1000}}
        streaming: {enabled: true, timeoutMs: 15000, retryConfig: {maxRetries: 0}}
        """
    }

    static func start(_ text: String, data: URL? = nil) async throws -> (FleetdProcess, URL) {
        let directory = try temporaryDirectory()
        let file = directory.appendingPathComponent("fleet.yaml")
        try text.write(to: file, atomically: true, encoding: .utf8)
        let dataDirectory = data ?? directory.appendingPathComponent("data")
        return (try await FleetdProcess(config: file, dataDirectory: dataDirectory, environment: ["ANTHROPIC_API_KEY": "sk-ant-billing"]), dataDirectory)
    }

    static func costs(_ fleetd: FleetdProcess) async throws -> [String: Any] {
        (try await http(.GET, fleetd.baseURL + "/v1/costs?period=day").json["report"] as? [String: Any]) ?? [:]
    }

    static func lines(_ report: [String: Any], _ section: String) -> [String: Double] {
        var out: [String: Double] = [:]
        for line in report[section] as? [[String: Any]] ?? [] {
            if let name = line["name"] as? String { out[name] = line["cost"] as? Double ?? 0 }
        }
        return out
    }

    @Test func aClientThatHangsUpAfterTheFirstChunkIsStillBilled() async throws {
        let fake = try await FakeProviderServer.start(script: .always(
            try .fixture("providers/anthropic-stream-sdkfixture-basic.sse").dripped(size: 20, delay: .milliseconds(100))))
        let (fleetd, _) = try await Self.start(Self.config(models: [("solo", fake.baseURL)]))
        let connection = try RawConnection(port: fleetd.port)
        let body = #"{"prompt": "hello", "stream": true, "id": "walk-away"}"#
        try connection.send("POST /v1/tasks HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nAccept: text/event-stream\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)")
        _ = try await connection.readOffPool(until: "event: chunk", timeout: .seconds(30))
        connection.close()
        let billed = try await eventually(timeout: .seconds(10)) { (Self.lines(try await Self.costs(fleetd), "byModel")["solo"] ?? 0) > 0 }
        #expect(billed, "the call the provider accepted is in the ledger")
        let report = try await Self.costs(fleetd)
        // Anthropic reported its input tokens at message_start: the row rests on that, plus the output received.
        #expect(Self.lines(report, "byBasis").keys.sorted() == ["partial"], "\(report)")
        // The cut call counts against the provider's request quota like any other.
        let models = try await http(.GET, fleetd.baseURL + "/v1/models").json["models"] as? [[String: Any]] ?? []
        let quota = models.first?["quota"] as? [String: Any]
        #expect((quota?["usedFraction"] as? Double ?? 0) > 0, "\(models)")
        let budget = try await http(.GET, fleetd.baseURL + "/v1/costs").json["budget"] as? [String: Any]
        let reserved = (budget?["periods"] as? [[String: Any]])?.map { $0["reserved"] as? Double ?? -1 }
        #expect(reserved == [0, 0, 0], "nothing stays reserved: \(String(describing: budget))")
        fleetd.signal(SIGTERM)
        #expect(await fleetd.waitForExit() == 0)
        await fake.shutdown()
    }

    @Test func eachCallIsBilledUnderTheModelThatServedIt() async throws {
        // The first model accepts the call, says its input, then fails before any text; its
        // synchronous retry is refused (529). The second model answers.
        let broken = "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"m\",\"type\":\"message\",\"role\":\"assistant\",\"content\":[],\"model\":\"x\",\"usage\":{\"input_tokens\":25,\"output_tokens\":1}}}\n\n"
            + "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"api_error\",\"message\":\"internal\"}}\n\n"
        let first = try await FakeProviderServer.start(script: FakeScript { request, _ in
            request.jsonBody?["stream"] as? Bool == true
                ? FakeResponse(headers: [("content-type", "text/event-stream")], body: .bytes(Array(broken.utf8)))
                : .status(529, body: #"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#)
        })
        let second = try await FakeProviderServer.start(script: .always(try .fixture("providers/anthropic-stream-sdkfixture-basic.sse")))
        let (fleetd, _) = try await Self.start(Self.config(models: [("first", first.baseURL), ("second", second.baseURL)]))
        let result = try await http(.POST, fleetd.baseURL + "/v1/tasks", body: #"{"prompt": "hello", "stream": true, "preferredModel": "first"}"#,
                                    headers: [("accept", "application/json")])
        #expect(result.body.contains("second"), "\(result.body)")
        let report = try await Self.costs(fleetd)
        let byModel = Self.lines(report, "byModel")
        #expect((byModel["first"] ?? 0) > 0, "the accepted, failed call is billed under the model that took it: \(report)")
        #expect((byModel["second"] ?? 0) > 0)
        #expect(Set(Self.lines(report, "byBasis").keys) == ["partial", "reported"], "\(report)")
        #expect((report["total"] as? [String: Any])?["entries"] as? Int == 2, "the refused 529 costs nothing")
        fleetd.signal(SIGTERM)
        #expect(await fleetd.waitForExit() == 0)
        await first.shutdown()
        await second.shutdown()
    }

    @Test func concurrentTasksNeverOvershootTheBudgetByMoreThanOneReservation() async throws {
        // The fake bills what it was sent, as a provider does: input tokens from the request's size
        // (4 bytes a token), output up to max_tokens: realistic, not chosen to fit the estimates.
        let fake = try await FakeProviderServer.start(script: FakeScript { request, _ in
            let input = max(1, request.body.count / 4)
            let output = min(request.jsonBody?["max_tokens"] as? Int ?? 64, 300)
            let json = #"{"id":"m","type":"message","role":"assistant","model":"x","content":[{"type":"text","text":"ok"}],"stop_reason":"end_turn","usage":{"input_tokens":\#(input),"output_tokens":\#(output)}}"#
            return FakeResponse(headers: [("content-type", "application/json")], body: .bytes(Array(json.utf8)))
        })
        // A task costs about $0.0045 at these prices; its reservation, about $0.0155 (1,024 output
        // tokens at most: the agent type's maxTokens). The budget holds about ten tasks.
        let limit = 0.05
        let (fleetd, _) = try await Self.start(Self.config(models: [("solo", fake.baseURL)], daily: limit, agents: 16))
        let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
            for index in 0..<60 {
                group.addTask { try await http(.POST, fleetd.baseURL + "/v1/tasks", body: #"{"prompt": "Task \#(index): say ok"}"#).status }
            }
            return try await group.reduce(into: [Int]()) { $0.append($1) }
        }
        #expect(statuses.filter { $0 == 200 }.count >= 2)
        #expect(statuses.contains(402), "the budget refused some: \(statuses)")
        #expect(Set(statuses).isSubset(of: [200, 402]), "\(statuses)")
        let total = (try await Self.costs(fleetd)["total"] as? [String: Any])?["cost"] as? Double ?? -1
        let oneReservation = (Double(40) * 0.003 + 1_024 * 0.015) / 1_000
        #expect(total <= limit + oneReservation, "spent \(total) against a limit of \(limit)")
        fleetd.signal(SIGTERM)
        #expect(await fleetd.waitForExit() == 0)
        await fake.shutdown()
    }

    /// An answered task's settlement is in the journal before its answer goes out; its ledger row
    /// follows by group commit. Killed right after the answers, fleetd bills them at their real
    /// cost when it starts again: nothing lost, nothing at an estimate, nothing twice.
    @Test func tasksAnsweredJustBeforeAKillAreBilledAtTheirRealCostOnRestart() async throws {
        let fake = try await FakeProviderServer.start(script: FakeScript { request, _ in
            let input = max(1, request.body.count / 4)
            let json = #"{"id":"m","type":"message","role":"assistant","model":"x","content":[{"type":"text","text":"ok"}],"stop_reason":"end_turn","usage":{"input_tokens":\#(input),"output_tokens":7}}"#
            return FakeResponse(headers: [("content-type", "application/json")], body: .bytes(Array(json.utf8)))
        })
        let text = Self.config(models: [("solo", fake.baseURL)], agents: 8)
        let (fleetd, data) = try await Self.start(text)
        let answers = try await withThrowingTaskGroup(of: HTTPResult.self) { group in
            for index in 0..<8 {
                group.addTask { try await http(.POST, fleetd.baseURL + "/v1/tasks", body: #"{"prompt": "Task \#(index): say ok"}"#) }
            }
            return try await group.reduce(into: [HTTPResult]()) { $0.append($1) }
        }
        fleetd.signal(SIGKILL)
        _ = await fleetd.waitForExit()
        #expect(answers.allSatisfy { $0.status == 200 }, "\(answers.map(\.status))")
        let answered = answers.reduce(0.0) { $0 + ($1.json["cost"] as? Double ?? 0) }
        #expect(answered > 0)

        let (again, _) = try await Self.start(text, data: data)
        let report = try await Self.costs(again)
        let total = report["total"] as? [String: Any] ?? [:]
        #expect(total["entries"] as? Int == 8, "\(report)")
        #expect(abs((total["cost"] as? Double ?? -1) - answered) < 1e-9, "billed \(total) for answers costing \(answered)")
        #expect(Self.lines(report, "byBasis")["estimated"] == nil, "\(report)")
        // Those whose rows the kill cut off came from the journal (how many depends on timing).
        if again.logText.contains("billed reservations left unsettled") {
            #expect(again.logText.contains(#""atEstimate":"0""#), "\(again.logText)")
        }
        again.signal(SIGTERM)
        #expect(await again.waitForExit() == 0)
        await fake.shutdown()
    }

    @Test func aKilledInstancesReservationsAreBilledAtTheirEstimateOnRestart() async throws {
        let gate = FakeGate()
        let fake = try await FakeProviderServer.start(script: .always(.openAIHeld(gate: gate)))
        let text = Self.config(models: [("solo", fake.baseURL)]).replacingOccurrences(of: "provider: anthropic", with: "provider: openai")
        let (fleetd, data) = try await Self.start(text)
        let task = Task { try? await http(.POST, fleetd.baseURL + "/v1/tasks", body: #"{"prompt": "hold", "stream": true, "id": "crashed"}"#) }
        #expect(await eventually(timeout: .seconds(10)) { fake.bytesWritten > 0 }, "the call is in flight")
        fleetd.signal(SIGKILL)
        _ = await fleetd.waitForExit()
        _ = await task.value
        let (again, _) = try await Self.start(text, data: data)
        let report = try await Self.costs(again)
        #expect(Self.lines(report, "byBasis")["estimated"] ?? 0 > 0, "the unsettled reservation is billed at its estimate: \(report)")
        #expect(again.logText.contains("billed reservations left unsettled"))
        gate.open()
        again.signal(SIGTERM)
        #expect(await again.waitForExit() == 0)
        await fake.shutdown()
    }
}
