import FakeProvider
import Foundation
import Testing

/// The real `fleetd` binary with a model that is rate limited: with the router on, tasks go to the
/// next model at once; with one model (router off), the client gets the provider's 429 and its
/// Retry-After promptly instead of a wait past the deadline.
@Suite(.serialized) struct ProviderFailoverTests {
    /// The waiting this suite rules out takes 7 s or more (backoff, Retry-After, a synchronous
    /// call to the failing model); failover itself takes tens of milliseconds on an idle machine
    /// (docs/streaming.md). The bound leaves room for a loaded CI machine and none for the old wait.
    static let bound: Duration = .seconds(3)

    /// Two models on two fake servers: `first` (cheapest, picked first by the cost strategy) and `second`.
    static func config(first: String, second: String, router: Bool) -> String {
        """
        fleet: {id: failover, maxAgents: 8, taskTimeout: 20000}
        agents:
          - {type: general, count: 8}
        api: {host: 127.0.0.1}
        features:
          multiModelRouter: \(router)
          streaming: false
        routing:
          enabled: true
          defaultModel: first
          strategy: cost
          health: {failureThreshold: 3, cooldownSeconds: 60}
          models:
            - name: first
              provider: anthropic
              model: first-model-id
              credentials: {endpoint: "\(first)"}
              capabilities: {costPer1kTokens: {input: 0.001, output: 0.002}}
              complexityRange: {min: 0.0, max: 1.0}
            - name: second
              provider: anthropic
              model: second-model-id
              credentials: {endpoint: "\(second)"}
              capabilities: {costPer1kTokens: {input: 0.01, output: 0.03}}
              complexityRange: {min: 0.0, max: 1.0}
        streaming:
          enabled: true
          timeoutMs: 30000
          retryConfig: {maxRetries: 3, backoffMs: 1000, backoffMultiplier: 2}
        """
    }

    static let answers = FakeScript { _, _ in
        (try? FakeResponse.fixture("providers/anthropic-nonstream-docs-example.json")) ?? .status(500, body: "{}")
    }

    static func milliseconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) * 1_000 + Double(duration.components.attoseconds) / 1e15
    }

    @Test func aRateLimitedModelHandsEveryTaskToTheNextModelAtOnce() async throws {
        let limited = try await FakeProviderServer.start(script: .always(.status(429, headers: [("retry-after", "17")])))
        let healthy = try await FakeProviderServer.start(script: Self.answers)
        let directory = try temporaryDirectory()
        let file = directory.appendingPathComponent("fleet.yaml")
        try Self.config(first: limited.baseURL, second: healthy.baseURL, router: true).write(to: file, atomically: true, encoding: .utf8)
        let fleetd = try await FleetdProcess(config: file, dataDirectory: directory.appendingPathComponent("data"))

        let results = await withTaskGroup(of: (HTTPResult?, Duration).self) { group in
            for index in 0..<8 {
                group.addTask {
                    let clock = ContinuousClock()
                    let start = clock.now
                    let response = try? await http(.POST, "\(fleetd.baseURL)/v1/tasks", body: #"{"prompt": "hello \#(index)"}"#)
                    return (response, clock.now - start)
                }
            }
            var all: [(HTTPResult?, Duration)] = []
            for await result in group { all.append(result) }
            return all
        }
        let times = results.map { Self.milliseconds($0.1) }.sorted()
        print("8 concurrent tasks with the routed model answering 429 retry-after 17: \(times.map { String(format: "%.0f", $0) }.joined(separator: ", ")) ms")
        for (response, elapsed) in results {
            let response = try #require(response)
            #expect(response.status == 200, "\(response.body)")
            #expect(response.json["model"] as? String == "second", "\(response.body)")
            #expect(response.json["output"] as? String == "Hi! My name is Claude.")
            #expect(elapsed < Self.bound, "took \(Self.milliseconds(elapsed)) ms")
        }
        // Each task called the limited model at most once (no retry), and every answer came from the other.
        print("the rate-limited model got \(limited.requests.count) of the 8 tasks' calls")
        #expect(limited.requests.count >= 1 && limited.requests.count <= 8, "\(limited.requests.count)")
        #expect(healthy.requests.count == 8)
        // The 429 holds the model out for its Retry-After.
        let models = try await http(.GET, "\(fleetd.baseURL)/v1/models")
        let statuses = (models.json["models"] as? [[String: Any]])?.compactMap { $0["status"] as? [String: Any] }
        let first = statuses?.first { $0["name"] as? String == "first" }
        let breaker = first?["breaker"] as? [String: Any]
        #expect(breaker?["state"] as? String == "open", "\(models.body)")
        fleetd.signal(SIGTERM)
        #expect(await fleetd.waitForExit() == 0)
        await limited.shutdown()
        await healthy.shutdown()
    }

    /// 30 s is past `streaming.timeoutMs` (30 s); 25 s is within it but past the task's
    /// `fleet.taskTimeout` (20 s), which bounds the wait too.
    @Test(arguments: [30, 25])
    func withOneModelARateLimitPastTheDeadlineAnswers429WithRetryAfter(retryAfter: Int) async throws {
        let limited = try await FakeProviderServer.start(script: .always(.status(429, headers: [("retry-after", "\(retryAfter)")])))
        let unused = try await FakeProviderServer.start(script: Self.answers)
        let directory = try temporaryDirectory()
        let file = directory.appendingPathComponent("fleet.yaml")
        try Self.config(first: limited.baseURL, second: unused.baseURL, router: false).write(to: file, atomically: true, encoding: .utf8)
        let fleetd = try await FleetdProcess(config: file, dataDirectory: directory.appendingPathComponent("data"))

        let clock = ContinuousClock()
        let start = clock.now
        let response = try await http(.POST, "\(fleetd.baseURL)/v1/tasks", body: #"{"prompt": "hello"}"#)
        let elapsed = clock.now - start
        print("router off, one model answering 429 retry-after \(retryAfter): HTTP \(response.status) after \(String(format: "%.0f", Self.milliseconds(elapsed))) ms")
        #expect(response.status == 429, "\(response.body)")
        #expect(response.headers["retry-after"].first == "\(retryAfter)")
        let error = response.json["error"] as? [String: Any]
        #expect(error?["code"] as? String == "PROVIDER_RATE_LIMITED", "\(response.body)")
        #expect(elapsed < Self.bound, "took \(Self.milliseconds(elapsed)) ms")
        #expect(limited.requests.count == 1)
        #expect(unused.requests.isEmpty)
        fleetd.signal(SIGTERM)
        #expect(await fleetd.waitForExit() == 0)
        await limited.shutdown()
        await unused.shutdown()
    }
}
