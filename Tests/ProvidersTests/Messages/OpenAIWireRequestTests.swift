import Foundation
import Testing
@testable import Providers

/// ProviderRequest → OpenAI Chat Completions, field by field.
@Suite struct OpenAIWireRequestTests {
    @Test func conversationWithImagesToolCallsAndResults() throws {
        var request = SampleConversation.request
        request.seed = 7
        request.presencePenalty = 0.1
        request.frequencyPenalty = 0.2
        let body = try wireJSON(OpenAIWireRequest(request, stream: true, maxCompletionTokens: false))
        #expect(body["max_tokens"] as? Int == 300 && body["max_completion_tokens"] == nil)
        #expect(body["temperature"] as? Double == 0.5 && body["top_p"] as? Double == 0.9)
        #expect(body["stop"] as? [String] == ["END"])
        #expect(body["seed"] as? Int == 7 && body["presence_penalty"] as? Double == 0.1 && body["frequency_penalty"] as? Double == 0.2)
        #expect(body[object: "stream_options"]?["include_usage"] as? Bool == true)
        let messages = body[objects: "messages"]
        // system, user, assistant (two calls), one tool message per result, then the user text.
        #expect(messages.map { $0["role"] as? String } == ["system", "user", "assistant", "tool", "tool", "user"])
        #expect(messages[0]["content"] as? String == "be brief")
        let parts = messages[1][objects: "content"]
        #expect(parts.map { $0["type"] as? String } == ["text", "image_url"])
        #expect(parts[1][object: "image_url"]?["url"] as? String == "data:image/png;base64,AAAA")
        #expect(messages[2]["content"] as? String == "Checking.")
        let calls = messages[2][objects: "tool_calls"]
        #expect(calls.map { $0["id"] as? String } == ["call_1", "call_2"])
        #expect(calls[0]["type"] as? String == "function")
        #expect(calls[0][object: "function"]?["name"] as? String == "get_weather")
        #expect(calls[0][object: "function"]?["arguments"] as? String == #"{"city":"Paris"}"#)
        #expect(calls[1][object: "function"]?["arguments"] as? String == "{}")
        #expect(messages[3]["tool_call_id"] as? String == "call_1" && messages[3]["content"] as? String == "18 C")
        // No error flag in Chat Completions: the error is marked in the text.
        #expect(messages[4]["tool_call_id"] as? String == "call_2" && messages[4]["content"] as? String == "[tool error] clock offline")
        #expect(messages[5]["content"] as? String == "Thanks; and tomorrow?")
        let tools = body[objects: "tools"]
        #expect(tools.map { $0["type"] as? String } == ["function", "function"])
        #expect(tools[0][object: "function"]?["name"] as? String == "get_weather")
        #expect(tools[0][object: "function"]?[object: "parameters"]?["required"] as? [String] == ["city"])
    }

    @Test func maxCompletionTokensForOpenAIsOwnAPI() throws {
        let body = try wireJSON(OpenAIWireRequest(ProviderRequest(model: "m", prompt: "hi", maxTokens: 9), stream: false, maxCompletionTokens: true))
        #expect(body["max_completion_tokens"] as? Int == 9 && body["max_tokens"] == nil)
        #expect(body["stream_options"] == nil && body["tools"] == nil && body["response_format"] == nil)
    }

    @Test func toolChoicesAndParallelCalls() throws {
        var request = SampleConversation.request
        let choices: [(ToolChoice, Any)] = [(.auto, "auto"), (.none, "none"), (.required, "required")]
        for (choice, expected) in choices {
            request.toolChoice = choice
            #expect(try wireJSON(OpenAIWireRequest(request, stream: false, maxCompletionTokens: false))["tool_choice"] as? String == expected as? String)
        }
        request.toolChoice = .tool("get_time")
        request.parallelToolCalls = false
        let body = try wireJSON(OpenAIWireRequest(request, stream: false, maxCompletionTokens: false))
        let named = try #require(body[object: "tool_choice"])
        #expect(named["type"] as? String == "function" && named[object: "function"]?["name"] as? String == "get_time")
        #expect(body["parallel_tool_calls"] as? Bool == false)
    }

    /// A closed object schema whose properties are all required: what OpenAI's strict mode takes.
    static let strictSchema = try! JSONValue.parse(text: """
        {"type": "object", "properties": {"city": {"type": "string"}, "days": {"type": "array", "items": {"$ref": "#/$defs/day"}}},
         "required": ["city", "days"], "additionalProperties": false,
         "$defs": {"day": {"type": "object", "properties": {"n": {"type": ["integer", "null"]}}, "required": ["n"], "additionalProperties": false}}}
        """)

    @Test func aToolsStrictReachesOpenAIOnly() throws {
        var request = ProviderRequest(model: "m", prompt: "weather?")
        // An Anthropic client's strict tool may leave a property optional, which OpenAI's strict
        // mode refuses: it goes without `strict`.
        let optional = try JSONValue.parse(text: #"{"type": "object", "properties": {"city": {"type": "string"}}, "additionalProperties": false}"#)
        request.tools = [
            ToolDefinition(name: "get_weather", parameters: Self.strictSchema, strict: true),
            ToolDefinition(name: "get_time"),
            ToolDefinition(name: "get_place", parameters: optional, strict: true),
            ToolDefinition(name: "get_any", parameters: .object(["type": .string("object")]), strict: true),
        ]
        let openAI = try wireJSON(OpenAIWireRequest(request, stream: false, maxCompletionTokens: true, strictTools: true))
        let functions = (openAI["tools"] as? [[String: Any]])?.compactMap { $0["function"] as? [String: Any] } ?? []
        #expect(functions.map { $0["strict"] as? Bool } == [true, nil, nil, nil])
        let other = try wireJSON(OpenAIWireRequest(request, stream: false, maxCompletionTokens: false))
        let plain = (other["tools"] as? [[String: Any]])?.compactMap { $0["function"] as? [String: Any] } ?? []
        #expect(plain.count == 4 && plain.allSatisfy { $0["strict"] == nil }, "xAI and Ollama get the schema alone")
    }

    @Test func responseFormats() throws {
        var request = ProviderRequest(model: "m", prompt: "json please")
        request.responseFormat = .jsonObject
        #expect(try wireJSON(OpenAIWireRequest(request, stream: false, maxCompletionTokens: false))[object: "response_format"]?["type"] as? String == "json_object")
        request.responseFormat = .jsonSchema(name: "answer", schema: Self.strictSchema, strict: true)
        let format = try wireJSON(OpenAIWireRequest(request, stream: false, maxCompletionTokens: false))[object: "response_format"]
        #expect(format?["type"] as? String == "json_schema")
        #expect(format?[object: "json_schema"]?["name"] as? String == "answer" && format?[object: "json_schema"]?["strict"] as? Bool == true)
        #expect(format?[object: "json_schema"]?[object: "schema"]?["type"] as? String == "object")
        // A schema strict mode would refuse (an open object) goes as guidance, not with a 400 to come.
        request.responseFormat = .jsonSchema(name: "answer", schema: .object(["type": .string("object")]), strict: true)
        let open = try wireJSON(OpenAIWireRequest(request, stream: false, maxCompletionTokens: false))[object: "response_format"]
        #expect(open?[object: "json_schema"]?["strict"] == nil && open?[object: "json_schema"]?[object: "schema"]?["type"] as? String == "object")
    }

    @Test func anAssistantTurnOfOnlyToolCallsHasNoContentAndEmptyMessagesAreLeftOut() throws {
        let request = ProviderRequest(model: "m", messages: [
            ProviderMessage(role: .user, content: "go"),
            ProviderMessage(role: .assistant, blocks: [.text(""), .toolUse(ToolUse(id: "a", name: "f", input: .object([:])))]),
            ProviderMessage(role: .assistant, blocks: []),
        ])
        let messages = try wireJSON(OpenAIWireRequest(request, stream: false, maxCompletionTokens: false))[objects: "messages"]
        #expect(messages.map { $0["role"] as? String } == ["user", "assistant"])
        #expect(messages[1]["content"] == nil && messages[1][objects: "tool_calls"].count == 1)
    }

    @Test func imageURLsStayURLs() throws {
        let request = ProviderRequest(model: "m", messages: [ProviderMessage(role: .user, blocks: [.image(.url("https://x.test/a.png"))])])
        let parts = try wireJSON(OpenAIWireRequest(request, stream: false, maxCompletionTokens: false))[objects: "messages"].first?[objects: "content"]
        #expect(parts?.first?[object: "image_url"]?["url"] as? String == "https://x.test/a.png")
        #expect(parts?.first?[object: "image_url"]?["detail"] == nil, "no detail unless the caller gave one")
    }

    /// The `detail` a caller gave an image (what OpenAI reads it at, and bills) goes with it.
    @Test func anImagesDetailIsCarried() throws {
        var message = ProviderMessage(role: .user, blocks: [.text("what is it?"), .image(.url("https://x.test/a.png")), .image(.url("https://x.test/b.png"))])
        message.imageDetails = [1: "low"]
        let parts = try wireJSON(OpenAIWireRequest(ProviderRequest(model: "m", messages: [message]), stream: false, maxCompletionTokens: false))[objects: "messages"].first?[objects: "content"]
        #expect(parts?.map { $0[object: "image_url"]?["detail"] as? String } == [nil, "low", nil])
    }

    /// A system message later in the conversation goes where it was, as a `system` message (and
    /// to Ollama's format likewise).
    @Test func aLaterSystemMessageIsSentInPlace() throws {
        let request = ProviderRequest(model: "m", system: "be brief", messages: [
            ProviderMessage(role: .user, content: "hi"), ProviderMessage(role: .assistant, content: "Hello."),
            ProviderMessage(role: .system, content: "Answer in French now."), ProviderMessage(role: .user, content: "how are you?"),
        ])
        let messages = try wireJSON(OpenAIWireRequest(request, stream: false, maxCompletionTokens: false))[objects: "messages"]
        #expect(messages.map { $0["role"] as? String } == ["system", "user", "assistant", "system", "user"])
        #expect(messages[3]["content"] as? String == "Answer in French now.")
        let ollama = try wireJSON(OllamaWireRequest(request, stream: false))[objects: "messages"]
        #expect(ollama.map { $0["role"] as? String } == ["system", "user", "assistant", "system", "user"])
    }

    /// `reasoning_effort` reaches the reasoning models, never one that would answer 400 to it.
    @Test(arguments: [("o3-mini", true), ("o4-mini-2025-04-16", true), ("gpt-5", true), ("gpt-5.1-codex", true), ("openai/gpt-5-mini", true),
                      ("gpt-oss:20b", true), ("grok-3-mini", true), ("gpt-4o", false), ("gpt-4.1-mini", false), ("grok-4", false),
                      ("omni-moderation", false), ("llama3.2", false), ("o1-mini", false), ("o1-preview", false), ("o1", true)])
    func reasoningEffortGoesToReasoningModels(model: String, takes: Bool) throws {
        var request = ProviderRequest(model: model, prompt: "hi")
        request.reasoningEffort = "low"
        let body = try wireJSON(OpenAIWireRequest(request, stream: false, maxCompletionTokens: true))
        #expect((body["reasoning_effort"] as? String == "low") == takes, "\(body)")
    }
}
