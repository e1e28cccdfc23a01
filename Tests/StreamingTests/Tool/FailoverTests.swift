import FakeProvider
import FleetSupport
import Foundation
import Providers
import Synchronization
import Testing
@testable import Streaming

/// Failover between targets: with another target to go to, a model that cannot serve is left at
/// once (no backoff, no Retry-After wait, no synchronous call to it); only the last target is
/// retried, and never past the call's deadline.
@Suite("StreamingTool failover")
struct FailoverTests {
    /// The waiting this suite rules out takes 7 s or more (backoff, Retry-After, a synchronous
    /// call to the failing model); failover itself takes tens of milliseconds on an idle machine
    /// (docs/streaming.md). The bound leaves room for a loaded CI machine and none for the old wait.
    static let bound: Duration = .seconds(5)

    /// Retries configured as in production (1 s backoff), a total far above the Retry-After: the
    /// old behaviour waited out the backoff (≥ 1 s) or the Retry-After (17 s) before moving on.
    static let patient = config(totalMs: 60_000, retries: 3, backoffMs: 1_000)

    /// Collects the attempt reports the router's breakers would get.
    final class Reports: Sendable {
        let all = Mutex<[(model: String, error: ProviderError?, failed: Bool)]>([])
        func add(_ report: StreamAttemptReport) {
            all.withLock { $0.append((report.model, report.providerError, !report.succeeded)) }
        }
    }

    func tool(_ configuration: StreamingConfiguration, reports: Reports? = nil) -> StreamingTool {
        var tool = StreamingTool(configuration: configuration)
        if let reports { tool.onAttempt = { reports.add($0) } }
        return tool
    }

    /// The events and how long they took.
    func timed(_ tool: StreamingTool, _ targets: [StreamTarget], timeLimit: Duration? = nil) async -> ([StreamEvent], Duration) {
        let clock = ContinuousClock()
        let start = clock.now
        var out: [StreamEvent] = []
        for await event in tool.executeStreaming(ProviderRequest(model: "ignored", prompt: "hello there"), targets: targets, timeLimit: timeLimit) {
            out.append(event)
        }
        return (out, clock.now - start)
    }

    /// One call outside the measurement, so the pooled connection to the target exists and the
    /// timings cover the failure handling, not connecting (which a loaded CI machine slows most).
    func warm(_ target: StreamTarget) async {
        _ = try? await target.client.complete(ProviderRequest(model: target.endpoint.model, prompt: "warm-up"))
    }

    static func ms(_ duration: Duration) -> String {
        let ms = Double(duration.components.seconds) * 1_000 + Double(duration.components.attoseconds) / 1e15
        return String(format: "%.1f ms", ms)
    }

    enum FirstFailure: String, CaseIterable, Sendable {
        case rateLimited429, overloaded529, server500

        func response() throws -> FakeResponse {
            switch self {
            case .rateLimited429: .status(429, headers: [("retry-after", "17")])
            case .overloaded529: try .fixture("providers/anthropic-error-529-overloaded.http")
            case .server500: .status(500)
            }
        }
    }

    @Test(arguments: FirstFailure.allCases, [true, false])
    func aFailingModelHandsOverToTheNextAtOnce(failure: FirstFailure, streaming: Bool) async throws {
        let failing = try await FakeProviderServer.start(script: .always(try failure.response()))
        let healthy = try await FakeProviderServer.start(script: .always(streaming ? openAIStream(["fine ", "here"]) : openAIUnary))
        let reports = Reports()
        let tool = tool(Self.patient, reports: reports)
        let second = try target(.openai, healthy, streaming: streaming, name: "second")
        let first = try target(.anthropic, failing, streaming: streaming, name: "first")
        await warm(first)
        await warm(second)
        // The fallback model's own latency (on a warm connection, as the failover below finds it).
        let (_, alone) = await timed(tool, [second])
        reports.all.withLock { $0.removeAll() }
        let before = (failing: failing.requests.count, healthy: healthy.requests.count)

        let (got, elapsed) = await timed(tool, [first, second])
        print("failover after \(failure.rawValue) (streaming: \(streaming)): \(Self.ms(elapsed)); the second model alone: \(Self.ms(alone))")

        let result = try #require(got.result, "\(got.failures)")
        #expect(result.metadata.model == "second")
        #expect(result.text == (streaming ? "fine here" : "sync answer"))
        #expect(result.metadata.attempts == 2)
        #expect(got.failures.isEmpty)
        #expect(failing.requests.count - before.failing == 1, "no retry and no synchronous call to the failing model")
        #expect(healthy.requests.count - before.healthy == 1)
        #expect(elapsed < Self.bound, "failover must not wait for backoff or Retry-After: took \(Self.ms(elapsed))")
        // The failure was reported (it feeds the breakers), with the provider's Retry-After.
        let seen = reports.all.withLock { $0 }
        #expect(seen.map(\.model) == ["first", "second"])
        #expect(seen.map(\.failed) == [true, false])
        if failure == .rateLimited429 {
            #expect(seen.first?.error?.kind == .rateLimited)
            #expect(seen.first?.error?.retryAfter == .seconds(17))
        }
        await failing.shutdown()
        await healthy.shutdown()
    }

    @Test func aRefusedConnectionHandsOverAtOnce() async throws {
        // A port that refuses connections for the whole test.
        let gone = try RefusingPort()
        let healthy = try await FakeProviderServer.start(script: .always(openAIStream(["fine"])))
        // fleetd's own HTTP client: a refused connection fails the attempt at once.
        let client = ProviderClientFactory.makeHTTPClient()
        let factory = makeFactory(httpClient: client)
        var down = endpoint(.openai, gone, model: "first")
        down.name = "first"
        var up = endpoint(.openai, healthy, model: "second")
        up.name = "second"
        let second = try StreamTarget(endpoint: up, factory: factory)
        await warm(second)
        let reports = Reports()
        let (got, elapsed) = await timed(tool(Self.patient, reports: reports), [
            try StreamTarget(endpoint: down, factory: factory), second,
        ])
        print("failover after a refused connection: \(Self.ms(elapsed))")
        #expect(got.result?.metadata.model == "second", "\(got.failures)")
        #expect(got.result?.text == "fine")
        #expect(elapsed < Self.bound, "took \(Self.ms(elapsed))")
        let seen = reports.all.withLock { $0 }
        #expect(seen.map(\.model) == ["first", "second"], "one attempt on the refused model")
        #expect(seen.first?.error?.kind == .network)
        await healthy.shutdown()
        try await client.shutdown()
        withExtendedLifetime(gone) {}
    }

    @Test func aTimeoutHandsOverWithoutASynchronousCallToTheSlowModel() async throws {
        let stalled = try await FakeProviderServer.start(script: .always(openAIStream(["never"]).with(.stallAfter(bytes: 80))))
        let healthy = try await FakeProviderServer.start(script: .always(openAIStream(["fine"])))
        var configuration = Self.patient
        // 1.5 s: long enough that the healthy model's first chunk comes in time on a loaded
        // machine, short beside the wait ruled out (a synchronous call to the stalled model, until
        // the 60 s total timeout).
        configuration.firstChunkTimeoutMs = 1_500
        let second = try target(.openai, healthy, name: "second")
        await warm(second)
        let (got, elapsed) = await timed(tool(configuration), [try target(.openai, stalled, name: "first"), second])
        print("failover after a first-chunk timeout of 1,500 ms: \(Self.ms(elapsed))")
        #expect(got.result?.metadata.model == "second", "\(got.failures)")
        #expect(stalled.requests.count == 1)
        #expect(elapsed >= .milliseconds(1_500))
        #expect(elapsed < .seconds(10), "took \(Self.ms(elapsed))")
        await stalled.shutdown()
        await healthy.shutdown()
    }

    @Test func theLastTargetIsStillRetriedWithBackoff() async throws {
        let failing = try await FakeProviderServer.start(script: .always(.status(500)))
        let flaky = try await FakeProviderServer.start(script: .sequence([.status(503), openAIStream(["second ", "try"])]))
        let (got, _) = await timed(tool(config(totalMs: 10_000, retries: 2, backoffMs: 10)), [
            try target(.openai, failing, name: "first"), try target(.openai, flaky, name: "second"),
        ])
        #expect(got.result?.metadata.model == "second", "\(got.failures)")
        #expect(got.result?.text == "second try")
        #expect(got.result?.metadata.attempts == 3)
        #expect(failing.requests.count == 1)
        #expect(flaky.requests.count == 2)
        await failing.shutdown()
        await flaky.shutdown()
    }

    @Test func aStreamingOnlyFailureStillGetsItsSynchronousCall() async throws {
        // An error event before any text (not an overload): the stream may be the problem, so one
        // synchronous call to the same model comes before the next target (it adds no wait).
        let script = FakeScript { request, _ in
            if request.jsonBody?["stream"] as? Bool == true {
                return .sse([#"{"type":"error","error":{"type":"api_error","message":"stream broke"}}"#], eventType: "error")
            }
            return (try? .fixture("providers/anthropic-nonstream-docs-example.json")) ?? .status(500)
        }
        let first = try await FakeProviderServer.start(script: script)
        let second = try await FakeProviderServer.start(script: .always(openAIStream(["unused"])))
        let (got, _) = await timed(tool(Self.patient), [
            try target(.anthropic, first, name: "first"), try target(.openai, second, name: "second"),
        ])
        #expect(got.result?.metadata.model == "first", "\(got.failures)")
        #expect(got.result?.metadata.synchronousFallback == true)
        #expect(first.requests.map { $0.jsonBody?["stream"] as? Bool } == [true, false])
        #expect(second.requests.isEmpty)
        await first.shutdown()
        await second.shutdown()
    }

    @Test func theOnlyTargetRateLimitedPastTheDeadlineFailsAtOnceWithRetryAfter() async throws {
        let limited = try await FakeProviderServer.start(script: .always(.status(429, headers: [("retry-after", "17")])))
        let only = try target(.openai, limited, name: "only")
        await warm(only)
        let (got, elapsed) = await timed(tool(config(totalMs: 2_000, retries: 3, backoffMs: 1_000)), [only])
        print("one target, 429 retry-after 17, timeoutMs 2000: failed after \(Self.ms(elapsed))")
        #expect(got.result == nil)
        let failure = try #require(got.failures.last)
        #expect(failure.terminal)
        #expect(failure.code == .providerRateLimited)
        #expect(failure.retryAfter == .seconds(17))
        #expect(failure.model == "only")
        #expect(limited.requests.count == 2, "the warm-up and one call")
        #expect(elapsed < Self.bound, "took \(Self.ms(elapsed))")
        await limited.shutdown()
    }

    @Test func theCallersTimeLimitBoundsTheWaitToo() async throws {
        // timeoutMs would allow waiting 17 s; the caller (a task with 2 s left) does not.
        let limited = try await FakeProviderServer.start(script: .always(.status(429, headers: [("retry-after", "17")])))
        let only = try target(.openai, limited, name: "only")
        await warm(only)
        let (got, elapsed) = await timed(tool(Self.patient), [only], timeLimit: .seconds(2))
        print("one target, 429 retry-after 17, timeoutMs 60000, time limit 2 s: failed after \(Self.ms(elapsed))")
        let failure = try #require(got.failures.last)
        #expect(failure.code == .providerRateLimited)
        #expect(failure.retryAfter == .seconds(17))
        #expect(limited.requests.count == 2, "the warm-up and one call")
        #expect(elapsed < Self.bound, "took \(Self.ms(elapsed))")
        await limited.shutdown()
    }
}
