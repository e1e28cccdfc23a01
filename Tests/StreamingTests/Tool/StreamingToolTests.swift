import FakeProvider
import FleetSupport
import Foundation
import Providers
import Synchronization
import Testing
@testable import Streaming

/// Records what the tool writes to its store.
actor MemoryRecorder: StreamSessionRecorder {
    var sessions: [StreamSessionRecord] = []
    var metadata: [StreamResultMetadata] = []
    func recordSession(_ session: StreamSessionRecord) async throws { sessions.append(session) }
    func recordMetadata(_ metadata: StreamResultMetadata) async throws { self.metadata.append(metadata) }
}

func config(
    firstChunkMs: Int? = nil, idleMs: Int? = nil, totalMs: Int = 10_000, retries: Int = 2, backoffMs: Int = 10, bufferSize: Int = 1024
) -> StreamingConfiguration {
    StreamingConfiguration(
        enabled: true, bufferSize: bufferSize, timeoutMs: totalMs, firstChunkTimeoutMs: firstChunkMs, idleTimeoutMs: idleMs,
        retryConfig: RetryConfiguration(maxRetries: retries, backoffMs: backoffMs, backoffMultiplier: 2, maxBackoffMs: 1000, jitter: 0.1)
    )
}

func openAIStream(_ words: [String]) -> FakeResponse {
    .sse(words.map { #"{"choices":[{"index":0,"delta":{"content":"\#($0)"}}]}"# }
        + [#"{"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}"#,
           #"{"choices":[],"usage":{"prompt_tokens":5,"completion_tokens":\#(words.count)}}"#, "[DONE]"])
}

let openAIUnary = FakeResponse(headers: [("content-type", "application/json")], body: .bytes(Array(
    #"{"model":"m","choices":[{"message":{"content":"sync answer"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":2}}"#.utf8)))

func events(_ tool: StreamingTool, _ targets: [StreamTarget]) async -> [StreamEvent] {
    var out: [StreamEvent] = []
    for await event in tool.executeStreaming(ProviderRequest(model: "ignored", prompt: "hello there"), targets: targets) { out.append(event) }
    return out
}

func target(_ provider: ProviderKind, _ server: FakeProviderServer, streaming: Bool = true, name: String = "m") throws -> StreamTarget {
    var e = endpoint(provider, server, model: name, supportsStreaming: streaming)
    e.name = name
    return try StreamTarget(endpoint: e, factory: makeFactory())
}

extension [StreamEvent] {
    var chunks: [StreamChunk] { compactMap { if case .chunk(let c) = $0 { c } else { nil } } }
    var result: StreamResult? { compactMap { if case .complete(let r) = $0 { r } else { nil } }.first }
    var failures: [StreamFailure] { compactMap { if case .error(let f) = $0 { f } else { nil } } }
}

@Suite("StreamingTool")
struct StreamingToolTests {
    @Test func streamsChunksThenComplete() async throws {
        let recorder = MemoryRecorder()
        let words = (0..<25).map { "w\($0) " }
        let got = try await withServer(.always(openAIStream(words))) { server in
            let tool = StreamingTool(configuration: config(), recorder: recorder, progressInterval: 10)
            return await events(tool, [try target(.openai, server, name: "gpt")])
        }
        guard case .start(let start) = got.first else { Issue.record("first event must be start"); return }
        #expect(start.model == "gpt")
        #expect(start.provider == .openai)
        #expect(got.chunks.map(\.sequence) == Array(0..<25))
        #expect(got.chunks.map(\.text) == words)
        #expect(got.chunks.allSatisfy { $0.streamId == start.streamId })
        #expect(got.filter { $0.name == "progress" }.count == 2)
        let result = try #require(got.result)
        #expect(result.text == words.joined())
        #expect(result.usage == TokenUsage(inputTokens: 5, outputTokens: 25))
        #expect(result.metadata.totalChunks == 25)
        #expect(result.metadata.totalTokens == 30)
        #expect(result.metadata.model == "gpt")
        #expect(result.metadata.attempts == 1)
        #expect(result.metadata.synchronousFallback == false)
        #expect(got.last?.name == "complete")
        let sessions = await recorder.sessions
        #expect(sessions.map(\.state) == [.streaming, .completed])
        #expect(sessions.last?.chunks == 25)
        #expect(await recorder.metadata.count == 1)
    }

    @Test func retriesBeforeFirstChunkHonouringRetryAfter() async throws {
        let script = FakeScript.sequence([
            .status(429, headers: [("retry-after-ms", "300")]),
            .status(500),
            openAIStream(["one ", "two"]),
        ])
        let clock = ContinuousClock()
        let started = clock.now
        let (got, requests) = try await withServer(script) { server in
            let tool = StreamingTool(configuration: config(retries: 3, backoffMs: 10))
            return (await events(tool, [try target(.openai, server)]), server.requests.count)
        }
        #expect(clock.now - started >= .milliseconds(300))
        #expect(requests == 3)
        #expect(got.chunks.map(\.text) == ["one ", "two"])
        #expect(got.result?.metadata.attempts == 3)
        #expect(got.failures.isEmpty)
    }

    @Test func retryStartsCleanWhenOnlyToolCallsStreamedBeforeTheFailure() async throws {
        let partialTool = FakeResponse.sse([
            #"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_1","function":{"name":"first_try","arguments":"{\"a\":"}}]}}]}"#,
        ]).with(.cutAfter(bytes: 200))
        let whole = FakeResponse.sse([
            #"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_2","function":{"name":"second_try","arguments":"{}"}}]}}]}"#,
            #"{"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}"#,
            "[DONE]",
        ])
        let got = try await withServer(.sequence([partialTool, whole])) { server in
            await events(StreamingTool(configuration: config(retries: 2)), [try target(.openai, server)])
        }
        let result = try #require(got.result)
        #expect(result.toolCalls == [ToolCall(id: "call_2", name: "second_try", arguments: "{}")])
        #expect(result.finishReason == "tool_calls")
        #expect(result.metadata.attempts == 2)
    }

    @Test func failureAfterOutputEndsWithErrorAndNoRetry() async throws {
        let (got, requests) = try await withServer(.always(try .fixture("providers/anthropic-stream-error-midstream-composed.sse"))) { server in
            (await events(StreamingTool(configuration: config(retries: 3)), [try target(.anthropic, server)]), server.requests.count)
        }
        #expect(requests == 1)
        #expect(got.chunks.map(\.text) == ["Hello"])
        #expect(got.result == nil)
        let failure = try #require(got.failures.last)
        #expect(failure.code == .providerOverloaded)
        #expect(failure.terminal)
        #expect(got.last?.name == "error")
    }

    @Test func firstChunkTimeoutRetriesThenFallsBackToSync() async throws {
        let stalled = openAIStream(["never"]).with(.stallAfter(bytes: 80)) // head only
        let script = FakeScript { request, _ in
            (request.jsonBody?["stream"] as? Bool == true) ? stalled : openAIUnary
        }
        let recorder = MemoryRecorder()
        let (got, requests) = try await withServer(script) { server in
            let tool = StreamingTool(configuration: config(firstChunkMs: 200, retries: 1), recorder: recorder)
            return (await events(tool, [try target(.openai, server)]), server.requests)
        }
        // Two streamed attempts (the retry) and the synchronous one, as fleetd counts them. The
        // server sees the retry only if it got there within the 200 ms: on a loaded machine (a CI
        // run took 8 s for this test) the timeout can cut it while it still connects.
        let streamed = requests.map { $0.jsonBody?["stream"] as? Bool }
        #expect(streamed.first == true && streamed.last == false && (2...3).contains(streamed.count)
                && streamed.dropLast().allSatisfy { $0 == true }, "\(streamed)")
        #expect(got.chunks.map(\.text) == ["sync answer"])
        let result = try #require(got.result)
        #expect(result.metadata.synchronousFallback)
        #expect(result.metadata.attempts == 3)
        #expect(result.usage == TokenUsage(inputTokens: 3, outputTokens: 2))
    }

    @Test func idleGapAfterOutputIsStreamTimeout() async throws {
        let body = "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"x\"}}]}\n\n"
        let response = FakeResponse.sse([#"{"choices":[{"index":0,"delta":{"content":"x"}}]}"#, #"{"choices":[{"index":0,"delta":{"content":"y"}}]}"#])
        let headBytes = 80
        let (got, requests) = try await withServer(.always(response.with(.stallAfter(bytes: headBytes + body.utf8.count + 30)))) { server in
            let clock = ContinuousClock()
            let start = clock.now
            // The total timeout is 60 s: ending well before it means the 300 ms idle gap ended the call.
            let got = await events(StreamingTool(configuration: config(idleMs: 300, totalMs: 60_000, retries: 2)), [try target(.openai, server)])
            #expect(clock.now - start < .seconds(20))
            return (got, server.requests.count)
        }
        #expect(requests == 1)
        #expect(got.chunks.map(\.text) == ["x"])
        let failure = try #require(got.failures.last)
        #expect(failure.code == .streamTimeout)
        #expect(failure.shortDescription == "stream_timeout")
        #expect(failure.terminal)
    }

    @Test func totalTimeoutCapsASlowDrip() async throws {
        // ≈ 12 s of stream at 40 bytes per 10 ms; the whole call may take 1.5 s.
        let words = (0..<800).map { "w\($0) " }
        let slow = openAIStream(words).dripped(size: 40, delay: .milliseconds(10))
        let clock = ContinuousClock()
        // Timed from the call to its last event, not counting the fake server's shutdown.
        let (got, elapsed) = try await withServer(.always(slow)) { server in
            let start = clock.now
            let got = await events(StreamingTool(configuration: config(idleMs: 1000, totalMs: 1500)), [try target(.openai, server)])
            return (got, clock.now - start)
        }
        // Well under the drip's 12 s, with room for a loaded 2-core machine.
        #expect(elapsed < .seconds(9), "the 1.5 s total timeout ended the call after \(elapsed)")
        #expect(got.failures.last?.code == .streamTimeout)
        #expect(got.result == nil)
    }

    /// A model called synchronously whose answer does not come: the total timeout ends the call
    /// (in the producer's own task, through the cancellation signal), well before the client's
    /// answer timeout, and the provider's connection is closed.
    @Test func totalTimeoutEndsAWholeAnswerThatDoesNotCome() async throws {
        let clock = ContinuousClock()
        let (got, elapsed, open) = try await withServer(.always(openAIUnary.with(.stallAfter(bytes: 0)))) { server in
            let start = clock.now
            let got = await events(StreamingTool(configuration: config(totalMs: 800, retries: 0)), [try target(.openai, server, streaming: false)])
            let elapsed = clock.now - start
            var open = server.openConnections
            for _ in 0..<250 where open > 0 {
                try await Task.sleep(for: .milliseconds(20))
                open = server.openConnections
            }
            return (got, elapsed, open)
        }
        #expect(elapsed < .seconds(8), "the 0.8 s total timeout ended the call after \(elapsed)")
        #expect(got.failures.last?.code == .streamTimeout)
        #expect(got.result == nil)
        #expect(open == 0, "the timed-out call's connection is still open")
    }

    /// A whole answer whose time is up before it is asked for is not asked for, and its attempt
    /// is reported unaccepted, so nothing is billed for it (a call that went out and was cut is
    /// billed at its estimate: the provider may have taken it).
    @Test func aWholeAnswerOutOfTimeBeforeItsCallIsNeitherMadeNorBilled() async throws {
        let reports = Mutex<[StreamAttemptReport]>([])
        let (got, connections) = try await withServer(.always(openAIUnary)) { server in
            var tool = StreamingTool(configuration: config(totalMs: 0, retries: 0))
            tool.onAttempt = { report in reports.withLock { $0.append(report) } }
            let got = await events(tool, [try target(.openai, server, streaming: false)])
            try await Task.sleep(for: .milliseconds(100))
            return (got, server.connectionsAccepted)
        }
        #expect(got.failures.last?.code == .streamTimeout)
        #expect(connections == 0, "the call was made")
        let attempts = reports.withLock { $0 }
        #expect(attempts.count == 1)
        #expect(attempts.allSatisfy { !$0.accepted && !$0.answerUnseen }, "an attempt never made is billed: \(attempts)")
    }

    @Test func fallbackListTriesNextTargetAfterAuthFailure() async throws {
        let bad = try await FakeProviderServer.start(script: .always(.status(401)))
        let good = try await FakeProviderServer.start(script: .always(try .fixture("providers/anthropic-stream-sdkfixture-basic.sse")))
        let got = await events(StreamingTool(configuration: config(retries: 3)), [
            try target(.openai, bad, name: "first"), try target(.anthropic, good, name: "second"),
        ])
        #expect(bad.requests.count == 1) // auth: no retry, no sync fallback
        #expect(got.result?.text == "Hello there!")
        #expect(got.result?.metadata.model == "second")
        #expect(got.result?.metadata.provider == .anthropic)
        await bad.shutdown()
        await good.shutdown()
    }

    @Test func allTargetsFailGivesTerminalError() async throws {
        let got = try await withServer(.always(.status(400))) { server in
            await events(StreamingTool(configuration: config()), [try target(.openai, server)])
        }
        #expect(got.failures.map(\.code) == [.providerBadRequest])
        #expect(got.failures.first?.retryable == false)
    }

    @Test func nonStreamingModelIsCalledSynchronously() async throws {
        let (got, requests) = try await withServer(.always(openAIUnary)) { server in
            (await events(StreamingTool(configuration: config()), [try target(.openai, server, streaming: false)]), server.requests)
        }
        #expect(requests.count == 1)
        #expect(requests.first?.jsonBody?["stream"] as? Bool == false)
        #expect(got.result?.text == "sync answer")
        // A synchronous answer, but no fallback: no stream was tried.
        #expect(got.result?.metadata.synchronous == true)
        #expect(got.result?.metadata.synchronousFallback == false)
    }

    @Test func invalidChunksAreDiscardedAndTheStreamGoesOn() async throws {
        let response = FakeResponse.sse([
            #"{"choices":[{"index":0,"delta":{"content":"a"}}]}"#,
            #"{"choices":[{"index":0,"delta":{"content":"REJECT"}}]}"#,
            #"not json at all"#,
            #"{"choices":[{"index":0,"delta":{"content":"b"},"finish_reason":"stop"}]}"#,
            "[DONE]",
        ])
        let got = try await withServer(.always(response)) { server in
            let tool = StreamingTool(configuration: config(), chunkValidator: { $0 == "REJECT" ? "rejected by test" : nil })
            return await events(tool, [try target(.openai, server)])
        }
        #expect(got.failures.map(\.code) == [.chunkValidationFailed, .chunkValidationFailed])
        #expect(got.failures.allSatisfy { !$0.terminal })
        #expect(got.result?.text == "ab")
        #expect(got.result?.metadata.discardedChunks == 2)
        #expect(got.chunks.map(\.sequence) == [0, 1])
    }

    @Test func executeReturnsResultOrThrowsFailure() async throws {
        try await withServer(.sequence([openAIStream(["hi"]), .status(401)])) { server in
            let tool = StreamingTool(configuration: config())
            let result = try await tool.execute(ProviderRequest(model: "m", prompt: "x"), targets: [try target(.openai, server)])
            #expect(result.text == "hi")
            await #expect(throws: StreamFailure.self) {
                _ = try await tool.execute(ProviderRequest(model: "m", prompt: "x"), targets: [try target(.openai, server)])
            }
        }
    }

    @Test func emptyTargetListIsModelSelectionFailure() async {
        let got = await events(StreamingTool(configuration: config()), [])
        #expect(got.failures.map(\.code) == [.modelSelectionFailed])
    }

    @Test func builtinProviderIsLabelledAndStreamsWordByWord() async throws {
        let tool = StreamingTool(configuration: config())
        let builtin = StreamTarget(endpoint: ModelEndpoint(name: "local-default", provider: .builtin, model: "builtin"), client: BuiltinProvider())
        var got: [StreamEvent] = []
        for await e in tool.executeStreaming(ProviderRequest(model: "x", prompt: "count these five words please"), targets: [builtin]) { got.append(e) }
        let result = try #require(got.result)
        #expect(result.text.hasPrefix(BuiltinProvider.label))
        #expect(result.text.contains("5 words"))
        #expect(got.chunks.count == result.text.split(separator: " ").count)
        #expect(result.usage?.outputTokens == BuiltinProvider.approximateTokens(result.text))
        #expect(result.metadata.provider == .builtin)
        let again = try await BuiltinProvider().complete(ProviderRequest(model: "x", prompt: "count these five words please"))
        #expect(again.text == result.text) // deterministic
    }

    @Test func retryDelayGrowsWithJitterAndRespectsProvider() {
        let r = RetryConfiguration(maxRetries: 5, backoffMs: 100, backoffMultiplier: 2, maxBackoffMs: 500, jitter: 0.5)
        #expect(r.baseDelay(retry: 1) == .milliseconds(100))
        #expect(r.baseDelay(retry: 3) == .milliseconds(400))
        #expect(r.baseDelay(retry: 5) == .milliseconds(500))
        #expect(r.delay(retry: 2, providerRetryAfter: nil, random: 0) == .milliseconds(100))
        #expect(r.delay(retry: 2, providerRetryAfter: nil, random: 0.9999) <= .milliseconds(300))
        #expect(r.delay(retry: 1, providerRetryAfter: .seconds(7), random: 0.5) == .seconds(7))
        #expect(StreamingConfiguration().validationProblems().isEmpty)
        #expect(StreamingConfiguration(bufferSize: 0, backpressureThreshold: 1.5).validationProblems().count == 2)
    }
}

/// A thinking answer keeps its order: thinking, text, more thinking, more text (Claude's
/// interleaved thinking), streamed or not, so the JSON answer and a tool loop's next turn give
/// the blocks back where they were.
@Suite struct ThinkingOrderTests {
    static let interleaved: [String] = [
        #"{"type":"message_start","message":{"usage":{"input_tokens":10,"output_tokens":1}}}"#,
        #"{"type":"content_block_start","index":0,"content_block":{"type":"thinking","thinking":"","signature":""}}"#,
        #"{"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"First, "}}"#,
        #"{"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"look."}}"#,
        #"{"type":"content_block_delta","index":0,"delta":{"type":"signature_delta","signature":"sig-one"}}"#,
        #"{"type":"content_block_stop","index":0}"#,
        #"{"type":"content_block_start","index":1,"content_block":{"type":"text","text":""}}"#,
        #"{"type":"content_block_delta","index":1,"delta":{"type":"text_delta","text":"Café "}}"#,
        #"{"type":"content_block_delta","index":1,"delta":{"type":"text_delta","text":"one."}}"#,
        #"{"type":"content_block_stop","index":1}"#,
        #"{"type":"content_block_start","index":2,"content_block":{"type":"redacted_thinking","data":"EqkE"}}"#,
        #"{"type":"content_block_stop","index":2}"#,
        #"{"type":"content_block_start","index":3,"content_block":{"type":"text","text":""}}"#,
        #"{"type":"content_block_delta","index":3,"delta":{"type":"text_delta","text":" Two."}}"#,
        #"{"type":"content_block_stop","index":3}"#,
        #"{"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":20}}"#,
        #"{"type":"message_stop"}"#,
    ]

    static let expected: [ContentBlock] = [
        .thinking(text: "First, look.", signature: "sig-one"), .text("Café one."), .redactedThinking(data: "EqkE"), .text(" Two."),
    ]

    @Test func streamedThinkingKeepsItsPlaceBetweenTheTexts() async throws {
        let got = try await withServer(.always(.sse(Self.interleaved))) { server in
            await events(StreamingTool(configuration: config()), [try target(.anthropic, server)])
        }
        guard case .complete(let result)? = got.last else {
            Issue.record("\(got.map(\.name))")
            return
        }
        #expect(result.content == Self.expected)
        #expect(result.text == "Café one. Two.")
        #expect(result.answerBlocks == Self.expected)
        // The events tell the same order: thinking pieces, text, the redacted block, text.
        let kinds = got.compactMap { event -> String? in
            switch event {
            case .thinking(let delta): "thinking\(delta.index)"
            case .chunk: "text"
            default: nil
            }
        }
        #expect(kinds == ["thinking0", "thinking0", "thinking0", "thinking0", "text", "text", "thinking1", "text"], "\(kinds)")
    }

    @Test func aSynchronousAnswerKeepsItsOrderToo() async throws {
        let body = #"""
        {"model":"m","content":[{"type":"thinking","thinking":"First, look.","signature":"sig-one"},{"type":"text","text":"Café one."},
         {"type":"redacted_thinking","data":"EqkE"},{"type":"text","text":" Two."}],"stop_reason":"end_turn","usage":{"input_tokens":10,"output_tokens":20}}
        """#
        let answer = FakeResponse(headers: [("content-type", "application/json")], body: .bytes(Array(body.utf8)))
        let got = try await withServer(.always(answer)) { server in
            await events(StreamingTool(configuration: config()), [try target(.anthropic, server, streaming: false)])
        }
        guard case .complete(let result)? = got.last else {
            Issue.record("\(got.map(\.name))")
            return
        }
        #expect(result.content == Self.expected)
        #expect(result.text == "Café one. Two.")
    }

    @Test func anAnswerWithoutThinkingHasNoContentList() async throws {
        let got = try await withServer(.always(openAIStream(["Hello", " there"]))) { server in
            await events(StreamingTool(configuration: config()), [try target(.openai, server)])
        }
        guard case .complete(let result)? = got.last else {
            Issue.record("\(got.map(\.name))")
            return
        }
        #expect(result.content.isEmpty && result.answerBlocks == [.text("Hello there")])
    }
}
