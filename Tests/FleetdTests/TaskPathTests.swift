import FakeProvider
import Foundation
import Testing

/// The product end to end: the real `fleetd` binary against a local fake provider that speaks
/// Anthropic's wire format from recorded transcripts (Tests/Fixtures/providers).
@Suite(.serialized) struct TaskPathTests {
    static let simplePrompt = "What is the capital of France?"
    static let complexPrompt = """
    Design the architecture of a distributed rate limiter for a multi-region API gateway. Prove that your \
    token-bucket synchronisation cannot double-spend under a network partition, reason step by step about every \
    race condition and edge case, and compare three alternatives with their trade-offs.
    """

    /// Answers by model id and by whether the request asked to stream. `faulty` decides per model.
    static func script(faulty: @escaping @Sendable (String, Bool) -> FakeResponse? = { _, _ in nil }) -> FakeScript {
        FakeScript { request, _ in
            let body = request.jsonBody ?? [:]
            let model = body["model"] as? String ?? ""
            let stream = body["stream"] as? Bool ?? false
            if let fault = faulty(model, stream) { return fault }
            do {
                return try stream ? .fixture("providers/anthropic-stream-sdkfixture-basic.sse")
                                  : .fixture("providers/anthropic-nonstream-docs-example.json")
            } catch {
                return .status(500, body: "{\"error\":\"fixture missing\"}")
            }
        }
    }

    /// A config with a cheap and a strong model (and a fallback), all served by the fake.
    static func config(baseURL: String, router: String, streaming: String, extraModels: String = "", retries: Int = 0,
                       costTracking: Bool = true) -> String {
        """
        fleet: {id: e2e, maxAgents: 4, taskTimeout: 20000}
        agents:
          - {type: general, count: 2}
        api: {host: 127.0.0.1}
        features:
          multiModelRouter: \(router)
          streaming: \(streaming)
        routing:
          enabled: true
          defaultModel: cheap
          strategy: cost
          health: {failureThreshold: 1, cooldownSeconds: 60}
          models:
            - name: cheap
              provider: anthropic
              model: cheap-model-id
              credentials: {endpoint: "\(baseURL)"}
              capabilities: {costPer1kTokens: {input: 0.001, output: 0.002}}
              complexityRange: {min: 0.0, max: 0.45}
            - name: strong
              provider: anthropic
              model: strong-model-id
              credentials: {endpoint: "\(baseURL)"}
              capabilities: {costPer1kTokens: {input: 0.01, output: 0.03}}
              complexityRange: {min: 0.45, max: 1.0}
        \(extraModels)
          costTracking: {enabled: \(costTracking), budgetLimits: {daily: 1000}}
        streaming:
          enabled: true
          timeoutMs: 15000
          retryConfig: {maxRetries: \(retries), backoffMs: 10, backoffMultiplier: 2}
        """
    }

    func task(_ fleetd: FleetdProcess, _ body: String) async throws -> HTTPResult {
        try await http(.POST, "\(fleetd.baseURL)/v1/tasks", body: body)
    }

    /// SSE events of one streamed task, as (name, JSON object) pairs.
    func streamedEvents(_ fleetd: FleetdProcess, _ body: String) async throws -> [(String, [String: Any])] {
        let response = try await http(.POST, "\(fleetd.baseURL)/v1/tasks", body: body, headers: [("Accept", "text/event-stream")])
        #expect(response.headers["content-type"].first?.hasPrefix("text/event-stream") == true, "\(response.body)")
        var events: [(String, [String: Any])] = []
        for block in response.body.components(separatedBy: "\n\n") where !block.isEmpty {
            var name = "message", data = ""
            for line in block.split(separator: "\n") {
                if line.hasPrefix("event: ") { name = String(line.dropFirst(7)) }
                if line.hasPrefix("data: ") { data += String(line.dropFirst(6)) }
            }
            let object = (try? JSONSerialization.jsonObject(with: Data(data.utf8))) as? [String: Any] ?? [:]
            events.append((name, object))
        }
        return events
    }

    @Test func routesSimpleAndComplexTasksToDifferentModels() async throws {
        let fake = try await FakeProviderServer.start(script: Self.script())
        let directory = try temporaryDirectory()
        let file = directory.appendingPathComponent("fleet.yaml")
        try Self.config(baseURL: fake.baseURL, router: "true", streaming: "false").write(to: file, atomically: true, encoding: .utf8)
        let fleetd = try await FleetdProcess(config: file, dataDirectory: directory.appendingPathComponent("data"))

        let simple = try await task(fleetd, #"{"prompt": "\#(Self.simplePrompt)"}"#)
        #expect(simple.status == 200, "\(simple.body)")
        #expect(simple.json["model"] as? String == "cheap")
        #expect(simple.json["output"] as? String == "Hi! My name is Claude.")
        // POST /v1/route explains the same pick without calling the provider.
        let requestsBefore = fake.requests.count
        let explained = try await http(.POST, "\(fleetd.baseURL)/v1/route", body: #"{"prompt": "\#(Self.complexPrompt)"}"#)
        #expect(explained.json["modelName"] as? String == "strong", "\(explained.body)")
        #expect(fake.requests.count == requestsBefore)
        let complex = try await task(fleetd, #"{"prompt": "\#(Self.complexPrompt)"}"#)
        #expect(complex.json["model"] as? String == "strong", "\(complex.body)")
        let selection = complex.json["selection"] as? [String: Any]
        #expect(selection?["routed"] as? Bool == true)
        #expect((selection?["reason"] as? String)?.isEmpty == false)
        // The provider saw both model ids, in Anthropic's wire format.
        let models = fake.requests.compactMap { $0.jsonBody?["model"] as? String }
        #expect(models == ["cheap-model-id", "strong-model-id"])
        #expect(fake.requests.allSatisfy { $0.path == "/v1/messages" && $0.header("anthropic-version") != nil })
        // The cost was recorded: input 2095 and output 503 tokens from the transcript's usage.
        let usage = simple.json["usage"] as? [String: Any]
        #expect(usage?["inputTokens"] as? Int == 2095 && usage?["outputTokens"] as? Int == 503)
        let costs = try await http(.GET, "\(fleetd.baseURL)/v1/costs?period=day")
        let total = (costs.json["report"] as? [String: Any])?["total"] as? [String: Any]
        #expect(total?["entries"] as? Int == 2, "\(costs.body)")
        fleetd.signal(SIGTERM)
        #expect(await fleetd.waitForExit() == 0)
        await fake.shutdown()
    }

    @Test func streamsOverSSE() async throws {
        let fake = try await FakeProviderServer.start(script: Self.script())
        let directory = try temporaryDirectory()
        let file = directory.appendingPathComponent("fleet.yaml")
        try Self.config(baseURL: fake.baseURL, router: "true", streaming: "true").write(to: file, atomically: true, encoding: .utf8)
        let fleetd = try await FleetdProcess(config: file, dataDirectory: directory.appendingPathComponent("data"))

        let events = try await streamedEvents(fleetd, #"{"prompt": "hello", "stream": true}"#)
        #expect(events.first?.0 == "start")
        #expect(events.last?.0 == "complete")
        let text = events.filter { $0.0 == "chunk" }.compactMap { $0.1["text"] as? String }.joined()
        #expect(text == "Hello there!")
        let complete = try #require(events.last?.1)
        #expect(complete["output"] as? String == "Hello there!")
        #expect(complete["streamed"] as? Bool == true)
        #expect(fake.requests.last?.jsonBody?["stream"] as? Bool == true)
        fleetd.signal(SIGTERM)
        #expect(await fleetd.waitForExit() == 0)
        await fake.shutdown()
    }

    @Test func flagsFlipByFileAndAdminAPIWithoutRestart() async throws {
        let fake = try await FakeProviderServer.start(script: Self.script())
        let directory = try temporaryDirectory()
        let file = directory.appendingPathComponent("fleet.yaml")
        try Self.config(baseURL: fake.baseURL, router: "false", streaming: "false").write(to: file, atomically: true, encoding: .utf8)
        let token = "flip-token"
        let fleetd = try await FleetdProcess(config: file, dataDirectory: directory.appendingPathComponent("data"),
                                             environment: ["FLEETD_ADMIN_TOKEN": token])
        let body = #"{"prompt": "\#(Self.complexPrompt)", "stream": true}"#

        // All flags off: the v1.0.4 path, the default model with one synchronous call.
        var complete = try #require(try await streamedEvents(fleetd, body).last?.1)
        #expect(complete["model"] as? String == "cheap")
        #expect(complete["streamed"] as? Bool == false)
        #expect((complete["selection"] as? [String: Any])?["routed"] as? Bool == false)
        #expect(fake.requests.last?.jsonBody?["stream"] == nil || fake.requests.last?.jsonBody?["stream"] as? Bool == false)

        // Edit the file: the router comes on for the next task.
        let edited = Self.config(baseURL: fake.baseURL, router: "true", streaming: "false")
        let temporary = directory.appendingPathComponent(".edit")
        try edited.write(to: temporary, atomically: false, encoding: .utf8)
        #expect(rename(temporary.path, file.path) == 0)
        let routed = try await eventually(timeout: .seconds(2)) {
            let last = try await streamedEvents(fleetd, body).last?.1
            return last?["model"] as? String == "strong"
        }
        #expect(routed, "the router should be on within a second of the edit")

        // The admin API: streaming on for everyone.
        let put = try await http(.PUT, "\(fleetd.baseURL)/v1/flags/streaming", body: #"{"enabled": true}"#,
                                 headers: [("Authorization", "Bearer \(token)")])
        #expect(put.status == 200)
        complete = try #require(try await streamedEvents(fleetd, body).last?.1)
        #expect(complete["streamed"] as? Bool == true)
        #expect(complete["model"] as? String == "strong")

        // An invalid edit is rejected; tasks keep being served under the old config.
        try "features: {streaming: [oops]}\n".write(to: temporary, atomically: false, encoding: .utf8)
        #expect(rename(temporary.path, file.path) == 0)
        #expect(await eventually { fleetd.logText.contains("config reload rejected") })
        #expect(try await task(fleetd, #"{"prompt": "still there?"}"#).status == 200)
        fleetd.signal(SIGTERM)
        #expect(await fleetd.waitForExit() == 0)
        await fake.shutdown()
    }

    @Test func rolloutToAQuarterOfTenantsIsSticky() async throws {
        let fake = try await FakeProviderServer.start(script: Self.script())
        let directory = try temporaryDirectory()
        let file = directory.appendingPathComponent("fleet.yaml")
        try Self.config(baseURL: fake.baseURL, router: "false",
                        streaming: "{enabled: true, rollout: {percentage: 25, stickiness: tenantId}}")
            .write(to: file, atomically: true, encoding: .utf8)
        let fleetd = try await FleetdProcess(config: file, dataDirectory: directory.appendingPathComponent("data"))

        var streamedTenants: Set<Int> = []
        for tenant in 0..<120 {
            let complete = try await streamedEvents(fleetd, #"{"prompt": "hi", "stream": true, "tenantId": "tenant-\#(tenant)"}"#).last?.1
            if complete?["streamed"] as? Bool == true { streamedTenants.insert(tenant) }
        }
        #expect((15...45).contains(streamedTenants.count), "about a quarter of 120 tenants should stream, got \(streamedTenants.count)")
        for tenant in [0, 1, 2, 3, 5, 8, 13, 21, 34, 55] {
            let complete = try await streamedEvents(fleetd, #"{"prompt": "again", "stream": true, "tenantId": "tenant-\#(tenant)"}"#).last?.1
            #expect((complete?["streamed"] as? Bool == true) == streamedTenants.contains(tenant), "tenant-\(tenant) must always take the same path")
        }
        fleetd.signal(SIGTERM)
        #expect(await fleetd.waitForExit() == 0)
        await fake.shutdown()
    }

    /// A rollout sticky to a field of the caller's own: the task brings it in `properties`.
    @Test func aRolloutStickyToACustomField() async throws {
        let fake = try await FakeProviderServer.start(script: Self.script())
        let directory = try temporaryDirectory()
        let file = directory.appendingPathComponent("fleet.yaml")
        try Self.config(baseURL: fake.baseURL, router: "false", streaming: "{enabled: true, rollout: {percentage: 100, stickiness: region}}")
            .write(to: file, atomically: true, encoding: .utf8)
        let fleetd = try await FleetdProcess(config: file, dataDirectory: directory.appendingPathComponent("data"))
        let with = try await streamedEvents(fleetd, #"{"prompt": "hi", "stream": true, "properties": {"region": "eu"}}"#).last?.1
        #expect(with?["streamed"] as? Bool == true, "\(String(describing: with))")
        let without = try await streamedEvents(fleetd, #"{"prompt": "hi", "stream": true}"#).last?.1
        #expect(without?["streamed"] as? Bool == false, "no region: the rollout is off for the task")
        fleetd.signal(SIGTERM)
        #expect(await fleetd.waitForExit() == 0)
        await fake.shutdown()
    }

    @Test func survivesA429AndAMidStreamCut() async throws {
        // `flaky` answers 429 (the recorded transcript) to synchronous calls and cuts its streams
        // before any text; `steady` always answers.
        let fake = try await FakeProviderServer.start(script: Self.script { model, stream in
            guard model == "flaky-model-id" else { return nil }
            if stream {
                return try? FakeResponse.fixture("providers/anthropic-stream-sdkfixture-basic.sse").with(.cutAfter(bytes: 380))
            }
            return try? FakeResponse.fixture("providers/anthropic-error-429-rate-limit.http")
        })
        let directory = try temporaryDirectory()
        let file = directory.appendingPathComponent("fleet.yaml")
        let extra = """
            - name: flaky
              provider: anthropic
              model: flaky-model-id
              credentials: {endpoint: "\(fake.baseURL)"}
              capabilities: {costPer1kTokens: {input: 0.0001, output: 0.0001}}
              complexityRange: {min: 0.0, max: 1.0}
        """
        try Self.config(baseURL: fake.baseURL, router: "true", streaming: "true", extraModels: extra)
            .write(to: file, atomically: true, encoding: .utf8)
        let fleetd = try await FleetdProcess(config: file, dataDirectory: directory.appendingPathComponent("data"))

        // Streamed: flaky is the cheapest pick; its stream is cut before any text (a network
        // failure), so the next model in the chain answers at once: no retry and no synchronous
        // call to flaky (which would have answered 429).
        let events = try await streamedEvents(fleetd, #"{"prompt": "hello", "stream": true}"#)
        let complete = try #require(events.last?.1, "\(events.map(\.0))")
        #expect(events.last?.0 == "complete")
        #expect((complete["selection"] as? [String: Any])?["modelName"] as? String == "flaky")
        #expect(complete["model"] as? String != "flaky")
        #expect(complete["output"] as? String == "Hello there!")
        #expect(events.filter { $0.0 == "chunk" }.count == 3, "no duplicated output")
        #expect(fake.requests.filter { $0.jsonBody?["model"] as? String == "flaky-model-id" }.count == 1)

        // The failure opened flaky's breaker (failureThreshold 1): the next task is routed around it.
        let next = try await task(fleetd, #"{"prompt": "hello again"}"#)
        #expect(next.status == 200)
        #expect((next.json["selection"] as? [String: Any])?["modelName"] as? String != "flaky")
        let models = try await http(.GET, "\(fleetd.baseURL)/v1/models")
        #expect(models.body.contains("\"name\":\"flaky\""))
        #expect(models.body.contains("open"), "\(models.body)")
        // /metrics shows the open breaker (2) and the budget in use.
        let metrics = try await http(.GET, "\(fleetd.baseURL)/metrics")
        #expect(metrics.body.contains(#"provider_breaker_state{scope="model",name="flaky"} 2"#), "\(metrics.body)")
        #expect(metrics.body.contains(#"budget_utilization_percent{period="day"}"#))
        #expect(metrics.body.contains("routing_fallbacks_total"))
        fleetd.signal(SIGTERM)
        #expect(await fleetd.waitForExit() == 0)
        await fake.shutdown()
    }

    @Test func drainsOnSIGTERMWithoutLosingACostEntry() async throws {
        // A slow stream: the transcript dripped 40 bytes every 50 ms (about 1.3 s in all).
        let fake = try await FakeProviderServer.start(script: Self.script { _, stream in
            stream ? (try? FakeResponse.fixture("providers/anthropic-stream-sdkfixture-basic.sse").dripped(size: 40, delay: .milliseconds(50))) : nil
        })
        let directory = try temporaryDirectory()
        let file = directory.appendingPathComponent("fleet.yaml")
        let data = directory.appendingPathComponent("data")
        try Self.config(baseURL: fake.baseURL, router: "true", streaming: "true").write(to: file, atomically: true, encoding: .utf8)
        let fleetd = try await FleetdProcess(config: file, dataDirectory: data)

        async let streamed = streamedEvents(fleetd, #"{"prompt": "hello", "stream": true, "id": "drain-task"}"#)
        // SIGTERM once the provider has begun streaming the answer: the task is in flight.
        #expect(await eventually(timeout: .seconds(10)) { fake.bytesWritten > 0 })
        fleetd.signal(SIGTERM)
        let events = try await streamed
        #expect(events.last?.0 == "complete", "the in-flight stream finishes during the drain: \(events.map(\.0))")
        #expect(await fleetd.waitForExit() == 0)

        let report = try await FleetdProcess.run(["costs", "--config", file.path, "--data-dir", data.path, "--format", "json"])
        #expect(report.status == 0, "\(report.stderr)")
        #expect(report.stdout.contains("\"entries\" : 1") || report.stdout.contains("\"entries\":1"), "\(report.stdout)")
        await fake.shutdown()
    }
}
