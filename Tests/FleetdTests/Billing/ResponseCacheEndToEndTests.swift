import FakeProvider
import Foundation
import Testing

/// `advancedCaching` through fleetd: a repeated task is answered from the cache as the original
/// was (JSON or a replayed stream), costs nothing but a zero-cost `cache` row, is counted, keeps
/// tenants apart, honours `cache-control`, and rolls out by tenant like any flag.
@Suite(.serialized) struct ResponseCacheEndToEndTests {
    static func config(baseURL: String, caching: String = "true") -> String {
        """
        fleet: {id: cache, maxAgents: 2}
        agents: [{type: general, count: 2}]
        api: {host: 127.0.0.1}
        features: {multiModelRouter: true, streaming: true, advancedCaching: \(caching)}
        routing:
          enabled: true
          defaultModel: solo
          models:
            - {name: solo, provider: anthropic, model: solo-id, credentials: {endpoint: "\(baseURL)"}, capabilities: {costPer1kTokens: {input: 0.003, output: 0.015}}}
          costTracking: {enabled: true, budgetLimits: {daily: 100}}
        streaming: {enabled: true, retryConfig: {maxRetries: 0}}
        """
    }

    static func start(_ text: String) async throws -> FleetdProcess {
        let directory = try temporaryDirectory()
        let file = directory.appendingPathComponent("fleet.yaml")
        try text.write(to: file, atomically: true, encoding: .utf8)
        return try await FleetdProcess(config: file, dataDirectory: directory.appendingPathComponent("data"),
                                       environment: ["ANTHROPIC_API_KEY": "sk-ant-cache"])
    }

    static func task(_ fleetd: FleetdProcess, _ body: String, headers: [(String, String)] = []) async throws -> HTTPResult {
        try await http(.POST, fleetd.baseURL + "/v1/tasks", body: body, headers: headers)
    }

    @Test func aRepeatedTaskIsAnsweredFromTheCacheAndBilledNothing() async throws {
        let fake = try await FakeProviderServer.start(script: FakeScript { request, _ in
            request.jsonBody?["stream"] as? Bool == true
                ? (try? .fixture("providers/anthropic-stream-sdkfixture-basic.sse")) ?? .status(500)
                : (try? .fixture("providers/anthropic-nonstream-docs-example.json")) ?? .status(500)
        })
        let fleetd = try await Self.start(Self.config(baseURL: fake.baseURL))
        let body = #"{"prompt": "What is the capital of France?", "tenantId": "acme"}"#
        let first = try await Self.task(fleetd, body)
        #expect(first.status == 200, "\(first.body)")
        #expect(first.headers.first(name: "x-fleetd-cache") == "miss")
        let second = try await Self.task(fleetd, body)
        #expect(second.headers.first(name: "x-fleetd-cache") == "hit")
        #expect(second.json["output"] as? String == first.json["output"] as? String)
        #expect(second.json["cost"] as? Double == 0)
        #expect((second.json["cacheSavedUSD"] as? Double ?? 0) > 0)
        #expect(fake.requests.count == 1, "the second answer came from the cache")

        // Another tenant asking the same gets its own answer from the model.
        let globex = try await Self.task(fleetd, #"{"prompt": "What is the capital of France?", "tenantId": "globex"}"#)
        #expect(globex.headers.first(name: "x-fleetd-cache") == "miss")
        #expect(fake.requests.count == 2)

        // cache-control: no-store neither reads nor writes; no-cache asks the model and stores.
        let noStore = try await Self.task(fleetd, body, headers: [("cache-control", "no-store")])
        #expect(noStore.headers.first(name: "x-fleetd-cache") == nil)
        #expect(fake.requests.count == 3)
        let refresh = try await Self.task(fleetd, body, headers: [("cache-control", "no-cache")])
        #expect(refresh.headers.first(name: "x-fleetd-cache") == "miss")
        #expect(fake.requests.count == 4)

        // A streamed repeat replays the answer as events.
        let streamed = #"{"prompt": "Stream me a greeting", "tenantId": "acme", "stream": true}"#
        let live = try await TaskPathTests().streamedEvents(fleetd, streamed)
        let replayed = try await TaskPathTests().streamedEvents(fleetd, streamed)
        #expect(fake.requests.count == 5, "the replay called no model")
        let text = { (events: [(String, [String: Any])]) in events.filter { $0.0 == "chunk" }.compactMap { $0.1["text"] as? String }.joined() }
        #expect(text(replayed) == text(live) && !text(live).isEmpty)
        #expect(replayed.map(\.0) == ["start", "chunk", "complete"])
        #expect(replayed.last?.1["cache"] as? String == "hit")

        // The ledger: the hits are zero-cost rows that say `cache`; metrics count them.
        let report = try await http(.GET, fleetd.baseURL + "/v1/costs").json["report"] as? [String: Any] ?? [:]
        let basis = (report["byBasis"] as? [[String: Any]] ?? []).reduce(into: [String: Int]()) { $0[$1["name"] as? String ?? ""] = $1["entries"] as? Int }
        #expect(basis["cache"] == 2, "\(report)")
        let metrics = try await http(.GET, fleetd.baseURL + "/metrics").body
        #expect(metrics.contains(#"fleetd_cache_lookups_total{result="hit"} 2"#), "\(metrics.split(separator: "\n").filter { $0.contains("cache") })")
        fleetd.signal(SIGTERM)
        #expect(await fleetd.waitForExit() == 0)
        await fake.shutdown()
    }

    /// A cached answer is told as the original was, its finish reason included: one cut at
    /// `max_tokens` is `length` again on the hit, so a client that checks it (the openai SDK's
    /// `parse()` raises on `length`) sees the same answer both times.
    @Test func aCachedAnswerKeepsItsFinishReason() async throws {
        let cut = #"{"id":"msg_1","type":"message","role":"assistant","model":"solo-id","content":[{"type":"text","text":"The capital of France is"}],"stop_reason":"max_tokens","stop_sequence":null,"usage":{"input_tokens":14,"output_tokens":5}}"#
        let fake = try await FakeProviderServer.start(script: .always(FakeResponse(headers: [("content-type", "application/json")],
                                                                                   body: .bytes(Array(cut.utf8)))))
        let fleetd = try await Self.start(Self.config(baseURL: fake.baseURL))
        let body = #"{"model": "solo", "max_tokens": 5, "messages": [{"role": "user", "content": "What is the capital of France?"}]}"#
        for expected in ["miss", "hit"] {
            let answer = try await http(.POST, fleetd.baseURL + "/v1/chat/completions", body: body)
            #expect(answer.headers.first(name: "x-fleetd-cache") == expected, "\(answer.body)")
            let choice = (answer.json["choices"] as? [[String: Any]])?.first
            #expect(choice?["finish_reason"] as? String == "length", "\(expected): \(answer.body)")
        }
        #expect(fake.requests.count == 1)
        // An SDK client's `cache-control: no-store` is honoured here as on /v1/tasks.
        let fresh = try await http(.POST, fleetd.baseURL + "/v1/chat/completions", body: body, headers: [("cache-control", "no-store")])
        #expect(fresh.headers.first(name: "x-fleetd-cache") == nil, "\(fresh.body)")
        #expect(fake.requests.count == 2)
        fleetd.signal(SIGTERM)
        #expect(await fleetd.waitForExit() == 0)
        await fake.shutdown()
    }

    /// A refused turn (Anthropic's `refusal`, an OpenAI refusal, a filtered answer) is not kept: one
    /// such answer must not answer every identical call for the cache's TTL.
    @Test func aRefusalIsNotCached() async throws {
        let refused = #"{"id":"msg_1","type":"message","role":"assistant","model":"solo-id","content":[{"type":"text","text":"I can't help with that."}],"stop_reason":"refusal","stop_sequence":null,"usage":{"input_tokens":14,"output_tokens":6}}"#
        let fake = try await FakeProviderServer.start(script: .always(FakeResponse(headers: [("content-type", "application/json")],
                                                                                   body: .bytes(Array(refused.utf8)))))
        let fleetd = try await Self.start(Self.config(baseURL: fake.baseURL))
        let body = #"{"model": "solo", "max_tokens": 5, "messages": [{"role": "user", "content": "Something it refuses"}]}"#
        for _ in 0..<2 {
            let answer = try await http(.POST, fleetd.baseURL + "/v1/chat/completions", body: body)
            #expect(answer.headers.first(name: "x-fleetd-cache") == "miss", "\(answer.body)")
            // As OpenAI writes a refusal: `stop`, the text as the message's `refusal`.
            let choice = (answer.json["choices"] as? [[String: Any]])?.first
            #expect(choice?["finish_reason"] as? String == "stop", "\(answer.body)")
            #expect((choice?["message"] as? [String: Any])?["refusal"] as? String == "I can't help with that.", "\(answer.body)")
        }
        #expect(fake.requests.count == 2, "the second call went to the provider")
        fleetd.signal(SIGTERM)
        #expect(await fleetd.waitForExit() == 0)
        await fake.shutdown()
    }

    /// An unset temperature (the provider's default) and an explicit 0 are different calls: a client
    /// that asks for deterministic output never gets the answer sampled at the default, nor the
    /// other way round. Each is cached as itself; a temperature above `maxTemperature` is not cached.
    @Test func anUnsetTemperatureIsNotCachedAsZero() async throws {
        let fake = try await FakeProviderServer.start(script: .always(try .fixture("providers/anthropic-nonstream-docs-example.json")))
        let fleetd = try await Self.start(Self.config(baseURL: fake.baseURL))
        func ask(temperature: String?) async throws -> String? {
            let sampling = temperature.map { #", "temperature": \#($0)"# } ?? ""
            let body = #"{"model": "solo", "max_tokens": 50\#(sampling), "messages": [{"role": "user", "content": "What is the capital of France?"}]}"#
            let answer = try await http(.POST, fleetd.baseURL + "/v1/chat/completions", body: body)
            #expect(answer.status == 200, "\(answer.body)")
            return answer.headers.first(name: "x-fleetd-cache")
        }
        #expect(try await ask(temperature: nil) == "miss")
        #expect(try await ask(temperature: "0") == "miss", "0 is not the provider's default")
        #expect(try await ask(temperature: nil) == "hit")
        #expect(try await ask(temperature: "0") == "hit")
        #expect(fake.requests.count == 2)
        #expect(try await ask(temperature: "0.9") == nil, "above memory.responseCache.maxTemperature (0.5): not cached")
        #expect(fake.requests.count == 3)
        fleetd.signal(SIGTERM)
        #expect(await fleetd.waitForExit() == 0)
        await fake.shutdown()
    }

    /// A fallback's answer is not cached under the key of the model that failed: once that model
    /// is back, the next same request goes to it, not to the fallback's stored answer.
    @Test func aFallbacksAnswerIsNotCachedForThePick() async throws {
        let fake = try await FakeProviderServer.start(script: FakeScript { _, index in
            index == 0 ? .status(500, body: #"{"type":"error","error":{"type":"api_error","message":"down"}}"#)
                       : (try? .fixture("providers/anthropic-nonstream-docs-example.json")) ?? .status(500)
        })
        let text = Self.config(baseURL: fake.baseURL)
            .replacingOccurrences(of: "  costTracking:", with: """
                    - {name: backup, provider: anthropic, model: backup-id, credentials: {endpoint: "\(fake.baseURL)"}, capabilities: {costPer1kTokens: {input: 0.3, output: 1.5}}}
                  costTracking:
                """)
            // The cheapest first: solo stays the pick after its one failure.
            .replacingOccurrences(of: "  defaultModel: solo\n", with: "  defaultModel: solo\n  strategy: cost\n")
        #expect(text.contains("name: backup") && text.contains("strategy: cost"))
        let fleetd = try await Self.start(text)
        let body = #"{"prompt": "What is the capital of France?", "tenantId": "acme"}"#
        let first = try await Self.task(fleetd, body)
        let pick = (first.json["selection"] as? [String: Any])?["modelName"] as? String
        #expect(first.status == 200 && pick != nil && first.json["model"] as? String != pick, "\(first.status) \(first.body)")
        let second = try await Self.task(fleetd, body)
        #expect(second.headers.first(name: "x-fleetd-cache") == "miss", "\(second.body)")
        #expect(second.json["model"] as? String == pick, "\(second.body)")
        fleetd.signal(SIGTERM)
        #expect(await fleetd.waitForExit() == 0)
        await fake.shutdown()
    }

    @Test func theFlagRollsOutByTenant() async throws {
        let fake = try await FakeProviderServer.start(script: .always(try .fixture("providers/anthropic-nonstream-docs-example.json")))
        // On for half the tenants, by tenantId: each tenant is in or out for good.
        let fleetd = try await Self.start(Self.config(baseURL: fake.baseURL,
                                                      caching: "{enabled: true, rollout: {percentage: 50, stickiness: tenantId}}"))
        var on = 0, off = 0
        for index in 0..<12 {
            let body = #"{"prompt": "Same question", "tenantId": "tenant-\#(index)"}"#
            _ = try await Self.task(fleetd, body)
            let again = try await Self.task(fleetd, body)
            if again.headers.first(name: "x-fleetd-cache") == "hit" { on += 1 } else { off += 1 }
            #expect(again.headers.first(name: "x-fleetd-cache") != "miss", "a tenant in the rollout hits on its repeat")
        }
        #expect(on > 0 && off > 0, "some tenants in, some out: \(on) in, \(off) out")
        fleetd.signal(SIGTERM)
        #expect(await fleetd.waitForExit() == 0)
        await fake.shutdown()
    }
}
