import FakeProvider
import Foundation
import Hummingbird
import HummingbirdTesting
import Providers
import Testing

/// Tasks answered as SSE over a live socket, and tasks that reach a provider (the local fake
/// upstream speaking OpenAI's and Anthropic's wire formats).
@Suite("HTTP API: SSE and the provider path", .timeLimit(.minutes(1)))
struct ProviderPathAPITests {
    @Test("an SSE task over a live socket sends start, chunks in order, then complete")
    func sseOverALiveSocket() async throws {
        try await withFleetd(APIConfig.builtin(), setup: .live) { client, _ in
            let response = try await client.send(.post, "/v1/tasks", json: #"{"prompt": "Write a haiku about snow", "tenantId": "acme", "id": "sse-1"}"#,
                                                 headers: [.accept: "text/event-stream"])
            #expect(response.status == .ok, "\(response.text)")
            #expect(response.headers[.contentType] == "text/event-stream")
            let events = response.events
            let names = events.map(\.name)
            #expect(names.first == "start", "\(names)")
            #expect(names.last == "complete", "\(names)")
            #expect(names.dropFirst().dropLast().allSatisfy { $0 == "chunk" || $0 == "progress" }, "\(names)")
            let start = try #require(events.first?.data)
            #expect(start["model"] as? String == "quick")
            #expect(start["streaming"] as? Bool == true)
            #expect(start["localDefault"] as? Bool == true)

            let chunks = events.filter { $0.name == "chunk" }.map(\.data)
            #expect(chunks.count > 1, "the built-in responder streams word by word")
            #expect(chunks.compactMap { $0["sequence"] as? Int } == Array(0..<chunks.count))
            let complete = try #require(events.last?.data)
            #expect(complete["output"] as? String == chunks.compactMap { $0["text"] as? String }.joined())
            #expect(complete["streamed"] as? Bool == true)
            #expect((complete["output"] as? String)?.hasPrefix(BuiltinProvider.label) == true)

            // The streamed task is remembered like any other.
            let record = try await client.send(.get, "/v1/tasks/sse-1")
            #expect(record.object["status"] as? String == "completed", "\(record.text)")
        }
    }

    @Test("a task reaches the provider: one synchronous OpenAI call with the flags off, its usage and cost settled")
    func jsonTaskThroughTheOpenAIWireFormat() async throws {
        try await withServer(.always(.openAIText(stream: false))) { fake in
            try await withFleetd(APIConfig.fake(provider: "openai", baseURL: fake.baseURL, streaming: false)) { client, _ in
                let response = try await client.send(.post, "/v1/tasks", json: #"{"prompt": "Say ten tokens."}"#)
                #expect(response.status == .ok, "\(response.text)")
                let result = response.object
                #expect(result["output"] as? String == Array(repeating: "token", count: 10).joined(separator: " "))
                #expect(result["model"] as? String == "fast")
                #expect(result["provider"] as? String == "openai")
                #expect(result["localDefault"] as? Bool == false)
                #expect(result["streamed"] as? Bool == false)
                #expect(jsonValue(result, "usage.inputTokens") as? Int == 12)
                #expect(jsonValue(result, "usage.outputTokens") as? Int == 10)
                let expectedCost = (12 * 0.001 + 10 * 0.002) / 1_000
                #expect(abs((result["cost"] as? Double ?? 0) - expectedCost) < 1e-12, "\(response.text)")

                #expect(fake.requests.count == 1)
                let sent = try #require(fake.requests.first)
                #expect(sent.path == "/v1/chat/completions")
                #expect(sent.jsonBody?["model"] as? String == "fast-model-id")
                #expect(sent.jsonBody?["stream"] as? Bool != true, "flags off: one synchronous call")

                let costs = try await client.send(.get, "/v1/costs")
                #expect(jsonValue(costs.object, "report.total.entries") as? Int == 1)
                #expect(abs((jsonValue(costs.object, "report.total.cost") as? Double ?? 0) - expectedCost) < 1e-12, "\(costs.text)")
            }
        }
    }

    @Test("a streamed task relays a recorded Anthropic stream over SSE, chunk for chunk")
    func sseTaskThroughTheAnthropicWireFormat() async throws {
        let transcript = try FakeResponse.fixture("providers/anthropic-stream-sdkfixture-basic.sse")
        try await withServer(.always(transcript)) { fake in
            try await withFleetd(APIConfig.fake(provider: "anthropic", baseURL: fake.baseURL, streaming: true), setup: .live) { client, _ in
                let response = try await client.send(.post, "/v1/tasks", json: #"{"prompt": "hello", "stream": true}"#)
                #expect(response.status == .ok, "\(response.text)")
                #expect(response.headers[.contentType] == "text/event-stream")
                let events = response.events
                #expect(events.first?.name == "start")
                #expect(events.first?.data["provider"] as? String == "anthropic")
                #expect(events.first?.data["localDefault"] as? Bool == false)
                #expect(events.filter { $0.name == "chunk" }.compactMap { $0.data["text"] as? String } == ["Hello", " there", "!"])
                #expect(events.last?.name == "complete", "\(events.map(\.name))")
                let complete = events.last?.data ?? [:]
                #expect(complete["output"] as? String == "Hello there!")
                #expect(complete["streamed"] as? Bool == true)
                #expect(jsonValue(complete, "usage.inputTokens") as? Int == 11)
                #expect(jsonValue(complete, "usage.outputTokens") as? Int == 6)

                let sent = try #require(fake.requests.first)
                #expect(sent.path == "/v1/messages")
                #expect(sent.jsonBody?["stream"] as? Bool == true)
                #expect(fake.requests.count == 1)
            }
        }
    }

    @Test("a provider's 429 with nothing else to serve is a 429 with Retry-After and its PROVIDER_ code, opens the model's breaker and is counted")
    func providerRateLimitIs429() async throws {
        let limited = FakeResponse.status(429, body: #"{"error":{"type":"rate_limit_error","message":"slow down"}}"#,
                                          headers: [("retry-after", "30")])
        try await withServer(.always(limited)) { fake in
            try await withFleetd(APIConfig.fake(provider: "openai", baseURL: fake.baseURL, streaming: false)) { client, _ in
                let response = try await client.send(.post, "/v1/tasks", json: #"{"prompt": "hello", "id": "limited-1"}"#)
                #expect(response.status == .tooManyRequests, "\(response.text)")
                #expect(response.headers[.retryAfter] == "30")
                #expect(response.apiError["code"] as? String == "PROVIDER_RATE_LIMITED", "\(response.text)")

                let record = try await client.send(.get, "/v1/tasks/limited-1")
                #expect(record.object["status"] as? String == "failed")
                #expect(jsonValue(record.object, "error.code") as? String == "PROVIDER_RATE_LIMITED")

                let models = try await client.send(.get, "/v1/models").object["models"] as? [[String: Any]] ?? []
                #expect(jsonValue(models.first ?? [:], "status.breaker.state") as? String == "open", "\(models)")
                let metrics = try await client.send(.get, "/metrics").text
                #expect(metrics.contains(#"model_errors_total{code="PROVIDER_RATE_LIMITED"} 1"#), "\(metrics)")
                let costs = try await client.send(.get, "/v1/costs")
                let day = (jsonValue(costs.object, "budget.periods") as? [[String: Any]])?.first { $0["period"] as? String == "day" }
                #expect(day?["reserved"] as? Double == 0, "the failed call's reservation is released: \(costs.text)")
                #expect(day?["spent"] as? Double == 0)
            }
        }
    }
}
