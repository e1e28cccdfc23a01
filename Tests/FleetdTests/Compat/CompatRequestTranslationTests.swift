import FakeProvider
import FleetSupport
import Foundation
@testable import Providers
import Testing
@testable import fleetd

/// Client dialect → ProviderRequest: OpenAI Chat Completions and Anthropic Messages bodies,
/// field by field, and the odd cases each refuses with a 400 naming the parameter.
@Suite struct CompatRequestTranslationTests {
    func json(_ text: String) throws -> JSONValue {
        try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
    }

    func openAI(_ text: String) throws -> CompatCall { try OpenAIChatRequest.parse(json(text)) }
    func anthropic(_ text: String) throws -> CompatCall { try AnthropicMessagesRequest.parse(json(text)) }

    /// The parameter a refused body names.
    func refusal(_ parse: () throws -> CompatCall) -> CompatRequestError? {
        do {
            _ = try parse()
            return nil
        } catch let error as CompatRequestError {
            return error
        } catch {
            return CompatRequestError(param: "?", message: "\(error)")
        }
    }

    // MARK: OpenAI

    /// What agent frameworks send on every call: the OpenAI Agents SDK's `strict` tools,
    /// AutoGen's participant `name`s, `store: false` with `metadata`.
    @Test func openAIAgentFrameworkRequestsAreAccepted() throws {
        let call = try openAI("""
        {"model": "auto", "store": false, "metadata": {"run": "r-1"},
         "tools": [{"type": "function", "function": {"name": "get_weather", "strict": true,
                    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"], "additionalProperties": false}}}],
         "messages": [
          {"role": "system", "name": "planner", "content": "be brief"},
          {"role": "user", "name": "alice", "content": "Paris?"},
          {"role": "assistant", "name": "weather_agent", "content": "Checking."},
          {"role": "user", "name": "alice", "content": "thanks"}]}
        """)
        #expect(call.request.tools.first?.strict == true)
        #expect(call.request.system == "be brief")
        #expect(call.request.messages.map(\.content) == ["Paris?", "Checking.", "thanks"])
    }

    /// What the OpenAI cookbook and replayed OpenAI answers carry: the function's `name` on a
    /// `tool` message, an assistant message's `annotations`, a tool call's `index` (from the SDK's
    /// stream accumulator), and the newer `safety_identifier` and `prompt_cache_key`.
    @Test func openAICookbookAndReplayedFieldsAreAccepted() throws {
        let call = try openAI("""
        {"model": "auto", "safety_identifier": "user-hash-1", "prompt_cache_key": "weather-v1",
         "messages": [
          {"role": "user", "content": "Paris?"},
          {"role": "assistant", "content": null, "refusal": null, "annotations": [], "tool_calls": [
             {"index": 0, "id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}]},
          {"role": "tool", "tool_call_id": "c1", "name": "get_weather", "content": "18 C"}]}
        """)
        #expect(call.userId == "user-hash-1", "safety_identifier keeps routing sticky as user does")
        #expect(call.request.messages[2].blocks == [.toolResult(ToolResult(toolUseId: "c1", name: "get_weather", content: [.text("18 C")]))])
    }

    /// A system or developer message later in the conversation (agent frameworks add reminders
    /// and summaries there) stays where it is: OpenAI and Ollama models take it as it is, Anthropic
    /// models as user text in its place (Claude models before Opus 4.8 refuse a system message
    /// there), and Gemini models are kept out of the choice.
    @Test func aLaterSystemMessageStaysInPlace() throws {
        let call = try openAI("""
        {"model": "auto", "messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"},
                                      {"role": "assistant", "content": "Hello."}, {"role": "developer", "content": "Answer in French now."},
                                      {"role": "user", "content": "how are you?"}]}
        """)
        #expect(call.request.system == "be brief")
        #expect(call.request.messages.map(\.role) == [.user, .assistant, .system, .user])
        #expect(call.request.messages[2].content == "Answer in French now.")
        #expect(call.request.unsupportedFeatures(on: .openai).isEmpty && call.request.unsupportedFeatures(on: .ollama).isEmpty)
        #expect(call.request.unsupportedFeatures(on: .anthropic).isEmpty)
        #expect(call.request.unsupportedFeatures(on: .google).contains { $0.hasPrefix("a system message after the conversation started") })
        var request = call.request
        request.model = "claude"
        let turns = try #require(try JSONSerialization.jsonObject(with: Data(FastJSONEncoder().encode(AnthropicWireRequest(request, stream: false)))) as? [String: Any])
        let sent = turns["messages"] as? [[String: Any]] ?? []
        #expect(sent.map { $0["role"] as? String } == ["user", "assistant", "user"] && turns["system"] as? String == "be brief", "\(turns)")
        let texts = (sent.last?["content"] as? [[String: Any]] ?? []).map { $0["text"] as? String }
        #expect(texts == ["Answer in French now.", "how are you?"], "\(sent)")
    }

    /// On Anthropic's wire a system message before the first turn joins the system prompt, and one
    /// between a tool call and its result lands after the result, which Anthropic wants first.
    @Test func systemMessagesOnAnthropicsWire() throws {
        let call = try anthropic("""
        {"model": "m", "max_tokens": 50, "system": "Be brief.", "messages": [
          {"role": "system", "content": "Today is Monday."}, {"role": "user", "content": "time?"},
          {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "clock", "input": {}}]},
          {"role": "system", "content": "The clock may be slow."},
          {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "9:00"}, {"type": "text", "text": "well?"}]}]}
        """)
        let body = try #require(try JSONSerialization.jsonObject(with: Data(FastJSONEncoder().encode(AnthropicWireRequest(call.request, stream: false)))) as? [String: Any])
        #expect(body["system"] as? String == "Be brief.\n\nToday is Monday.")
        let turns = body["messages"] as? [[String: Any]] ?? []
        #expect(turns.map { $0["role"] as? String } == ["user", "assistant", "user"])
        let last = (turns.last?["content"] as? [[String: Any]] ?? []).map { ($0["type"] as? String ?? "") + ":" + ($0["text"] as? String ?? "") }
        #expect(last == ["tool_result:", "text:The clock may be slow.", "text:well?"], "\(last)")
    }

    /// What Claude Code sends (2.1.x, seen by other gateways): `context_management`, `betas` and
    /// `diagnostics` in the body, a breakpoint's `scope`, tools with `eager_input_streaming` and
    /// `strict`, and a `system` message inside the conversation. Accepted; what is carried, carried.
    @Test func claudeCodeRequestsAreAccepted() throws {
        let call = try anthropic("""
        {"model": "claude-sonnet-4-6", "max_tokens": 32000, "stream": true,
         "betas": ["interleaved-thinking-2025-05-14"], "diagnostics": {"session": "s-1"},
         "context_management": {"edits": [{"type": "clear_thinking_20251015", "keep": "all"}]},
         "system": [{"type": "text", "text": "You are Claude Code.", "cache_control": {"type": "ephemeral", "scope": "global"}}],
         "tools": [{"name": "Read", "description": "Reads a file", "input_schema": {"type": "object"}, "eager_input_streaming": true, "strict": true}],
         "thinking": {"type": "adaptive"}, "output_config": {"effort": "high"},
         "messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "Hello."},
                      {"role": "system", "content": "The user switched to plan mode."}, {"role": "user", "content": "go on"}]}
        """)
        #expect(call.request.messages.map(\.role) == [.user, .assistant, .system, .user])
        #expect(call.request.tools.first?.strict == true)
        #expect(call.request.thinking == ThinkingSetting(kind: .adaptive) && call.request.effort == "high")
        var wire = call.request
        wire.model = "claude-opus-4-7"
        let body = try #require(try JSONSerialization.jsonObject(with: Data(FastJSONEncoder().encode(AnthropicWireRequest(wire, stream: true)))) as? [String: Any])
        #expect(body["output_config"] as? NSDictionary == ["effort": "high"] && body["thinking"] as? NSDictionary == ["type": "adaptive"])
        wire.model = "gpt-5"
        let openAI = try #require(try JSONSerialization.jsonObject(with: Data(FastJSONEncoder().encode(OpenAIWireRequest(wire, stream: true, maxCompletionTokens: true)))) as? [String: Any])
        #expect(openAI["reasoning_effort"] as? String == "high" && openAI["output_config"] == nil)
        #expect(call.request.systemCacheBreak != nil)
        #expect(call.request.unsupportedFeatures(on: .anthropic).isEmpty)
        let image = refusal { try anthropic(#"{"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}, {"role": "system", "content": [{"type": "image", "source": {"type": "url", "url": "https://x/a.png"}}]}]}"#) }
        #expect(image?.message.contains("user messages only") == true, "\(String(describing: image))")
    }

    /// Structured outputs from an Anthropic client: `output_config.format` beside the effort, the
    /// beta's `output_format`, and what is refused.
    @Test func anthropicStructuredOutputs() throws {
        let schema = #"{"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"], "additionalProperties": false}"#
        let call = try anthropic("""
        {"model": "claude-sonnet-4-5", "max_tokens": 64, "messages": [{"role": "user", "content": "John?"}],
         "output_config": {"effort": "low", "format": {"type": "json_schema", "schema": \(schema)}}}
        """)
        #expect(call.request.responseFormat == .jsonSchema(name: "response", schema: try json(schema), strict: true) && call.request.effort == "low")
        let beta = try anthropic(#"{"model": "m", "max_tokens": 64, "messages": [{"role": "user", "content": "John?"}], "output_format": {"type": "json_schema", "schema": \#(schema)}}"#)
        #expect(beta.request.responseFormat == call.request.responseFormat)
        // To an OpenAI model: a strict json_schema, as the schema fits strict mode.
        var wire = call.request
        wire.model = "gpt-5"
        let openAI = try #require(try JSONSerialization.jsonObject(with: Data(FastJSONEncoder().encode(OpenAIWireRequest(wire, stream: false, maxCompletionTokens: true)))) as? [String: Any])
        let format = openAI["response_format"] as? [String: Any]
        #expect(format?["type"] as? String == "json_schema" && (format?["json_schema"] as? [String: Any])?["strict"] as? Bool == true, "\(openAI)")
        let bodies = [
            (#""output_config": {"format": {"type": "json_schema"}}"#, "output_config.format.schema"),
            (#""output_config": {"format": {"type": "json_object", "schema": {}}}"#, "output_config.format.type"),
            (#""output_config": {"format": {"type": "json_schema", "schema": \#(schema)}}, "output_format": {"type": "json_schema", "schema": \#(schema)}"#, "output_format"),
        ]
        for (field, param) in bodies {
            let error = refusal { try anthropic(#"{"model": "m", "max_tokens": 5, \#(field), "messages": [{"role": "user", "content": "hi"}]}"#) }
            #expect(error?.param == param, "\(field): \(String(describing: error))")
        }
    }

    @Test func openAIFullConversation() throws {
        let call = try openAI("""
        {"model": "auto", "user": "u-7", "stream": true, "stream_options": {"include_usage": true},
         "max_tokens": 50, "max_completion_tokens": 80, "temperature": 1.2, "top_p": 0.8, "stop": "END", "seed": 4,
         "presence_penalty": 0.5, "frequency_penalty": -0.5, "parallel_tool_calls": false,
         "response_format": {"type": "json_schema", "json_schema": {"name": "w", "schema": {"type": "object"}, "strict": true}},
         "tools": [{"type": "function", "function": {"name": "get_weather", "description": "d", "parameters": {"properties": {}}}},
                   {"type": "function", "function": {"name": "get_time"}}],
         "tool_choice": {"type": "function", "function": {"name": "get_time"}},
         "messages": [
          {"role": "system", "content": "be brief"},
          {"role": "developer", "content": [{"type": "text", "text": "use metric"}]},
          {"role": "user", "content": [{"type": "text", "text": "Paris?"}, {"type": "text", "text": ""},
                                       {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA", "detail": "low"}},
                                       {"type": "image_url", "image_url": {"url": "https://x.test/b.png"}}]},
          {"role": "assistant", "content": null, "tool_calls": [
             {"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": "{\\"city\\": \\"Paris\\"}"}},
             {"id": "c2", "type": "function", "function": {"name": "get_time", "arguments": ""}}]},
          {"role": "tool", "tool_call_id": "c1", "content": "18 C"},
          {"role": "tool", "tool_call_id": "c2", "content": [{"type": "text", "text": "noon"}]},
          {"role": "user", "content": "thanks"}]}
        """)
        #expect(call.model == "auto" && call.userId == "u-7" && call.stream && call.includeUsage)
        #expect(call.maxTokens == 80, "max_completion_tokens wins over max_tokens")
        let request = call.request
        #expect(request.system == "be brief\n\nuse metric")
        #expect(request.temperature == 1.2 && request.topP == 0.8 && request.stopSequences == ["END"] && request.seed == 4)
        #expect(request.presencePenalty == 0.5 && request.frequencyPenalty == -0.5 && request.parallelToolCalls == false)
        #expect(request.responseFormat == .jsonSchema(name: "w", schema: .object(["type": .string("object")]), strict: true))
        #expect(request.tools.map(\.name) == ["get_weather", "get_time"])
        #expect(request.tools[0].parameters == .object(["type": .string("object"), "properties": .object([:])]), "type object added")
        #expect(request.toolChoice == .tool("get_time"))
        #expect(request.messages.map(\.role) == [.user, .assistant, .user, .user, .user])
        #expect(request.messages[0].blocks == [.text("Paris?"), .image(.base64(mediaType: "image/png", data: "AAAA")), .image(.url("https://x.test/b.png"))])
        #expect(request.messages[0].imageDetails == [1: "low"], "the image's detail, by its block")
        #expect(request.messages[1].blocks == [
            .toolUse(ToolUse(id: "c1", name: "get_weather", input: .object(["city": .string("Paris")]))),
            .toolUse(ToolUse(id: "c2", name: "get_time", input: .object([:]))),
        ])
        #expect(request.messages[2].blocks == [.toolResult(ToolResult(toolUseId: "c1", name: "get_weather", content: [.text("18 C")]))])
        #expect(request.messages[3].toolResults.first?.name == "get_time" && request.messages[3].toolResults.first?.content == [.text("noon")])
        #expect(request.messages[4].content == "thanks")
        // Routing sees the last user text, the rest as context.
        #expect(call.routingText.prompt == "thanks")
        #expect(call.routingText.context?.hasPrefix("be brief\n\nuse metric\n\nParis?") == true)
    }

    @Test func openAIDefaults() throws {
        let call = try openAI(#"{"model": "gpt", "messages": [{"role": "user", "content": "hi"}], "response_format": {"type": "text"}, "n": 1}"#)
        #expect(call.maxTokens == nil && !call.stream && call.userId == nil && call.request.responseFormat == nil)
        #expect(call.request.system == nil && call.request.tools.isEmpty && call.request.toolChoice == nil)
        let choices = ["\"auto\"": ToolChoice.auto, "\"none\"": ToolChoice.none, "\"required\"": ToolChoice.required]
        for (text, choice) in choices {
            let parsed = try openAI(#"{"model": "m", "tool_choice": \#(text), "tools": [{"type": "function", "function": {"name": "f"}}], "messages": [{"role": "user", "content": "hi"}]}"#)
            #expect(parsed.request.toolChoice == choice)
        }
    }

    @Test("the values clients send on every request that ask for what fleetd does anyway are accepted")
    func defaultsAccepted() throws {
        let call = try openAI("""
        {"model": "m", "messages": [{"role": "user", "content": "hi"}], "modalities": ["text"], "service_tier": "auto",
         "logit_bias": {}, "top_logprobs": 0, "logprobs": false, "n": 1, "verbosity": "low", "store": false}
        """)
        #expect(call.request.messages.count == 1 && call.model == "m")
        let responses = try ResponsesRequest.parse(json(#"{"model": "m", "input": "hi", "service_tier": "auto", "top_logprobs": 0}"#))
        #expect(responses.request.messages.count == 1)
        let messages = try anthropic(#"{"model": "m", "max_tokens": 9, "service_tier": "auto", "messages": [{"role": "user", "content": "hi"}]}"#)
        #expect(messages.request.messages.count == 1)
        // Another value is refused, naming the parameter.
        let tier = refusal { try anthropic(#"{"model": "m", "max_tokens": 9, "service_tier": "standard_only", "messages": [{"role": "user", "content": "hi"}]}"#) }
        #expect(tier?.param == "service_tier" && tier?.message.contains("only 'auto'") == true, "\(String(describing: tier))")
        let responsesTier = refusal { try ResponsesRequest.parse(json(#"{"model": "m", "input": "hi", "service_tier": "priority"}"#)) }
        #expect(responsesTier?.param == "service_tier", "\(String(describing: responsesTier))")
    }

    @Test(arguments: [
        // An image in the system turn is refused clearly.
        (#"{"model": "m", "messages": [{"role": "system", "content": [{"type": "image_url", "image_url": {"url": "https://x/a.png"}}]}, {"role": "user", "content": "hi"}]}"#,
         "messages[0].content[0].type", "system"),
        (#"{"model": "m", "messages": [{"role": "user", "content": "hi"}, {"role": "tool", "tool_call_id": "nope", "content": "x"}]}"#,
         "messages[1].tool_call_id", "answers no tool call"),
        (#"{"model": "m", "messages": [{"role": "assistant", "tool_calls": [{"id": "a", "type": "function", "function": {"name": "f", "arguments": "[1]"}}]}]}"#,
         "messages[0].tool_calls[0].function.arguments", "JSON object"),
        (#"{"model": "m", "messages": [{"role": "user", "content": ""}]}"#, "messages[0].content", "must not be empty"),
        (#"{"model": "m", "messages": []}"#, "messages", "must not be empty"),
        (#"{"messages": [{"role": "user", "content": "hi"}]}"#, "model", "required"),
        (#"{"model": "m", "logit_bias": {"1": 2}, "messages": [{"role": "user", "content": "hi"}]}"#, "logit_bias", "token ids"),
        (#"{"model": "m", "n": 2, "messages": [{"role": "user", "content": "hi"}]}"#, "n", "one choice"),
        (#"{"model": "m", "modalities": ["text", "audio"], "messages": [{"role": "user", "content": "hi"}]}"#, "modalities", "only text"),
        (#"{"model": "m", "service_tier": "flex", "messages": [{"role": "user", "content": "hi"}]}"#, "service_tier", "only 'auto'"),
        (#"{"model": "m", "top_logprobs": 3, "messages": [{"role": "user", "content": "hi"}]}"#, "top_logprobs", "not relayed"),
        (#"{"model": "m", "verbosity": "terse", "messages": [{"role": "user", "content": "hi"}]}"#, "verbosity", "low, medium or high"),
        (#"{"model": "m", "prediction": {"type": "content", "content": "x"}, "messages": [{"role": "user", "content": "hi"}]}"#, "prediction", "only at OpenAI"),
        (#"{"model": "m", "temperature": 2.5, "messages": [{"role": "user", "content": "hi"}]}"#, "temperature", "between 0 and 2"),
        (#"{"model": "m", "max_tokens": 0, "messages": [{"role": "user", "content": "hi"}]}"#, "max_tokens", "at least 1"),
        (#"{"model": "m", "store": true, "messages": [{"role": "user", "content": "hi"}]}"#, "store", "stores no completions"),
        (#"{"model": "m", "tools": [{"type": "function", "function": {"name": "f"}}], "tool_choice": {"type": "function", "function": {"name": "g"}}, "messages": [{"role": "user", "content": "hi"}]}"#,
         "tool_choice.function.name", "names no tool"),
        (#"{"model": "m", "tool_choice": "required", "messages": [{"role": "user", "content": "hi"}]}"#, "tool_choice", "names no tool to call"),
        (#"{"model": "m", "messages": [{"role": "user", "content": [{"type": "input_audio", "input_audio": {}}]}]}"#, "messages[0].content[0].type", "not carried"),
        (#"{"model": "m", "messages": [{"role": "function", "content": "x"}]}"#, "messages[0].role", "tool"),
        (#"{"model": "m", "messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "https://x/a.png", "detail": "tiny"}}]}]}"#,
         "messages[0].content[0].image_url.detail", "low, high or auto"),
    ])
    func openAIRefusals(body: String, param: String, says: String) {
        let error = refusal { try openAI(body) }
        #expect(error?.param == param, "\(String(describing: error))")
        #expect(error?.message.contains(says) == true, "\(String(describing: error))")
    }

    // MARK: Anthropic

    @Test func anthropicFullConversation() throws {
        let call = try anthropic("""
        {"model": "claude", "max_tokens": 99, "stream": true, "metadata": {"user_id": "u-9"},
         "system": [{"type": "text", "text": "be brief", "cache_control": {"type": "ephemeral"}}, {"type": "text", "text": "metric"}],
         "temperature": 0.3, "top_p": 0.7, "top_k": 40, "stop_sequences": ["END", "STOP"],
         "tools": [{"name": "get_weather", "description": "d", "input_schema": {"type": "object"}}, {"type": "custom", "name": "get_time", "input_schema": {"type": "object"}}],
         "tool_choice": {"type": "any", "disable_parallel_tool_use": true},
         "messages": [
          {"role": "user", "content": [{"type": "image", "source": {"type": "base64", "media_type": "image/jpeg", "data": "/9j/"}},
                                       {"type": "image", "source": {"type": "url", "url": "https://x.test/a.png"}}, {"type": "text", "text": "where?"}]},
          {"role": "assistant", "content": [{"type": "text", "text": "Checking."},
             {"type": "tool_use", "id": "t1", "name": "get_weather", "input": {"city": "Paris"}},
             {"type": "tool_use", "id": "t2", "name": "get_time", "input": {}}]},
          {"role": "user", "content": [
             {"type": "tool_result", "tool_use_id": "t1", "content": "18 C"},
             {"type": "tool_result", "tool_use_id": "t2", "is_error": true, "content": [{"type": "text", "text": "offline"},
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AA"}}]},
             {"type": "text", "text": "and tomorrow?"}]}]}
        """)
        #expect(call.model == "claude" && call.maxTokens == 99 && call.stream && call.userId == "u-9")
        let request = call.request
        #expect(request.system == "be brief\n\nmetric")
        #expect(request.temperature == 0.3 && request.topP == 0.7 && request.topK == 40 && request.stopSequences == ["END", "STOP"])
        #expect(request.tools.map(\.name) == ["get_weather", "get_time"])
        #expect(request.toolChoice == .required && request.parallelToolCalls == false)
        #expect(request.messages.map(\.role) == [.user, .assistant, .user])
        #expect(request.messages[0].blocks == [.image(.base64(mediaType: "image/jpeg", data: "/9j/")), .image(.url("https://x.test/a.png")), .text("where?")])
        #expect(request.messages[1].toolUses.map(\.id) == ["t1", "t2"])
        #expect(request.messages[1].toolUses[0].input == .object(["city": .string("Paris")]))
        let results = request.messages[2].toolResults
        #expect(results[0] == ToolResult(toolUseId: "t1", name: "get_weather", content: [.text("18 C")]))
        #expect(results[1].isError && results[1].name == "get_time" && results[1].content.count == 2 && results[1].hasImage)
        #expect(request.messages[2].blocks.last == .text("and tomorrow?"))
    }

    /// The request-level `cache_control` the Anthropic SDK's `messages.create` takes (automatic
    /// caching) is carried as the request's mark (and accepted on count_tokens, which parses the
    /// same body); a malformed one is refused.
    @Test func anthropicTopLevelCacheControlIsCarried() throws {
        let call = try anthropic(#"{"model": "m", "max_tokens": 5, "cache_control": {"type": "ephemeral"}, "messages": [{"role": "user", "content": "hi"}]}"#)
        #expect(call.request.messages.map(\.blocks) == [[.text("hi")]])
        #expect(call.request.cacheMark == CacheMark())
        let wrong = refusal { try anthropic(#"{"model": "m", "max_tokens": 5, "cache_control": "ephemeral", "messages": [{"role": "user", "content": "hi"}]}"#) }
        #expect(wrong?.param == "cache_control", "\(String(describing: wrong))")
        let ttl = refusal { try anthropic(#"{"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": [{"type": "text", "text": "hi", "cache_control": {"type": "ephemeral", "ttl": "2h"}}]}]}"#) }
        #expect(ttl?.param == "messages[0].content[0].cache_control.ttl", "\(String(describing: ttl))")
    }

    /// Breakpoints as a coding agent sends them: on the last tool, the last system block, and the
    /// latest turns (an empty text block's goes to the block before it; one inside a tool result,
    /// to the result).
    @Test func anthropicCacheBreakpointsAreKeptWhereTheClientPutThem() throws {
        let call = try anthropic("""
        {"model": "m", "max_tokens": 5,
         "tools": [{"name": "read", "input_schema": {"type": "object"}},
                   {"name": "edit", "input_schema": {"type": "object"}, "cache_control": {"type": "ephemeral", "ttl": "1h"}}],
         "system": [{"type": "text", "text": "You are a coding agent."},
                    {"type": "text", "text": "Repository notes.", "cache_control": {"type": "ephemeral"}},
                    {"type": "text", "text": "Today is Monday."}],
         "messages": [
          {"role": "user", "content": [{"type": "text", "text": "read main.swift"}, {"type": "text", "text": "", "cache_control": {"type": "ephemeral"}}]},
          {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "read", "input": {}}]},
          {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1",
                                        "content": [{"type": "text", "text": "let x = 1", "cache_control": {"type": "ephemeral"}}]},
                                       {"type": "text", "text": "now edit it"}]}]}
        """)
        let request = call.request
        #expect(request.tools.map(\.cacheMark) == [nil, CacheMark(ttl: "1h")])
        #expect(request.system == "You are a coding agent.\n\nRepository notes.\n\nToday is Monday.")
        #expect(request.systemCacheBreak == SystemCacheBreak(mark: CacheMark(), textAfter: "Today is Monday."), "the date stays after the breakpoint")
        #expect(request.messages[0].blocks == [.text("read main.swift")] && request.messages[0].cacheMarks == [0: CacheMark()])
        #expect(request.messages[1].cacheMarks == nil)
        #expect(request.messages[2].cacheMarks == [0: CacheMark()])
        #expect(request.cacheMark == nil)
    }

    @Test func anthropicToolChoices() throws {
        let base = #""model": "m", "max_tokens": 5, "tools": [{"name": "f", "input_schema": {"type": "object"}}], "messages": [{"role": "user", "content": "hi"}]"#
        #expect(try anthropic("{\(base), \"tool_choice\": {\"type\": \"auto\"}}").request.toolChoice == .auto)
        #expect(try anthropic("{\(base), \"tool_choice\": {\"type\": \"none\"}}").request.toolChoice == ToolChoice.none)
        #expect(try anthropic("{\(base), \"tool_choice\": {\"type\": \"tool\", \"name\": \"f\"}}").request.toolChoice == .tool("f"))
        #expect(try anthropic("{\(base)}").request.parallelToolCalls == nil)
    }

    @Test(arguments: [
        (#"{"model": "m", "max_tokens": 5, "system": [{"type": "image", "source": {"type": "url", "url": "https://x/a.png"}}], "messages": [{"role": "user", "content": "hi"}]}"#,
         "system[0].type", "system"),
        (#"{"model": "m", "messages": [{"role": "user", "content": "hi"}]}"#, "max_tokens", "required"),
        (#"{"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": [{"type": "tool_result", "tool_use_id": "zz", "content": "x"}]}]}"#,
         "messages[0].content[0].tool_use_id", "answers no tool_use"),
        (#"{"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": [{"type": "tool_use", "id": "a", "name": "f", "input": {}}]}]}"#,
         "messages[0].content[0].type", "assistant"),
        (#"{"model": "m", "max_tokens": 5, "messages": [{"role": "assistant", "content": [{"type": "tool_result", "tool_use_id": "a"}]}]}"#,
         "messages[0].content[0].type", "user messages"),
        (#"{"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": [{"type": "search_result", "source": "s"}]}]}"#,
         "messages[0].content[0].type", "not carried"),
        (#"{"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": [{"type": "document", "source": {"type": "base64", "media_type": "image/png", "data": "AA"}}]}]}"#,
         "messages[0].content[0].source.media_type", "application/pdf"),
        (#"{"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": [{"type": "document", "source": {"type": "file", "file_id": "f"}}]}]}"#,
         "messages[0].content[0].source.type", "base64, text or url"),
        (#"{"model": "m", "max_tokens": 5, "thinking": {"type": "enabled", "budget_tokens": 1024}, "messages": [{"role": "user", "content": "hi"}]}"#,
         "thinking.budget_tokens", "less than 'max_tokens' (5)"),
        (#"{"model": "m", "max_tokens": 5000, "thinking": {"type": "enabled", "budget_tokens": 512}, "messages": [{"role": "user", "content": "hi"}]}"#,
         "thinking.budget_tokens", "at least 1024"),
        (#"{"model": "m", "max_tokens": 5000, "thinking": {"type": "enabled"}, "messages": [{"role": "user", "content": "hi"}]}"#,
         "thinking.budget_tokens", "required"),
        (#"{"model": "m", "max_tokens": 5000, "thinking": {"type": "always"}, "messages": [{"role": "user", "content": "hi"}]}"#,
         "thinking.type", "enabled, adaptive or disabled"),
        (#"{"model": "m", "max_tokens": 5000, "thinking": {"type": "adaptive", "display": "full"}, "messages": [{"role": "user", "content": "hi"}]}"#,
         "thinking.display", "summarized or omitted"),
        (#"{"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": [{"type": "thinking", "thinking": "x", "signature": "s"}]}]}"#,
         "messages[0].content[0].type", "assistant messages"),
        (#"{"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": [{"type": "thinking", "thinking": "x"}]}]}"#,
         "messages[1].content[0].signature", "required"),
        (#"{"model": "m", "max_tokens": 5, "tools": [{"type": "web_search_20250305", "name": "web_search"}], "messages": [{"role": "user", "content": "hi"}]}"#,
         "tools[0].type", "server tools"),
        (#"{"model": "m", "max_tokens": 5, "temperature": 1.5, "messages": [{"role": "user", "content": "hi"}]}"#, "temperature", "between 0 and 1"),
        (#"{"model": "m", "max_tokens": 5, "messages": [{"role": "developer", "content": "x"}]}"#, "messages[0].role", "user, assistant or system"),
        (#"{"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": []}]}"#, "messages[0].content", "must not be empty"),
        (#"{"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": [{"type": "image", "source": {"type": "file", "file_id": "f"}}]}]}"#,
         "messages[0].content[0].source.type", "base64 or url"),
    ])
    func anthropicRefusals(body: String, param: String, says: String) {
        let error = refusal { try anthropic(body) }
        #expect(error?.param == param, "\(String(describing: error))")
        #expect(error?.message.contains(says) == true, "\(String(describing: error))")
    }

    @Test func anEmptyAssistantTurnIsKeptEmptyAndEncodersLeaveItOut() throws {
        let call = try anthropic(#"{"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": ""}]}"#)
        #expect(call.request.messages.last?.blocks.isEmpty == true)
        #expect(call.request.continuesLastAssistantTurn == nil, "nothing to continue")
    }

    /// A final assistant message on /v1/messages is a prefill the answer continues (so models that
    /// would answer after it are kept out); on /v1/chat/completions it is history.
    @Test func aFinalAssistantMessageIsAPrefillOnlyInAnthropicsDialect() throws {
        let messages = #"[{"role": "user", "content": "List 3 colours as JSON"}, {"role": "assistant", "content": "{\"colours\": ["}]"#
        let anthropicCall = try anthropic(#"{"model": "auto", "max_tokens": 50, "messages": \#(messages)}"#)
        #expect(anthropicCall.request.continuesLastAssistantTurn == true)
        #expect(!anthropicCall.request.unsupportedFeatures(on: .openai).isEmpty)
        let openAICall = try openAI(#"{"model": "auto", "messages": \#(messages)}"#)
        #expect(openAICall.request.continuesLastAssistantTurn == nil)
        #expect(openAICall.request.unsupportedFeatures(on: .openai).isEmpty)
    }

    // MARK: Documents

    /// PDFs (inline or by URL) and plain-text documents, in a user turn or a tool result: every
    /// model gets a text document as text; Anthropic gets each as a document, OpenAI an inline PDF
    /// as a file and Gemini as inline data; what a format cannot carry keeps its models out.
    @Test func documentsAreReadAndCarriedWhereTheyCanBe() throws {
        let call = try anthropic("""
        {"model": "m", "max_tokens": 50, "messages": [
          {"role": "user", "content": [
            {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0xLjQK"}, "title": "spec.pdf", "citations": {"enabled": false}},
            {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "Chapter one."}, "title": "Notes", "cache_control": {"type": "ephemeral"}},
            {"type": "text", "text": "Summarise both."}]}]}
        """)
        let blocks = call.request.messages[0].blocks
        #expect(blocks.first == .document(Document(source: .base64(mediaType: "application/pdf", data: "JVBERi0xLjQK"), title: "spec.pdf", citations: false)))
        #expect(call.request.hasPDFs && !call.request.hasImages)
        #expect(call.request.unsupportedFeatures(on: .anthropic).isEmpty && call.request.unsupportedFeatures(on: .openai).isEmpty
                && call.request.unsupportedFeatures(on: .google).isEmpty)
        #expect(call.request.unsupportedFeatures(on: .ollama).contains { $0.hasPrefix("PDF documents") })
        #expect(call.request.unsupportedFeatures(on: .xai).contains { $0.hasPrefix("PDF documents") })
        var request = call.request
        request.model = "m"
        let anthropicBody = try #require(try JSONSerialization.jsonObject(with: Data(FastJSONEncoder().encode(AnthropicWireRequest(request, stream: false)))) as? [String: Any])
        let sent = ((anthropicBody["messages"] as? [[String: Any]])?.first?["content"] as? [[String: Any]]) ?? []
        #expect(sent[0] as NSDictionary == ["type": "document", "title": "spec.pdf", "citations": ["enabled": false],
                                            "source": ["type": "base64", "media_type": "application/pdf", "data": "JVBERi0xLjQK"]])
        #expect(sent[1]["source"] as? NSDictionary == ["type": "text", "media_type": "text/plain", "data": "Chapter one."] && sent[1]["cache_control"] != nil)
        let openAIBody = try #require(try JSONSerialization.jsonObject(with: Data(FastJSONEncoder().encode(OpenAIWireRequest(request, stream: false, maxCompletionTokens: true)))) as? [String: Any])
        let parts = ((openAIBody["messages"] as? [[String: Any]])?.first?["content"] as? [[String: Any]]) ?? []
        #expect(parts.map { $0["type"] as? String } == ["file", "text", "text"])
        #expect(parts[0]["file"] as? NSDictionary == ["filename": "spec.pdf", "file_data": "data:application/pdf;base64,JVBERi0xLjQK"])
        #expect(parts[1]["text"] as? String == "Notes\n\nChapter one.")
        let gemini = String(decoding: try FastJSONEncoder().encode(GeminiWireRequest(request)), as: UTF8.self)
        #expect(gemini.contains(#""inlineData":{"data":"JVBERi0xLjQK","mimeType":"application\/pdf"}"#) || gemini.contains(#""mimeType":"application/pdf""#), "\(gemini)")

        let byURL = try anthropic(#"{"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": [{"type": "document", "source": {"type": "url", "url": "https://x.test/a.pdf"}}, {"type": "text", "text": "hi"}]}]}"#)
        #expect(byURL.request.unsupportedFeatures(on: .anthropic).isEmpty)
        #expect(byURL.request.unsupportedFeatures(on: .openai).contains { $0.hasPrefix("PDF URLs") })
        #expect(byURL.request.unsupportedFeatures(on: .google).contains { $0.hasPrefix("PDF URLs") })
        // In a tool result (Claude Code's Read of a PDF): Anthropic only.
        let read = try anthropic("""
        {"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "read it"},
          {"role": "assistant", "content": [{"type": "tool_use", "id": "r1", "name": "Read", "input": {"file_path": "a.pdf"}}]},
          {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "r1", "content": [{"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0xLjQK"}}]}]}]}
        """)
        #expect(read.request.unsupportedFeatures(on: .anthropic).isEmpty)
        #expect(read.request.unsupportedFeatures(on: .openai).contains { $0.hasPrefix("PDFs inside tool results") })
        #expect(read.request.unsupportedFeatures(on: .ollama).contains { $0.hasPrefix("PDF documents") } && read.request.hasPDFs)
        let cited = refusal { try anthropic(#"{"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": [{"type": "document", "source": {"type": "text", "data": "x"}, "citations": {"enabled": true}}]}]}"#) }
        #expect(cited?.param == "messages[0].content[0].citations.enabled" && cited?.message.contains("not relayed") == true, "\(String(describing: cited))")
        #expect(read.request.approximateInputTokens >= ProviderRequest.approximateTokensPerImage, "a PDF counts at least as a page")
    }

    // MARK: Extended thinking

    @Test func openAIReasoningEffortIsReadAndCheckedAgainstItsValues() throws {
        let call = try openAI(#"{"model": "auto", "reasoning_effort": "high", "messages": [{"role": "user", "content": "hi"}]}"#)
        #expect(call.request.reasoningEffort == "high")
        let most = try openAI(#"{"model": "auto", "reasoning_effort": "max", "messages": [{"role": "user", "content": "hi"}]}"#)
        #expect(most.request.reasoningEffort == "xhigh", "max, the SDK's newest value, as the most every format takes")
        let error = refusal { try openAI(#"{"model": "auto", "reasoning_effort": "extreme", "messages": [{"role": "user", "content": "hi"}]}"#) }
        #expect(error?.param == "reasoning_effort" && error?.message.contains("none, minimal, low, medium, high, xhigh or max") == true,
                "\(String(describing: error))")
    }

    /// The request a real client sent in a thinking tool loop (recorded; Tests/Fixtures/providers):
    /// its `thinking` setting and its assistant turn, the thinking block with its signature before
    /// the tool call, reach an Anthropic model exactly as the client sent them.
    @Test func aRecordedThinkingToolTurnGoesBackToAnthropicUnchanged() throws {
        let recorded = try FixturePaths.data("providers/anthropic-request-thinking-tool-use-turn2-recorded.json")
        let call = try AnthropicMessagesRequest.parse(JSONDecoder().decode(JSONValue.self, from: recorded))
        #expect(call.request.thinking == ThinkingSetting(kind: .enabled, budgetTokens: 1_024, display: "summarized"))
        var request = call.request
        request.model = "claude-haiku-4-5-20251001"
        request.maxTokens = try #require(call.maxTokens)
        let sentBytes = try FastJSONEncoder().encode(AnthropicWireRequest(request, stream: true))
        let sent = try #require(try JSONSerialization.jsonObject(with: Data(sentBytes)) as? [String: Any])
        let original = try #require(try JSONSerialization.jsonObject(with: recorded) as? [String: Any])
        let sentThinking = sent["thinking"] as? NSDictionary
        #expect(sentThinking == original["thinking"] as? NSDictionary, "\(String(describing: sentThinking))")
        let sentTurns = sent["messages"] as? [NSDictionary] ?? []
        let originalTurns = original["messages"] as? [NSDictionary] ?? []
        #expect(sentTurns.count == 3 && originalTurns.count == 3)
        #expect(sentTurns.count == 3 && sentTurns[1] == originalTurns[1], "\(sentTurns)")
        #expect(sent["max_tokens"] as? Int == 64_000)
    }

    @Test func thinkingSettingsAndBlocksAreRead() throws {
        let adaptive = try anthropic(#"{"model": "m", "max_tokens": 5, "thinking": {"type": "adaptive"}, "messages": [{"role": "user", "content": "hi"}]}"#)
        #expect(adaptive.request.thinking == ThinkingSetting(kind: .adaptive))
        let off = try anthropic(#"{"model": "m", "max_tokens": 5, "thinking": {"type": "disabled"}, "messages": [{"role": "user", "content": "hi"}]}"#)
        #expect(off.request.thinking == ThinkingSetting(kind: .disabled))
        let redacted = try anthropic("""
        {"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"},
         {"role": "assistant", "content": [{"type": "redacted_thinking", "data": "EqkE"}, {"type": "text", "text": "Hello."}]},
         {"role": "user", "content": "again"}]}
        """)
        #expect(redacted.request.messages[1].blocks == [.redactedThinking(data: "EqkE"), .text("Hello.")])
        #expect(redacted.routingText.context?.contains("EqkE") == false, "a model's thinking is not scored as the task's text")
    }
}
