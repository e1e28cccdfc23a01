import FleetSupport
import Foundation
import Testing
@testable import Providers

/// ProviderRequest → Anthropic Messages, field by field.
@Suite struct AnthropicWireRequestTests {
    /// What Anthropic refuses with a 400, and fleetd therefore never sends: `temperature` with
    /// `top_p` (Claude's newer models), `tool_choice` without tools, and a history of tool calls
    /// with no tools defined.
    @Test func whatAnthropicRefusesIsNotSent() throws {
        var request = ProviderRequest(model: "m", prompt: "hi")
        request.temperature = 0.5
        request.topP = 0.9
        request.parallelToolCalls = false
        request.toolChoice = .auto
        var body = try wireJSON(AnthropicWireRequest(request, stream: false))
        #expect(body["temperature"] as? Double == 0.5 && body["top_p"] == nil)
        #expect(body["tool_choice"] == nil && body["tools"] == nil, "\(body)")
        request.temperature = nil
        #expect(try wireJSON(AnthropicWireRequest(request, stream: false))["top_p"] as? Double == 0.9)

        // A conversation that used a tool, now without tools (a final summary turn).
        var history = SampleConversation.request
        history.tools = []
        history.toolChoice = nil
        body = try wireJSON(AnthropicWireRequest(history, stream: false))
        let tools = body[objects: "tools"]
        #expect(tools.map { $0["name"] as? String } == ["get_weather", "get_time"], "\(body)")
        #expect(body[object: "tool_choice"]?["type"] as? String == "none", "none may be called this turn")
    }

    @Test func conversationWithImagesToolCallsAndResults() throws {
        let body = try wireJSON(AnthropicWireRequest(SampleConversation.request, stream: true))
        #expect(body["model"] as? String == "m")
        #expect(body["max_tokens"] as? Int == 300)
        #expect(body["system"] as? String == "be brief")
        #expect(body["temperature"] as? Double == 0.5 && body["top_p"] == nil, "temperature, not both (whatAnthropicRefusesIsNotSent)")
        #expect(body["stop_sequences"] as? [String] == ["END"])
        #expect(body["stream"] as? Bool == true)
        let turns = body[objects: "messages"]
        // The two user messages after the tool calls join into one turn, results first.
        #expect(turns.map { $0["role"] as? String } == ["user", "assistant", "user"])
        let first = turns[0][objects: "content"]
        #expect(first.map { $0["type"] as? String } == ["text", "image"])
        #expect(first[1][object: "source"]?["type"] as? String == "base64")
        #expect(first[1][object: "source"]?["media_type"] as? String == "image/png")
        #expect(first[1][object: "source"]?["data"] as? String == "AAAA")
        let assistant = turns[1][objects: "content"]
        #expect(assistant.map { $0["type"] as? String } == ["text", "tool_use", "tool_use"])
        #expect(assistant[1]["id"] as? String == "call_1" && assistant[1]["name"] as? String == "get_weather")
        #expect(assistant[1][object: "input"]?["city"] as? String == "Paris")
        #expect((assistant[2]["input"] as? [String: Any])?.isEmpty == true)
        let results = turns[2][objects: "content"]
        #expect(results.map { $0["type"] as? String } == ["tool_result", "tool_result", "text"])
        #expect(results[0]["tool_use_id"] as? String == "call_1" && results[0]["is_error"] == nil)
        #expect(results[0][objects: "content"].first?["text"] as? String == "18 C")
        #expect(results[1]["is_error"] as? Bool == true)
        #expect(results[2]["text"] as? String == "Thanks; and tomorrow?")
        let tools = body[objects: "tools"]
        #expect(tools.map { $0["name"] as? String } == ["get_weather", "get_time"])
        #expect(tools[0]["description"] as? String == "The weather in a city")
        #expect(tools[0][object: "input_schema"]?["required"] as? [String] == ["city"])
        #expect(body["tool_choice"] == nil)
    }

    @Test func aSingleTextIsAStringAndNoOptionalFieldsAppear() throws {
        let body = try wireJSON(AnthropicWireRequest(ProviderRequest(model: "m", prompt: "hi"), stream: false))
        #expect(body[objects: "messages"].first?["content"] as? String == "hi")
        for field in ["system", "temperature", "top_p", "top_k", "stop_sequences", "tools", "tool_choice"] {
            #expect(body[field] == nil, "\(field)")
        }
    }

    @Test(arguments: [
        (ToolChoice.auto, true, "auto", nil as String?, nil as Bool?),
        (.required, true, "any", nil, nil),
        (.tool("get_time"), false, "tool", "get_time", true),
        (.none, false, "none", nil, nil),
    ])
    func toolChoices(choice: ToolChoice, parallel: Bool, type: String, name: String?, disableParallel: Bool?) throws {
        var request = SampleConversation.request
        request.toolChoice = choice
        request.parallelToolCalls = parallel ? nil : false
        let encoded = try #require(try wireJSON(AnthropicWireRequest(request, stream: false))[object: "tool_choice"])
        #expect(encoded["type"] as? String == type)
        #expect(encoded["name"] as? String == name)
        #expect(encoded["disable_parallel_tool_use"] as? Bool == disableParallel)
    }

    @Test func parallelCallsOffWithoutAChoiceIsAutoWithParallelDisabled() throws {
        var request = SampleConversation.request
        request.parallelToolCalls = false
        let encoded = try wireJSON(AnthropicWireRequest(request, stream: false))[object: "tool_choice"]
        #expect(encoded?["type"] as? String == "auto" && encoded?["disable_parallel_tool_use"] as? Bool == true)
    }

    @Test func imageURLsAndTopKAreCarried() throws {
        var request = ProviderRequest(model: "m", messages: [ProviderMessage(role: .user, blocks: [.image(.url("https://x.test/a.png"))])])
        request.topK = 20
        let body = try wireJSON(AnthropicWireRequest(request, stream: false))
        let source = body[objects: "messages"].first?[objects: "content"].first?[object: "source"]
        #expect(source?["type"] as? String == "url" && source?["url"] as? String == "https://x.test/a.png")
        #expect(body["top_k"] as? Int == 20)
    }

    @Test func emptyTextBlocksAndEmptyMessagesAreLeftOut() throws {
        let request = ProviderRequest(model: "m", messages: [
            ProviderMessage(role: .user, content: "hi"),
            ProviderMessage(role: .assistant, blocks: []),
            ProviderMessage(role: .assistant, blocks: [.text(""), .toolUse(ToolUse(id: "t", name: "f", input: .object([:])))]),
            ProviderMessage(role: .user, blocks: [.toolResult(ToolResult(toolUseId: "t", content: []))]),
        ])
        let turns = try wireJSON(AnthropicWireRequest(request, stream: false))[objects: "messages"]
        #expect(turns.map { $0["role"] as? String } == ["user", "assistant", "user"])
        #expect(turns[1][objects: "content"].map { $0["type"] as? String } == ["tool_use"])
        #expect(turns[2][objects: "content"].first?["content"] == nil)
    }

    /// Prompt-cache breakpoints where the caller put them: after a tool, at the end of the system
    /// prompt (sent as one text block then), after blocks, and the request's own; two user messages
    /// sent as one turn keep their blocks' marks; an empty text block's goes to the block before.
    @Test func cacheBreakpointsAreSentWhereTheyWereSet() throws {
        var request = ProviderRequest(model: "m", system: "You are a coding agent.", messages: [])
        request.systemCacheBreak = SystemCacheBreak(mark: CacheMark())
        request.cacheMark = CacheMark(ttl: "5m")
        var read = ToolDefinition(name: "read")
        read.cacheMark = CacheMark(ttl: "1h")
        request.tools = [ToolDefinition(name: "list"), read]
        var first = ProviderMessage(role: .user, content: "read main.swift")
        first.cacheMarks = [0: CacheMark()]
        var second = ProviderMessage(role: .user, blocks: [.text("and then"), .text(""), .text("edit it"), .text("")])
        second.cacheMarks = [1: CacheMark(), 3: CacheMark(ttl: "5m")]
        request.messages = [first, second]

        let json = try wireJSON(AnthropicWireRequest(request, stream: false))
        #expect(json["system"] as? [[String: Any]] != nil)
        let system = try #require(json["system"] as? [[String: Any]])
        #expect(system.count == 1 && system[0]["text"] as? String == "You are a coding agent.")
        #expect((system[0]["cache_control"] as? [String: Any])?["type"] as? String == "ephemeral")
        #expect((json["cache_control"] as? [String: Any])?["ttl"] as? String == "5m")
        let tools = try #require(json["tools"] as? [[String: Any]])
        #expect(tools[0]["cache_control"] == nil && (tools[1]["cache_control"] as? [String: Any])?["ttl"] as? String == "1h")
        let messages = try #require(json["messages"] as? [[String: Any]])
        #expect(messages.count == 1, "two user messages are one turn")
        let blocks = try #require(messages[0]["content"] as? [[String: Any]])
        #expect(blocks.map { $0["text"] as? String } == ["read main.swift", "and then", "edit it"])
        #expect(blocks.map { $0["cache_control"] != nil } == [true, true, true], "each mark on the block it follows, past the merge")
        #expect((blocks[2]["cache_control"] as? [String: Any])?["ttl"] as? String == "5m")

        // One marked text block is sent as a block; a breakpoint inside the system prompt splits it
        // there, so the text after it (a date, say) stays out of the cached prefix.
        var single = ProviderRequest(model: "m", system: "static rules\n\nToday is Monday", messages: [ProviderMessage(role: .user, content: "hi")])
        single.messages[0].cacheMarks = [0: CacheMark()]
        single.systemCacheBreak = SystemCacheBreak(mark: CacheMark(), textAfter: "Today is Monday")
        let split = try wireJSON(AnthropicWireRequest(single, stream: false))
        let splitSystem = try #require(split["system"] as? [[String: Any]])
        #expect(splitSystem.map { $0["text"] as? String } == ["static rules", "Today is Monday"])
        #expect(splitSystem.map { $0["cache_control"] != nil } == [true, false])
        let singleBlocks = try #require((split["messages"] as? [[String: Any]])?.first?["content"] as? [[String: Any]])
        #expect(singleBlocks.count == 1 && singleBlocks[0]["text"] as? String == "hi" && singleBlocks[0]["cache_control"] != nil)

        // Without marks, the system prompt stays a string and no cache_control appears.
        let plain = try wireJSON(AnthropicWireRequest(ProviderRequest(model: "m", prompt: "hi", system: "s"), stream: false))
        #expect(plain["system"] as? String == "s" && plain["cache_control"] == nil)
    }

    /// Thinking goes to Anthropic as asked, its blocks back in order; a budget that would not fit
    /// below a smaller `max_tokens` (a fallback's) is halved, and left off when even Anthropic's
    /// minimum would not fit.
    @Test func thinkingAndItsBlocks() throws {
        var request = ProviderRequest(model: "m", messages: [
            ProviderMessage(role: .user, content: "hi"),
            ProviderMessage(role: .assistant, blocks: [.thinking(text: "Let me see.", signature: "sig=="), .redactedThinking(data: "EqkE"),
                                                       .toolUse(ToolUse(id: "t1", name: "f", input: .object([:])))]),
            ProviderMessage(role: .user, blocks: [.toolResult(ToolResult(toolUseId: "t1", name: "f", content: [.text("1")]))]),
        ], maxTokens: 8_000)
        request.thinking = ThinkingSetting(kind: .enabled, budgetTokens: 4_000, display: "omitted")
        let body = try wireJSON(AnthropicWireRequest(request, stream: true))
        #expect(body[object: "thinking"] as NSDictionary? == ["type": "enabled", "budget_tokens": 4_000, "display": "omitted"])
        let assistant = body[objects: "messages"][1][objects: "content"]
        #expect(assistant.map { $0["type"] as? String } == ["thinking", "redacted_thinking", "tool_use"])
        #expect(assistant[0] as NSDictionary == ["type": "thinking", "thinking": "Let me see.", "signature": "sig=="])
        #expect(assistant[1] as NSDictionary == ["type": "redacted_thinking", "data": "EqkE"])

        request.maxTokens = 4_000
        #expect(try wireJSON(AnthropicWireRequest(request, stream: true))[object: "thinking"]?["budget_tokens"] as? Int == 2_000)
        request.maxTokens = 2_000
        #expect(try wireJSON(AnthropicWireRequest(request, stream: true))["thinking"] == nil)
        request.thinking = ThinkingSetting(kind: .adaptive)
        #expect(try wireJSON(AnthropicWireRequest(request, stream: true))[object: "thinking"] as NSDictionary? == ["type": "adaptive"])
    }

    /// A tool loop whose assistant turn another provider's model answered (no thinking block first)
    /// cannot go on with thinking at Anthropic, which refuses it: the setting is left off for that
    /// call. Thinking of turns before the loop is not counted as input, as Anthropic drops it.
    @Test func aToolLoopWithoutThinkingGoesOnWithoutIt() throws {
        var request = ProviderRequest(model: "m", messages: [
            ProviderMessage(role: .user, content: "hi"),
            ProviderMessage(role: .assistant, blocks: [.thinking(text: String(repeating: "long thought ", count: 400), signature: "sig=="), .text("Hello.")]),
            ProviderMessage(role: .user, content: "Use the tool."),
            ProviderMessage(role: .assistant, blocks: [.toolUse(ToolUse(id: "t1", name: "f", input: .object([:])))]),
            ProviderMessage(role: .user, blocks: [.toolResult(ToolResult(toolUseId: "t1", name: "f", content: [.text("1")]))]),
        ], maxTokens: 8_000)
        request.thinking = ThinkingSetting(kind: .enabled, budgetTokens: 2_000)
        #expect(try wireJSON(AnthropicWireRequest(request, stream: true))["thinking"] == nil)
        #expect(request.firstCountedThinkingMessage == 3)
        let withoutOldThinking = request.approximateInputTokens
        request.messages[1].blocks.removeFirst()
        #expect(request.approximateInputTokens == withoutOldThinking, "an earlier turn's thinking counts for nothing")
        // The loop's turn begins with thinking: the setting goes.
        request.messages[3].blocks.insert(.thinking(text: "t", signature: "s"), at: 0)
        #expect(try wireJSON(AnthropicWireRequest(request, stream: true))[object: "thinking"]?["budget_tokens"] as? Int == 2_000)
    }

    /// The other formats have no place for Anthropic's signed thinking: they get the turn without it.
    @Test func otherFormatsLeaveThinkingOut() throws {
        var request = ProviderRequest(model: "m", messages: [
            ProviderMessage(role: .user, content: "hi"),
            ProviderMessage(role: .assistant, blocks: [.thinking(text: "Let me see.", signature: "sig=="), .text("Hello.")]),
            ProviderMessage(role: .user, content: "again"),
        ])
        request.thinking = ThinkingSetting(kind: .enabled, budgetTokens: 1_024)
        for body in [try FastJSONEncoder().encode(OpenAIWireRequest(request, stream: false, maxCompletionTokens: false)),
                     try FastJSONEncoder().encode(GeminiWireRequest(request)),
                     try FastJSONEncoder().encode(OllamaWireRequest(request, stream: false))] {
            let text = String(decoding: body, as: UTF8.self)
            #expect(!text.contains("Let me see") && !text.contains("sig==") && !text.contains("thinking") && text.contains("Hello."), "\(text)")
        }
    }

    /// An OpenAI client's `reasoning_effort` asks a Claude model that thinks for a budget; not one
    /// that cannot think, nor a request whose sampling Anthropic refuses beside thinking. An
    /// explicit `thinking` wins.
    @Test func reasoningEffortBecomesAThinkingBudget() throws {
        var request = ProviderRequest(model: "claude-sonnet-4-5", prompt: "hi", maxTokens: 8_000)
        request.reasoningEffort = "medium"
        #expect(try wireJSON(AnthropicWireRequest(request, stream: false))[object: "thinking"] as NSDictionary? == ["type": "enabled", "budget_tokens": 2_048])
        request.reasoningEffort = "minimal"
        #expect(try wireJSON(AnthropicWireRequest(request, stream: false))["thinking"] == nil)
        request.reasoningEffort = "medium"
        request.toolChoice = .required
        #expect(try wireJSON(AnthropicWireRequest(request, stream: false))["thinking"] == nil, "a forced tool call is refused beside thinking")
        request.toolChoice = nil
        request.reasoningEffort = "high"
        request.temperature = 0.2
        #expect(try wireJSON(AnthropicWireRequest(request, stream: false))["thinking"] == nil, "temperature 0.2 is refused beside thinking")
        request.temperature = nil
        request.model = "claude-3-5-haiku-latest"
        #expect(try wireJSON(AnthropicWireRequest(request, stream: false))["thinking"] == nil, "Claude 3.5 cannot think")
        request.model = "claude-3-7-sonnet-latest"
        #expect(try wireJSON(AnthropicWireRequest(request, stream: false))[object: "thinking"]?["budget_tokens"] as? Int == 4_096)
        // Claude 4.6 and later: adaptive thinking, told how much by the effort.
        request.model = "claude-opus-4-7"
        let adaptive = try wireJSON(AnthropicWireRequest(request, stream: false))
        #expect(adaptive[object: "thinking"] as NSDictionary? == ["type": "adaptive"] && adaptive[object: "output_config"] as NSDictionary? == ["effort": "high"])
        request.thinking = ThinkingSetting(kind: .disabled)
        let off = try wireJSON(AnthropicWireRequest(request, stream: false))
        #expect(off[object: "thinking"] as NSDictionary? == ["type": "disabled"] && off["output_config"] == nil)
    }

    /// An Anthropic client's `output_config.effort` goes to the Claude models that take it, capped
    /// at what each takes; an older model (a routed pick, a fallback) is not sent it.
    @Test(arguments: [("claude-opus-4-7", "xhigh", "xhigh"), ("claude-opus-4-6", "xhigh", "high"), ("claude-opus-4-6", "max", "max"),
                      ("claude-sonnet-4-5", "max", "high"), ("claude-sonnet-4-5", "low", "low"), ("claude-sonnet-4-20250514", "low", "none"),
                      ("claude-3-5-haiku-latest", "high", "none"), ("claude-next", "high", "high")])
    func effortGoesWhereItIsTaken(model: String, effort: String, sent: String) throws {
        var request = ProviderRequest(model: model, prompt: "hi")
        request.effort = effort
        let body = try wireJSON(AnthropicWireRequest(request, stream: false))
        #expect((body[object: "output_config"]?["effort"] as? String ?? "none") == sent, "\(body)")
    }

    @Test(arguments: [("claude-opus-4-7", "4.7"), ("claude-sonnet-4-6", "4.6"), ("claude-sonnet-4-20250514", "4.0"), ("claude-opus-4-1-20250805", "4.1"),
                      ("claude-3-7-sonnet-latest", "3.7"), ("claude-3-5-haiku-20241022", "3.5"), ("claude-opus-5", "5.0"), ("claude-haiku-4-5", "4.5"),
                      ("gpt-5", "none")])
    func claudeVersions(model: String, version: String) {
        let found = ThinkingSetting.claudeVersion(model: model).map { "\($0.0).\($0.1)" } ?? "none"
        #expect(found == version)
    }
}
