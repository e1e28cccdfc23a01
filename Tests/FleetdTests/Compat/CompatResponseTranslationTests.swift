import Agents
import FleetSupport
import Foundation
import HTTPTypes
import NIOCore
import Providers
import Testing
@testable import fleetd

/// A task's answer → each client dialect: the whole answer, the stream as its SDK parses it,
/// and the error shapes and statuses.
@Suite struct CompatResponseTranslationTests {
    static let facts = CompatFacts(taskId: "task-1", model: "claude-cheap", provider: .anthropic, cost: 0.0125, fallbacks: ["gpt", "local"])

    static func answer(text: String = "Hello", calls: [ToolUse] = [], arguments: [String]? = nil, stop: StopReason = .endTurn) -> CompatAnswer {
        CompatAnswer(taskId: "task-1", model: "claude-cheap", text: text, toolCalls: calls, argumentTexts: arguments, stop: stop,
                     inputTokens: 120, cachedTokens: 20, outputTokens: 30, facts: facts)
    }

    static let twoCalls = [
        ToolUse(id: "call_a", name: "get_weather", input: .object(["city": .string("Paris")])),
        ToolUse(id: "call_b", name: "get_time", input: .object([:])),
    ]

    func object(_ value: JSONValue) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(try JSONEncoder().encode(value))) as? [String: Any] ?? [:]
    }

    /// SSE text as (event, data object) pairs.
    func events(_ buffer: ByteBuffer) -> [(String?, [String: Any]?, String)] {
        String(buffer: buffer).components(separatedBy: "\n\n").filter { !$0.isEmpty }.map { block in
            var event: String?
            var data = ""
            for line in block.split(separator: "\n") {
                if line.hasPrefix("event: ") { event = String(line.dropFirst(7)) }
                if line.hasPrefix("data: ") { data += line.dropFirst(6) }
            }
            return (event, (try? JSONSerialization.jsonObject(with: Data(data.utf8))) as? [String: Any], data)
        }
    }

    /// A refusal with text is the message's `refusal` with `stop`; one with no text (a streaming
    /// classifier's stop) is `content_filter`, not an empty answer that reads as a normal one.
    @Test func aRefusalWithoutTextIsAContentFilterStop() throws {
        let refused = try object(OpenAIChatResponse.completion(Self.answer(text: "I can't help.", stop: .refusal), created: 0))
        let choice = try #require((refused["choices"] as? [[String: Any]])?.first)
        #expect(choice["finish_reason"] as? String == "stop" && (choice["message"] as? [String: Any])?["refusal"] as? String == "I can't help.")
        let silent = try object(OpenAIChatResponse.completion(Self.answer(text: "", stop: .refusal), created: 0))
        #expect(((silent["choices"] as? [[String: Any]])?.first)?["finish_reason"] as? String == "content_filter")
        var stream = OpenAIChatResponse.Stream(taskId: "task-1", created: 0, model: "claude-cheap", includeUsage: false)
        var buffer = ByteBuffer()
        stream.finish(Self.answer(text: "", stop: .refusal), into: &buffer)
        let finish = events(buffer).compactMap { $0.1 }.compactMap { ($0["choices"] as? [[String: Any]])?.first?["finish_reason"] as? String }
        #expect(finish == ["content_filter"])
    }

    @Test func openAICompletionWithSeveralToolCalls() throws {
        let body = try object(OpenAIChatResponse.completion(Self.answer(text: "", calls: Self.twoCalls,
                                                                        arguments: [#"{"city": "Paris"}"#, ""], stop: .toolUse), created: 1_700_000_000))
        #expect(body["id"] as? String == "chatcmpl-task-1" && body["object"] as? String == "chat.completion")
        #expect(body["created"] as? Int == 1_700_000_000 && body["model"] as? String == "claude-cheap")
        let choice = try #require((body["choices"] as? [[String: Any]])?.first)
        #expect(choice["finish_reason"] as? String == "tool_calls" && choice["index"] as? Int == 0)
        let message = try #require(choice["message"] as? [String: Any])
        #expect(message["role"] as? String == "assistant" && message["content"] is NSNull, "no text with tool calls is null")
        let calls = try #require(message["tool_calls"] as? [[String: Any]])
        #expect(calls.map { $0["id"] as? String } == ["call_a", "call_b"])
        // The provider's own argument text when it is an object; `{}` for an empty one.
        #expect((calls[0]["function"] as? [String: Any])?["arguments"] as? String == #"{"city": "Paris"}"#)
        #expect((calls[1]["function"] as? [String: Any])?["arguments"] as? String == "{}")
        let usage = try #require(body["usage"] as? [String: Any])
        #expect(usage["prompt_tokens"] as? Int == 120 && usage["completion_tokens"] as? Int == 30 && usage["total_tokens"] as? Int == 150)
        #expect((usage["prompt_tokens_details"] as? [String: Any])?["cached_tokens"] as? Int == 20)
    }

    @Test func anthropicMessageWithSeveralToolCalls() throws {
        let body = try object(AnthropicMessagesResponse.message(Self.answer(text: "Checking.", calls: Self.twoCalls, stop: .toolUse)))
        #expect(body["id"] as? String == "msg_task-1" && body["type"] as? String == "message" && body["role"] as? String == "assistant")
        #expect(body["stop_reason"] as? String == "tool_use" && body["stop_sequence"] is NSNull)
        let content = try #require(body["content"] as? [[String: Any]])
        #expect(content.map { $0["type"] as? String } == ["text", "tool_use", "tool_use"])
        #expect(content[1]["id"] as? String == "call_a" && (content[1]["input"] as? [String: Any])?["city"] as? String == "Paris")
        // Anthropic counts uncached input apart from cache reads.
        let usage = try #require(body["usage"] as? [String: Any])
        #expect(usage["input_tokens"] as? Int == 100 && usage["cache_read_input_tokens"] as? Int == 20 && usage["output_tokens"] as? Int == 30)
    }

    @Test func anEmptyAnswerIsEmptyContent() throws {
        let anthropic = try object(AnthropicMessagesResponse.message(Self.answer(text: "")))
        #expect((anthropic["content"] as? [Any])?.isEmpty == true)
        let openAI = try object(OpenAIChatResponse.completion(Self.answer(text: ""), created: 0))
        let message = ((openAI["choices"] as? [[String: Any]])?.first?["message"] as? [String: Any])
        #expect(message?["content"] as? String == "")
    }

    @Test func unparsableArgumentsAreKeptWhole() {
        #expect(CompatAnswer.input(#"{"a": 1"#) == .object(["_fleetd_unparsed_arguments": .string(#"{"a": 1"#)]))
        #expect(CompatAnswer.input("  ") == .object([:]))
        #expect(CompatAnswer.input(#"{"a": 1}"#) == .object(["a": .number(1)]))
    }

    @Test func openAIStreamChunks() throws {
        var stream = OpenAIChatResponse.Stream(taskId: "task-1", created: 5, model: "claude-cheap", includeUsage: true)
        var buffer = ByteBuffer()
        stream.begin(into: &buffer)
        stream.text("Hel", into: &buffer)
        stream.text("lo", into: &buffer)
        stream.finish(Self.answer(text: "Hello", calls: Self.twoCalls, stop: .toolUse), into: &buffer)
        let all = events(buffer)
        #expect(all.allSatisfy { $0.0 == nil }, "Chat Completions chunks carry no event names")
        #expect(all.last?.2 == "[DONE]")
        let chunks = all.dropLast().compactMap(\.1)
        #expect(chunks.allSatisfy { $0["object"] as? String == "chat.completion.chunk" && $0["id"] as? String == "chatcmpl-task-1" })
        func delta(_ chunk: [String: Any]) -> [String: Any]? { ((chunk["choices"] as? [[String: Any]])?.first?["delta"]) as? [String: Any] }
        #expect(delta(chunks[0])?["role"] as? String == "assistant")
        #expect(chunks[1...2].compactMap { delta($0)?["content"] as? String } == ["Hel", "lo"])
        let calls = chunks[3...4].compactMap { (delta($0)?["tool_calls"] as? [[String: Any]])?.first }
        #expect(calls.map { $0["index"] as? Int } == [0, 1] && calls.map { $0["id"] as? String } == ["call_a", "call_b"])
        let finish = (chunks[5]["choices"] as? [[String: Any]])?.first
        #expect(finish?["finish_reason"] as? String == "tool_calls")
        #expect((chunks[5]["fleetd"] as? [String: Any])?["cost_usd"] as? Double == 0.0125)
        #expect((chunks[6]["choices"] as? [Any])?.isEmpty == true && (chunks[6]["usage"] as? [String: Any])?["total_tokens"] as? Int == 150)
    }

    /// After a fallback before any output, the stream's head was written with the pick's name; the
    /// chunks written once the answer is known (tool calls, the finish chunk most clients read the
    /// model from, usage) name the model that answered.
    @Test func openAIStreamsLastChunksNameTheModelThatAnswered() throws {
        var stream = OpenAIChatResponse.Stream(taskId: "task-1", created: 5, model: "gpt-pick", includeUsage: true)
        var buffer = ByteBuffer()
        stream.begin(into: &buffer)
        stream.text("Hello", into: &buffer)
        stream.finish(Self.answer(text: "Hello", calls: [Self.twoCalls[0]], stop: .toolUse), into: &buffer)
        let models = events(buffer).compactMap(\.1).map { $0["model"] as? String }
        #expect(models == ["gpt-pick", "gpt-pick", "claude-cheap", "claude-cheap", "claude-cheap"], "\(models)")
    }

    @Test func openAIStreamWithoutUsageAndAnError() throws {
        var stream = OpenAIChatResponse.Stream(taskId: "t", created: 5, model: "m", includeUsage: false)
        var buffer = ByteBuffer()
        stream.finish(Self.answer(), into: &buffer)
        #expect(!events(buffer).contains { ($0.1?["usage"]) != nil })
        var failed = ByteBuffer()
        stream.fail(CompatError(.openAI, failure: .init(code: .streamTimeout, message: "slow"), defaultRetryAfter: 1), into: &failed)
        let error = events(failed)
        #expect(error.count == 1 && (error[0].1?["error"] as? [String: Any])?["message"] as? String == "slow")
    }

    @Test func anthropicStreamEvents() throws {
        var stream = AnthropicMessagesResponse.Stream(taskId: "task-1", model: "claude-cheap", estimatedInputTokens: 42)
        var buffer = ByteBuffer()
        stream.begin(into: &buffer)
        stream.text("Hel", into: &buffer)
        stream.text("lo", into: &buffer)
        stream.finish(Self.answer(text: "Hello", calls: Self.twoCalls, stop: .toolUse), into: &buffer)
        let all = events(buffer)
        #expect(all.map(\.0) == ["message_start", "ping", "content_block_start", "content_block_delta", "content_block_delta", "content_block_stop",
                                 "content_block_start", "content_block_delta", "content_block_stop",
                                 "content_block_start", "content_block_delta", "content_block_stop", "message_delta", "message_stop"])
        #expect(all.allSatisfy { $0.1?["type"] as? String == $0.0 }, "each event's data names its type")
        let start = all[0].1?["message"] as? [String: Any]
        #expect((start?["usage"] as? [String: Any])?["input_tokens"] as? Int == 42)
        #expect(all[2].1?["index"] as? Int == 0 && all[6].1?["index"] as? Int == 1 && all[9].1?["index"] as? Int == 2)
        let json = all[7].1?["delta"] as? [String: Any]
        #expect(json?["type"] as? String == "input_json_delta" && json?["partial_json"] as? String == #"{"city":"Paris"}"#)
        #expect((all[6].1?["content_block"] as? [String: Any])?["name"] as? String == "get_weather")
        let delta = all[12].1
        #expect((delta?["delta"] as? [String: Any])?["stop_reason"] as? String == "tool_use")
        #expect((delta?["usage"] as? [String: Any])?["input_tokens"] as? Int == 100)
    }

    /// Thinking as Anthropic streams it: each block opened empty, its thinking and signature as
    /// deltas, a redacted block whole in its start; blocks numbered from 0 in the order they came,
    /// text between thinking blocks included, tool calls after.
    @Test func anthropicStreamWithThinking() throws {
        var stream = AnthropicMessagesResponse.Stream(taskId: "task-1", model: "claude-cheap", estimatedInputTokens: 42)
        var buffer = ByteBuffer()
        stream.begin(into: &buffer)
        stream.thinking(ThinkingDelta(index: 0, part: .text("")), into: &buffer)
        stream.thinking(ThinkingDelta(index: 0, part: .text("Hmm.")), into: &buffer)
        stream.thinking(ThinkingDelta(index: 0, part: .signature("sig")), into: &buffer)
        stream.text("Hello", into: &buffer)
        stream.thinking(ThinkingDelta(index: 1, part: .redacted("EqkE")), into: &buffer)
        stream.thinking(ThinkingDelta(index: 2, part: .text("More.")), into: &buffer)
        stream.finish(Self.answer(text: "Hello", calls: [Self.twoCalls[0]], stop: .toolUse), into: &buffer)
        let blocks = events(buffer).compactMap { event -> String? in
            guard let data = event.1, let index = data["index"] as? Int else { return nil }
            let block = data["content_block"] as? [String: Any], delta = data["delta"] as? [String: Any]
            switch event.0 {
            case "content_block_start": return "start \(index) \(block?["type"] as? String ?? "?")"
            case "content_block_delta": return "delta \(index) \(delta?["type"] as? String ?? "?")"
            default: return "stop \(index)"
            }
        }
        #expect(blocks == ["start 0 thinking", "delta 0 thinking_delta", "delta 0 signature_delta", "stop 0",
                           "start 1 text", "delta 1 text_delta", "stop 1",
                           "start 2 redacted_thinking", "stop 2",
                           "start 3 thinking", "delta 3 thinking_delta", "stop 3",
                           "start 4 tool_use", "delta 4 input_json_delta", "stop 4"], "\(blocks)")
        let start = events(buffer).first { $0.0 == "content_block_start" }?.1?["content_block"] as? NSDictionary
        #expect(start == ["type": "thinking", "thinking": "", "signature": ""])
    }

    /// The whole answer: thinking and text in the order they came, then the tool calls; an OpenAI
    /// client gets the thinking text as `reasoning_content`.
    @Test func answersWithThinking() throws {
        var answer = Self.answer(text: "Hello there", calls: [Self.twoCalls[0]], stop: .toolUse)
        answer.content = [.thinking(text: "Hmm.", signature: "sig"), .text("Hello"), .redactedThinking(data: "EqkE"), .text(" there")]
        let message = try object(AnthropicMessagesResponse.message(answer))
        let content = message["content"] as? [[String: Any]] ?? []
        #expect(content.map { $0["type"] as? String } == ["thinking", "text", "redacted_thinking", "text", "tool_use"])
        #expect(content[0] as NSDictionary == ["type": "thinking", "thinking": "Hmm.", "signature": "sig"])
        #expect(content[2] as NSDictionary == ["type": "redacted_thinking", "data": "EqkE"])
        let completion = try object(OpenAIChatResponse.completion(answer, created: 5))
        let reply = ((completion["choices"] as? [[String: Any]])?.first?["message"] as? [String: Any]) ?? [:]
        #expect(reply["reasoning_content"] as? String == "Hmm." && reply["content"] as? String == "Hello there", "\(reply)")
    }

    @Test func anthropicToolOnlyStreamHasNoTextBlock() {
        var stream = AnthropicMessagesResponse.Stream(taskId: "t", model: "m", estimatedInputTokens: 1)
        var buffer = ByteBuffer()
        stream.finish(Self.answer(text: "", calls: [Self.twoCalls[0]], stop: .toolUse), into: &buffer)
        let names = events(buffer).map(\.0)
        #expect(names == ["content_block_start", "content_block_delta", "content_block_stop", "message_delta", "message_stop"])
        #expect(events(buffer)[0].1?["index"] as? Int == 0)
    }

    @Test(arguments: [
        (ErrorCode.requestUnsupported, 400, 400, "invalid_request_error"),
        (.providerRateLimited, 429, 429, "rate_limit_error"),
        (.queueFull, 429, 429, "rate_limit_error"),
        (.budgetExceeded, 429, 402, "billing_error"),
        (.noAffordableModel, 429, 402, "billing_error"),
        (.modelSelectionFailed, 503, 529, "overloaded_error"),
        (.providerOverloaded, 503, 529, "overloaded_error"),
        (.taskTimeout, 504, 504, "timeout_error"),
        (.providerServerError, 502, 502, "api_error"),
        (.providerBadRequest, 400, 400, "invalid_request_error"),
        (.agentTypeNotAllowed, 403, 403, "permission_error"),
    ])
    func errorStatusesPerDialect(code: ErrorCode, openAIStatus: Int, anthropicStatus: Int, anthropicType: String) throws {
        let failure = TaskFailure(code: code, message: "m", retryAfterSeconds: 7)
        let openAI = CompatError(.openAI, failure: failure, defaultRetryAfter: 30)
        let anthropic = CompatError(.anthropic, failure: failure, defaultRetryAfter: 30)
        #expect(Int(openAI.status.code) == openAIStatus && Int(anthropic.status.code) == anthropicStatus)
        let body = try object(anthropic.body)
        #expect(body["type"] as? String == "error" && (body["error"] as? [String: Any])?["type"] as? String == anthropicType)
        let openAIBody = try object(openAI.body)
        let inner = try #require(openAIBody["error"] as? [String: Any])
        #expect(inner["message"] != nil && inner.keys.contains("param") && inner.keys.contains("code"))
        if openAIStatus == 429 {
            #expect(openAI.headers[.retryAfter] == (code == .budgetExceeded || code == .noAffordableModel ? nil : "7"))
        }
        if code == .budgetExceeded {
            #expect(inner["code"] as? String == "insufficient_quota")
            #expect(openAI.headers[HTTPField.Name("x-should-retry")!] == "false")
        }
    }

    @Test func rateLimitsWithoutAProviderDelayUseTheCooldown() {
        let error = CompatError(.anthropic, failure: TaskFailure(code: .providerRateLimited, message: "m"), defaultRetryAfter: 30)
        #expect(error.headers[.retryAfter] == "30")
    }

    @Test func modelListShapes() {
        #expect(CompatModels.listShape(format: nil, anthropicVersion: false, apiKeyHeader: false, bearer: false) == .fleetd)
        #expect(CompatModels.listShape(format: nil, anthropicVersion: true, apiKeyHeader: false, bearer: true) == .anthropic)
        #expect(CompatModels.listShape(format: nil, anthropicVersion: false, apiKeyHeader: true, bearer: false) == .anthropic)
        #expect(CompatModels.listShape(format: nil, anthropicVersion: false, apiKeyHeader: false, bearer: true) == .openai)
        #expect(CompatModels.listShape(format: "fleetd", anthropicVersion: true, apiKeyHeader: true, bearer: true) == .fleetd)
        #expect(CompatModels.listShape(format: "xml", anthropicVersion: false, apiKeyHeader: false, bearer: false) == nil)
    }
}
