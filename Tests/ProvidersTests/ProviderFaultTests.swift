import FakeProvider
import FleetSupport
import Foundation
import NIOHTTP1
import Testing
@testable import Providers

/// Each fault maps to the right ``ProviderError`` and retry decision.
@Suite("Provider faults")
struct ProviderFaultTests {
    private func streamError(_ provider: ProviderKind, _ response: FakeResponse) async throws -> (ProviderError, String) {
        try await withServer(.always(response)) { server in
            let client = try makeFactory().makeClient(for: endpoint(provider, server))
            var text = ""
            do {
                for try await event in try await client.stream(ProviderRequest(model: "test-model", prompt: "hi")) {
                    if case .textDelta(let t) = event { text += t }
                }
            } catch let error as ProviderError {
                return (error, text)
            }
            Issue.record("expected an error")
            throw CancellationError()
        }
    }

    @Test func anthropic429FromRecordedHeaders() async throws {
        let (error, _) = try await streamError(.anthropic, try .fixture("providers/anthropic-error-429-rate-limit.http"))
        #expect(error.kind == .rateLimited)
        #expect(error.status == 429)
        #expect(error.retryAfter == .seconds(17))
        #expect(error.isRetryable)
        #expect(error.providerCode == "rate_limit_error")
        #expect(error.code == .providerRateLimited)
        #expect(error.shortDescription == "rate_limited")
    }

    @Test func anthropic529Overloaded() async throws {
        let (error, _) = try await streamError(.anthropic, try .fixture("providers/anthropic-error-529-overloaded.http"))
        #expect(error.kind == .overloaded)
        #expect(error.status == 529)
        #expect(error.isRetryable)
        #expect(error.message == "Overloaded")
    }

    @Test func openAI429UsesResetHeaders() async throws {
        let (error, _) = try await streamError(.openai, try .fixture("providers/openai-error-429-rate-limit.http"))
        #expect(error.kind == .rateLimited)
        #expect(error.retryAfter == .seconds(1)) // soonest of x-ratelimit-reset-requests 1s / -tokens 6m0s
        #expect(error.isRetryable)
        #expect(error.providerCode == "rate_limit_exceeded")
    }

    @Test func openAIInsufficientQuotaIsNotRetryable() async throws {
        let (error, _) = try await streamError(.openai, try .fixture("providers/openai-error-429-insufficient-quota.http"))
        #expect(error.kind == .rateLimited)
        #expect(!error.isRetryable)
        #expect(error.providerCode == "insufficient_quota")
    }

    @Test func gemini429Body() async throws {
        let (error, _) = try await streamError(.google, try .fixture("providers/gemini-error-429-quota-exceeded-firebase.json", status: 429))
        #expect(error.kind == .rateLimited)
        #expect(error.providerCode == "RESOURCE_EXHAUSTED")
    }

    /// Gemini sends no Retry-After: the wait is a `RetryInfo` in the body's `details`; a bad key
    /// is a 400 whose `ErrorInfo` says `API_KEY_INVALID`. (Bodies in Google's documented error
    /// shape, as the recorded 429 above has it, with those two details.)
    @Test func geminiRetryInfoAndInvalidKey() async throws {
        let limited = #"{"error":{"code":429,"message":"Resource has been exhausted","status":"RESOURCE_EXHAUSTED","details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"37s"}]}}"#
        let (rate, _) = try await streamError(.google, .status(429, body: limited))
        #expect(rate.kind == .rateLimited && rate.retryAfter == .seconds(37), "\(rate)")
        let badKey = #"{"error":{"code":400,"message":"API key not valid. Please pass a valid API key.","status":"INVALID_ARGUMENT","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"API_KEY_INVALID","domain":"googleapis.com"}]}}"#
        let (auth, _) = try await streamError(.google, .status(400, body: badKey))
        #expect(auth.kind == .auth && !auth.isRetryable, "\(auth)")
        let other = #"{"error":{"code":400,"message":"Invalid JSON payload","status":"INVALID_ARGUMENT"}}"#
        #expect(try await streamError(.google, .status(400, body: other)).0.kind == .badRequest)
    }

    /// A redirect is not followed: the key (Anthropic's `x-api-key`, which AsyncHTTPClient does not
    /// strip on a cross-host redirect) and the body never reach the address redirected to.
    @Test func aRedirectIsNotFollowed() async throws {
        try await withServer(.always(.status(200))) { elsewhere in
            let redirect = FakeResponse.status(307, body: "<html>moved</html>", headers: [("location", elsewhere.baseURL + "/v1/messages")])
            let http = ProviderClientFactory.makeHTTPClient()
            try await withServer(.always(redirect)) { server in
                let client = try makeFactory(httpClient: http).makeClient(for: endpoint(.anthropic, server))
                do {
                    _ = try await client.complete(ProviderRequest(model: "test-model", prompt: "hi"))
                    Issue.record("a redirect must fail the call")
                } catch let error as ProviderError {
                    #expect(error.status == 307 && error.message.contains("follows no redirects"), "\(error)")
                    #expect(error.message.contains(elsewhere.baseURL), "\(error)")
                }
                #expect(elsewhere.requests.isEmpty, "the redirect was followed: \(elsewhere.requests.count)")
            }
            try await http.shutdown()
        }
    }

    @Test("status codes", arguments: [
        (500, ProviderError.Kind.server, true), (503, .server, true), (401, .auth, false), (403, .auth, false),
        (400, .badRequest, false), (404, .badRequest, false), (408, .server, true), (529, .overloaded, true),
    ])
    func statusCodes(_ status: Int, _ kind: ProviderError.Kind, _ retryable: Bool) async throws {
        let (error, _) = try await streamError(.openai, .status(status))
        #expect(error.kind == kind)
        #expect(error.isRetryable == retryable)
        #expect(error.status == status)
    }

    @Test func retryAfterMsWinsAndShouldRetryOverrides() async throws {
        let (error, _) = try await streamError(.anthropic, .status(500, headers: [
            ("retry-after-ms", "250"), ("retry-after", "9"), ("x-should-retry", "false"),
        ]))
        #expect(error.retryAfter == .milliseconds(250))
        #expect(!error.isRetryable)
    }

    @Test func retryDelayHeaderForms() {
        let now = Date(timeIntervalSince1970: 1_755_780_000) // 2025-08-21T12:40:00Z
        func delay(_ pairs: [(String, String)]) -> Duration? {
            ProviderErrorClassifier.retryDelay(headers: HTTPHeaders(pairs), now: now)
        }
        #expect(delay([("retry-after", "2.5")]) == .milliseconds(2500))
        #expect(delay([("retry-after", "Thu, 21 Aug 2025 12:40:30 GMT")]) == .seconds(30))
        #expect(delay([
            ("anthropic-ratelimit-requests-remaining", "0"), ("anthropic-ratelimit-requests-reset", "2025-08-21T12:41:16Z"),
            ("anthropic-ratelimit-tokens-remaining", "5"), ("anthropic-ratelimit-tokens-reset", "2025-08-21T12:40:05Z"),
        ]) == .seconds(76))
        #expect(delay([("x-ratelimit-reset-tokens", "1h2m3.5s")]) == .milliseconds(3_723_500))
        #expect(delay([("x-ratelimit-reset-requests", "174ms")]) == .milliseconds(174))
        #expect(delay([("retry-after", "soon")]) == nil)
        #expect(delay([]) == nil)
    }

    @Test func anthropicMidStreamErrorAfterText() async throws {
        let (error, text) = try await streamError(.anthropic, try .fixture("providers/anthropic-stream-error-midstream-composed.sse"))
        #expect(text == "Hello")
        #expect(error.kind == .overloaded)
        #expect(error.providerCode == "overloaded_error")
    }

    @Test func anthropicErrorEventAlone() async throws {
        let (error, text) = try await streamError(.anthropic, try .fixture("providers/anthropic-stream-error-sdktest.sse"))
        #expect(text.isEmpty)
        #expect(error.kind == .overloaded)
    }

    @Test func geminiBareJSONErrorMidStream() async throws {
        let (error, text) = try await streamError(.google, try .fixture("providers/gemini-stream-error-midstream-firebase.sse"))
        #expect(text == "First Second ")
        #expect(error.kind == .midStream)
        #expect(error.providerCode == "CANCELLED")
        #expect(error.message == "The operation was cancelled.")
    }

    /// A capacity error sent inside a 200 stream is classified as its status would have been:
    /// Gemini's UNAVAILABLE (503) and RESOURCE_EXHAUSTED (429, with its retryDelay), an
    /// OpenAI-compatible server's rate limit. Before, all were "midStream": no failover at once.
    @Test func capacityErrorsMidStreamAreCapacityErrors() throws {
        let unavailable = ProviderErrorClassifier.midStream(json: Array(#"{"error":{"code":503,"message":"The model is overloaded.","status":"UNAVAILABLE"}}"#.utf8),
                                                            provider: .google, secret: nil)
        #expect(unavailable.kind == .overloaded && unavailable.isRetryable)
        let exhausted = ProviderErrorClassifier.midStream(json: Array(#"{"error":{"code":429,"message":"Quota","status":"RESOURCE_EXHAUSTED","details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"12s"}]}}"#.utf8),
                                                          provider: .google, secret: nil)
        #expect(exhausted.kind == .rateLimited && exhausted.retryAfter == .seconds(12))
        let openAI = ProviderErrorClassifier.midStream(json: Array(#"{"error":{"message":"Rate limit reached","type":"requests","code":"rate_limit_exceeded"}}"#.utf8),
                                                       provider: .xai, secret: nil)
        #expect(openAI.kind == .rateLimited)
        let cancelled = ProviderErrorClassifier.midStream(json: Array(#"{"error":{"code":499,"message":"cancelled","status":"CANCELLED"}}"#.utf8),
                                                          provider: .google, secret: nil)
        #expect(cancelled.kind == .midStream)
    }

    @Test func ollamaErrorLineMidStream() async throws {
        let (error, text) = try await streamError(.ollama, try .fixture("providers/ollama-chat-stream-error-midstream.ndjson"))
        #expect(text == "The")
        #expect(error.kind == .midStream)
        #expect(error.message.contains("unexpected EOF"))
    }

    @Test func connectionCutMidStreamIsNetwork() async throws {
        let full = try FakeResponse.fixture("providers/openai-chat-stream-sdksnapshot-text-usage.sse")
        let (error, text) = try await streamError(.openai, full.dripped(size: 200).with(.cutAfter(bytes: 1500)))
        #expect(!text.isEmpty)
        #expect(error.kind == .network)
        #expect(error.isRetryable)
    }

    /// A non-streamed answer's head comes once the whole answer is generated: the head timeout
    /// (60 s in fleetd) does not cut a long answer, only the caller's deadline does.
    @Test func aSlowUnaryAnswerIsNotCutByTheHeadTimeout() async throws {
        let gate = FakeGate()
        let body = #"{"id":"c","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"late"},"finish_reason":"stop"}]}"#
        let late = FakeResponse(body: .held([], gate: gate, then: Array(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: \(body.utf8.count)\r\n\r\n\(body)".utf8)), raw: true)
        try await withServer(.always(late)) { server in
            let client = try makeFactory(headTimeout: .milliseconds(300), answerTimeout: .seconds(20)).makeClient(for: endpoint(.openai, server))
            let opener = Task { try await Task.sleep(for: .milliseconds(900)); gate.open() }
            let answer = try await client.complete(ProviderRequest(model: "m", prompt: "x"))
            #expect(answer.text == "late")
            _ = try? await opener.value
        }
    }

    @Test func refusedConnectionIsNetwork() async throws {
        let refusing = try RefusingPort()
        let dead = endpoint(.anthropic, refusing)
        // AsyncHTTPClient keeps retrying a refused connect until the request's deadline.
        let client = try makeFactory(headTimeout: .milliseconds(500)).makeClient(for: dead)
        await #expect(throws: ProviderError.self) {
            _ = try await client.complete(ProviderRequest(model: "m", prompt: "x"))
        }
        do {
            _ = try await client.stream(ProviderRequest(model: "m", prompt: "x"))
            Issue.record("expected a connection error")
        } catch let error as ProviderError {
            #expect(error.kind == .network || error.kind == .timeout)
            #expect(error.isRetryable)
        }
        withExtendedLifetime(refusing) {}
    }

    @Test func malformedChunkIsReportedAndSkipped() async throws {
        let response = FakeResponse.sse([
            #"{"choices":[{"index":0,"delta":{"content":"a"}}]}"#,
            #"{"choices":[{"index":0,"delta":{"content": BROKEN"#,
            #"{"choices":[{"index":0,"delta":{"content":"b"},"finish_reason":"stop"}]}"#,
            "[DONE]",
        ])
        let got = try await withServer(.always(response)) { server in
            try await collect(makeFactory().makeClient(for: endpoint(.openai, server)).stream(ProviderRequest(model: "m", prompt: "x")))
        }
        #expect(got.text == "ab")
        #expect(got.invalid == 1)
    }

    @Test func missingKeyNamesTheVariable() throws {
        let factory = makeFactory(environment: ["OTHER": "x"])
        #expect {
            _ = try factory.makeClient(for: ModelEndpoint(name: "claude", provider: .anthropic, model: "c"))
        } throws: { error in
            guard let error = error as? ProviderError else { return false }
            return error.kind == .missingCredentials && error.message.contains("ANTHROPIC_API_KEY") && !error.isRetryable
        }
        #expect(throws: ProviderError.self) {
            _ = try factory.makeClient(for: ModelEndpoint(provider: .openai, model: "m", apiKeyVariable: "MY_GATEWAY_KEY"))
        }
        // Local providers need none.
        _ = try factory.makeClient(for: ModelEndpoint(provider: .ollama, model: "llama3.2"))
    }
}
