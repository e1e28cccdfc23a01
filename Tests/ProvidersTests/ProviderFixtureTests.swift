import FakeProvider
import FleetSupport
import Foundation
import Testing
@testable import Providers

/// Each recorded/documented transcript, replayed byte for byte over loopback, decodes to the
/// right text, tool calls, finish reason and usage (usage exactly once).
@Suite("Provider transcripts decode")
struct ProviderFixtureTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var fixture: String
        var provider: ProviderKind
        var text: String
        var usage: TokenUsage
        var finish: String
        var tool: (name: String, arguments: String)? = nil
        var testDescription: String { fixture }
    }

    static let streamCases: [Case] = [
        Case(fixture: "anthropic-stream-sdkfixture-basic.sse", provider: .anthropic, text: "Hello there!",
             usage: TokenUsage(inputTokens: 11, outputTokens: 6), finish: "end_turn"),
        Case(fixture: "anthropic-stream-docs-basic.sse", provider: .anthropic, text: "Hello!",
             usage: TokenUsage(inputTokens: 25, outputTokens: 15), finish: "end_turn"),
        Case(fixture: "anthropic-stream-sdkfixture-tool-use.sse", provider: .anthropic,
             text: "I'll check the current weather in Paris for you.",
             usage: TokenUsage(inputTokens: 377, outputTokens: 65), finish: "tool_use",
             tool: ("get_weather", #"{"location": "Paris"}"#)),
        Case(fixture: "openai-chat-stream-sdksnapshot-text-usage.sse", provider: .openai,
             text: "I'm unable to provide real-time weather updates. To get the current weather in San Francisco, I recommend checking a reliable weather website or a weather app.",
             usage: TokenUsage(inputTokens: 14, outputTokens: 30), finish: "stop"),
        Case(fixture: "openai-chat-stream-sdksnapshot-toolcall-usage.sse", provider: .openai, text: "",
             usage: TokenUsage(inputTokens: 44, outputTokens: 16), finish: "tool_calls",
             tool: ("get_weather", #"{"city":"New York City"}"#)),
        Case(fixture: "ollama-openai-compat-stream-derived.sse", provider: .openai, text: "The",
             usage: TokenUsage(inputTokens: 26, outputTokens: 282), finish: "stop"),
        Case(fixture: "gemini-stream-firebase-basic-short.sse", provider: .google,
             text: "The capital of Wyoming is **Cheyenne**.\n",
             usage: TokenUsage(inputTokens: 7, outputTokens: 10), finish: "STOP"),
        Case(fixture: "ollama-chat-stream-docs.ndjson", provider: .ollama, text: "The",
             usage: TokenUsage(inputTokens: 26, outputTokens: 282), finish: "stop"),
        Case(fixture: "ollama-chat-stream-observed.ndjson", provider: .ollama, text: "4",
             usage: TokenUsage(inputTokens: 17, outputTokens: 2), finish: "stop"),
        Case(fixture: "ollama-chat-stream-tools-docs.ndjson", provider: .ollama, text: "",
             usage: TokenUsage(inputTokens: 169, outputTokens: 15), finish: "stop",
             tool: ("get_weather", #"{"city":"Tokyo"}"#)),
    ]

    @Test("streamed transcript, whole and dripped 7 bytes at a time", arguments: streamCases)
    func streamed(_ c: Case) async throws {
        for drip in [nil, 7] as [Int?] {
            var response = try FakeResponse.fixture("providers/\(c.fixture)")
            if let drip { response = response.dripped(size: drip) }
            let got = try await withServer(.always(response)) { server in
                let client = try makeFactory().makeClient(for: endpoint(c.provider, server))
                return try await collect(client.stream(ProviderRequest(model: "test-model", prompt: "hi")))
            }
            #expect(got.text == c.text)
            // The whole call's usage comes last; Anthropic also reports its input at message_start,
            // Gemini its figures so far with each chunk that carries new ones.
            #expect(got.usage.last == c.usage)
            #expect(c.provider == .google ? !got.usage.isEmpty : got.usage.count == (c.provider == .anthropic ? 2 : 1), "\(got.usage)")
            #expect(got.finish == [c.finish])
            #expect(got.invalid == 0)
            if let tool = c.tool {
                #expect(got.toolNames[0] == tool.name)
                #expect(got.toolArguments[0] == tool.arguments)
            } else {
                #expect(got.toolArguments.isEmpty)
            }
        }
    }

    /// Recorded extended-thinking streams (real Claude answers from third-party cassettes; see
    /// Tests/Fixtures/providers/README.md): each thinking block's pieces come as thinking events,
    /// numbered by block, with the signature whole; a redacted block's data whole; none is an
    /// invalid chunk, and no thinking text reaches the answer's text.
    @Test("a stream with thinking blocks decodes to its thinking and its answer, apart", arguments: [
        ("anthropic-stream-thinking-recorded.sse", "Here are the basic steps for safely crossing the street:", 1_021, TokenUsage(inputTokens: 43, outputTokens: 282), "end_turn",
         ["thinking 202 This is a straightforward question about / 504 EvMCCkYICxgCKkCHP2cS"]),
        ("anthropic-stream-redacted-thinking-recorded.sse", "I notice that you've sent what appears to be", 359, TokenUsage(inputTokens: 92, outputTokens: 189), "end_turn",
         ["redacted 744 EqkECkYIBxgCKkA8AZ4n", "redacted 296 EtgBCkYIBxgCKkDQfGkw"]),
        ("anthropic-stream-thinking-tool-use-recorded.sse", "", 0, TokenUsage(inputTokens: 598, outputTokens: 92), "tool_use",
         ["thinking 180 The user wants me to:\n1. Use the fixed_v / 524 EoQDCm0IDhgCKkCDzGs2"]),
    ])
    func thinkingBlocksComeApart(fixture: String, opening: String, bytes: Int, usage: TokenUsage, finish: String, thinking: [String]) async throws {
        for drip in [nil, 7] as [Int?] {
            var response = try FakeResponse.fixture("providers/\(fixture)")
            if let drip { response = response.dripped(size: drip) }
            let got = try await withServer(.always(response)) { server in
                let client = try makeFactory().makeClient(for: endpoint(.anthropic, server))
                return try await collect(client.stream(ProviderRequest(model: "test-model", prompt: "hi")))
            }
            #expect(got.text.hasPrefix(opening) && got.text.utf8.count == bytes, "\(got.text.prefix(200))")
            #expect(!got.text.contains("straightforward question"), "thinking text leaked into the answer")
            #expect(got.invalid == 0)
            #expect(got.usage.last == usage)
            #expect(got.finish == [finish])
            if finish == "tool_use" { #expect(got.toolNames[0] == "fixed_version") }
            // Each block summed up: its kind, its text's bytes and opening, its signature's length and opening.
            let blocks = ThinkingDelta.blocks(got.thinking).map { block -> String in
                switch block {
                case .thinking(let text, let signature):
                    "thinking \(text.utf8.count) \(text.prefix(40)) / \(signature.count) \(signature.prefix(20))"
                case .redactedThinking(let data): "redacted \(data.count) \(data.prefix(20))"
                default: "other"
                }
            }
            #expect(blocks == thinking, "\(blocks)")
        }
    }

    @Test("a non-streamed answer's thinking block comes with its signature, before its text")
    func unaryThinking() async throws {
        let response = try await withServer(.always(try FakeResponse.fixture("providers/anthropic-nonstream-thinking-derived.json"))) { server in
            try await makeFactory().makeClient(for: endpoint(.anthropic, server)).complete(ProviderRequest(model: "test-model", prompt: "hi"))
        }
        #expect(response.text.hasPrefix("Here are the basic steps for safely crossing the street:") && response.text.utf8.count == 1_021)
        guard case .thinking(let text, let signature)? = response.thinking.first, response.thinking.count == 1 else {
            Issue.record("\(response.thinking)")
            return
        }
        #expect(text.hasPrefix("This is a straightforward question about") && text.utf8.count == 202)
        #expect(signature.hasPrefix("EvMCCkYICxgCKkCHP2cS") && signature.count == 504)
        #expect(response.usage == TokenUsage(inputTokens: 43, outputTokens: 282))
    }

    static let unaryCases: [Case] = [
        Case(fixture: "anthropic-nonstream-docs-example.json", provider: .anthropic, text: "Hi! My name is Claude.",
             usage: TokenUsage(inputTokens: 2095, outputTokens: 503), finish: "end_turn"),
        Case(fixture: "openai-chat-nonstream-sdksnapshot.json", provider: .openai,
             text: "I'm unable to provide real-time weather updates. To get the current weather in San Francisco, I recommend checking a reliable weather website or app like the Weather Channel or a local news station.",
             usage: TokenUsage(inputTokens: 14, outputTokens: 37), finish: "stop"),
        Case(fixture: "ollama-openai-compat-nonstream-derived.json", provider: .openai, text: "Hello! How are you today?",
             usage: TokenUsage(inputTokens: 26, outputTokens: 298), finish: "stop"),
        Case(fixture: "gemini-nonstream-firebase-basic-short.json", provider: .google,
             text: "Google's headquarters, also known as the Googleplex, is located in **Mountain View, California**.\n",
             usage: TokenUsage(inputTokens: 7, outputTokens: 22), finish: "STOP"),
        Case(fixture: "ollama-chat-nonstream-docs.json", provider: .ollama, text: "Hello! How are you today?",
             usage: TokenUsage(inputTokens: 26, outputTokens: 298), finish: "stop"),
    ]

    @Test("non-streaming answer", arguments: unaryCases)
    func unary(_ c: Case) async throws {
        let response = try await withServer(.always(try FakeResponse.fixture("providers/\(c.fixture)"))) { server in
            try await makeFactory().makeClient(for: endpoint(c.provider, server)).complete(ProviderRequest(model: "test-model", prompt: "hi"))
        }
        #expect(response.text == c.text)
        #expect(response.usage == c.usage)
        #expect(response.finishReason == c.finish)
    }

    @Test func anthropicCacheTokensCountAsInput() throws {
        var decoder = AnthropicStreamDecoder(secret: nil)
        let text = """
        event: message_start
        data: {"type":"message_start","message":{"usage":{"input_tokens":10,"cache_read_input_tokens":100,"cache_creation_input_tokens":5,"cache_creation":{"ephemeral_5m_input_tokens":3,"ephemeral_1h_input_tokens":2},"output_tokens":1}}}

        event: message_delta
        data: {"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":20}}

        event: message_stop
        data: {"type":"message_stop"}


        """
        var events: [ProviderEvent] = []
        try decoder.decode(.init(string: text), into: &events)
        #expect(events.contains(.usage(TokenUsage(inputTokens: 115, outputTokens: 20, cachedInputTokens: 100,
                                                  cacheWriteInputTokens: 5, cacheWriteHourInputTokens: 2))))
        #expect(try decoder.finish().isEmpty)
    }

    @Test func geminiThoughtsAreReasoningAndOutput() throws {
        var decoder = GeminiStreamDecoder(secret: nil)
        let text = #"data: {"candidates":[{"content":{"parts":[{"text":"x"}]},"finishReason":"STOP"}],"usageMetadata":{"promptTokenCount":3,"candidatesTokenCount":4,"thoughtsTokenCount":9,"cachedContentTokenCount":2}}"# + "\r\n\r\n"
        var events: [ProviderEvent] = []
        try decoder.decode(.init(string: text), into: &events)
        #expect(events == [.textDelta("x"), .usage(TokenUsage(inputTokens: 3, outputTokens: 13, cachedInputTokens: 2, reasoningTokens: 9))])
        #expect(try decoder.finish() == [.finish(reason: "STOP")])
    }

    /// Gemini 2.5's first chunk already counts the prompt and the thoughts: passed on at once, so a
    /// stream cut before its end is billed on them (before, usage came only with the finish).
    @Test func geminiUsageIsPassedOnAsItComes() throws {
        var decoder = GeminiStreamDecoder(secret: nil)
        let first = #"data: {"candidates":[{"content":{"parts":[{"text":"x"}]}}],"usageMetadata":{"promptTokenCount":5,"candidatesTokenCount":1,"thoughtsTokenCount":186}}"# + "\r\n\r\n"
        var events: [ProviderEvent] = []
        try decoder.decode(.init(string: first), into: &events)
        #expect(events == [.textDelta("x"), .usage(TokenUsage(inputTokens: 5, outputTokens: 187, reasoningTokens: 186))])
        // The same figures again add nothing; the stream then breaks off.
        events = []
        try decoder.decode(.init(string: first.replacingOccurrences(of: #""text":"x""#, with: #""text":"y""#)), into: &events)
        #expect(events == [.textDelta("y")])
        #expect(throws: ProviderError.self) { try decoder.finish() }
    }

    /// xAI counts reasoning tokens beside `completion_tokens` (its total is prompt + completion +
    /// reasoning) and bills them as output; OpenAI counts them inside.
    @Test func xaiReasoningTokensAreOutput() throws {
        func usage(_ json: String) throws -> TokenUsage {
            var decoder = OpenAIStreamDecoder(provider: .xai, secret: nil)
            var events: [ProviderEvent] = []
            try decoder.decode(.init(string: "data: {\"id\":\"u\",\"choices\":[],\"usage\":\(json)}\n\ndata: [DONE]\n\n"), into: &events)
            events += try decoder.finish()
            return try #require(events.compactMap { if case .usage(let u) = $0 { u } else { nil } }.first)
        }
        let xai = try usage(#"{"prompt_tokens":165,"completion_tokens":2,"total_tokens":296,"completion_tokens_details":{"reasoning_tokens":129}}"#)
        #expect(xai == TokenUsage(inputTokens: 165, outputTokens: 131, reasoningTokens: 129))
        let openai = try usage(#"{"prompt_tokens":165,"completion_tokens":131,"total_tokens":296,"completion_tokens_details":{"reasoning_tokens":129}}"#)
        #expect(openai == TokenUsage(inputTokens: 165, outputTokens: 131, reasoningTokens: 129))
    }

    /// A prompt Gemini blocks has `promptFeedback.blockReason` and no candidate: a content
    /// filter's stop, not a stream that "ended without a finishReason" (a retried network error).
    @Test func geminiBlockedPromptIsAContentFilterStop() throws {
        var decoder = GeminiStreamDecoder(secret: nil)
        let text = #"data: {"promptFeedback":{"blockReason":"SAFETY","safetyRatings":[]},"usageMetadata":{"promptTokenCount":7,"totalTokenCount":7}}"# + "\r\n\r\n"
        var events: [ProviderEvent] = []
        try decoder.decode(.init(string: text), into: &events)
        #expect(events == [.usage(TokenUsage(inputTokens: 7))])
        #expect(try decoder.finish() == [.finish(reason: "SAFETY")])
        #expect(StopReason(providerReason: "SAFETY", hasToolCalls: false) == .contentFilter)
        let unary = try JSONDecoder().decode(GeminiWire.Response.self, from: Data(#"{"promptFeedback":{"blockReason":"OTHER"}}"#.utf8))
        #expect(unary.blockedFinishReason == "SAFETY" && unary.candidates == nil)
    }
}
