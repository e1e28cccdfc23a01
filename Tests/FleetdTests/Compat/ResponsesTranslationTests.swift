import Agents
import FleetSupport
import Foundation
import NIOCore
@testable import Providers
import Testing
@testable import fleetd

/// OpenAI's Responses API (`POST /v1/responses`): a body → ProviderRequest, item by item; what it
/// refuses, naming the parameter; a task's answer → the `response` object and its event stream.
@Suite struct ResponsesTranslationTests {
    func parse(_ text: String) throws -> CompatCall {
        try ResponsesRequest.parse(try JSONValue.parse(text: text))
    }

    func refusal(_ text: String) -> CompatRequestError? {
        do {
            _ = try parse(text)
            return nil
        } catch let error as CompatRequestError {
            return error
        } catch {
            return CompatRequestError(param: "?", message: "\(error)")
        }
    }

    /// A conversation as the OpenAI Agents SDK sends its second turn: the first turn's output
    /// items (reasoning, message, function call) back as input, the call's output after them.
    @Test func anAgentsSDKTurnReachesTheProviderWhole() throws {
        let call = try parse("""
        {"model": "auto", "instructions": "You are a weather agent.", "store": false, "include": ["reasoning.encrypted_content"],
         "prompt_cache_key": "k", "truncation": "disabled", "user": "u-1", "max_output_tokens": 300, "parallel_tool_calls": false,
         "reasoning": {"effort": "low", "summary": "auto"}, "text": {"format": {"type": "json_schema", "name": "Weather", "strict": true,
           "schema": {"type": "object", "properties": {"temp": {"type": "number"}}, "required": ["temp"], "additionalProperties": false}},
           "verbosity": "medium"},
         "tools": [{"type": "function", "name": "get_weather", "description": "d", "strict": true,
                    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}],
         "tool_choice": {"type": "function", "name": "get_weather"},
         "input": [
          {"role": "developer", "content": "Use metric units."},
          {"role": "user", "content": [{"type": "input_text", "text": "Weather in Paris?"},
                                       {"type": "input_image", "image_url": "https://example.com/a.png", "detail": "low"}]},
          {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": "opaque"},
          {"type": "message", "id": "msg_1", "role": "assistant", "status": "completed",
           "content": [{"type": "output_text", "text": "Checking.", "annotations": [], "logprobs": []}]},
          {"type": "function_call", "id": "fc_1", "call_id": "call_1", "name": "get_weather", "arguments": "{\\"city\\":\\"Paris\\"}", "status": "completed"},
          {"type": "function_call_output", "call_id": "call_1", "output": "18 degrees"}
         ]}
        """)
        let request = call.request
        #expect(request.system == "You are a weather agent.\n\nUse metric units.")
        #expect(request.messages.map(\.role) == [.user, .assistant, .user])
        #expect(request.messages[0].blocks.count == 2 && request.messages[0].imageDetails == [1: "low"])
        // The reasoning item is not sent back; the call joins the assistant's message.
        #expect(request.messages[1].blocks == [.text("Checking."),
                                               .toolUse(ToolUse(id: "call_1", name: "get_weather", input: .object(["city": .string("Paris")])))])
        #expect(request.messages[2].blocks == [.toolResult(ToolResult(toolUseId: "call_1", name: "get_weather", content: [.text("18 degrees")]))])
        #expect(request.tools.map(\.name) == ["get_weather"] && request.tools.first?.strict == true)
        #expect(request.toolChoice == .tool("get_weather") && request.parallelToolCalls == false)
        #expect(request.reasoningEffort == "low")
        guard case .jsonSchema(let name, _, let strict)? = request.responseFormat else {
            Issue.record("no json_schema format: \(String(describing: request.responseFormat))")
            return
        }
        #expect(name == "Weather" && strict == true)
        #expect(call.maxTokens == 300 && call.userId == "u-1" && !call.stream)
        #expect(call.echo["instructions"] == .string("You are a weather agent.") && call.echo["max_output_tokens"] == .number(300))
    }

    /// Parallel calls replayed as items are one assistant message with both calls, and their
    /// outputs one turn: Chat Completions refuses an assistant message per call. A function
    /// without `strict` is strict, as the Responses API has it.
    @Test func parallelCallsJoinTheirTurn() throws {
        let call = try parse("""
        {"model": "auto", "tools": [{"type": "function", "name": "get_weather", "parameters": {"type": "object", "properties": {}}},
                                    {"type": "function", "name": "get_time", "strict": false, "defer_loading": false}],
         "input": [
          {"role": "user", "content": "Weather and time in Paris?"},
          {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Checking both."}]},
          {"type": "function_call", "call_id": "c1", "name": "get_weather", "arguments": "{}", "caller": {"type": "direct"}},
          {"type": "function_call", "call_id": "c2", "name": "get_time", "arguments": "{}"},
          {"type": "function_call_output", "call_id": "c1", "output": "18 degrees"},
          {"type": "function_call_output", "call_id": "c2", "output": [{"type": "input_text", "text": "14:00"}], "name": "get_time"},
          {"role": "user", "content": "Thanks"}
         ]}
        """)
        let messages = call.request.messages
        #expect(messages.map(\.role) == [.user, .assistant, .user, .user])
        #expect(messages[1].blocks.count == 3 && messages[2].blocks.count == 2, "\(messages)")
        #expect(call.request.tools.map(\.strict) == [true, false])
        let wire = OpenAIWireRequest.messages(for: messages[1])
        #expect(wire.count == 1 && wire.first?.tool_calls?.count == 2)
        #expect(OpenAIWireRequest.messages(for: messages[2]).map(\.role) == ["tool", "tool"])
    }

    @Test func aStringInputIsOneUserTurn() throws {
        let call = try parse(#"{"model": "auto", "input": "hi", "instructions": "be brief", "stream": true}"#)
        #expect(call.request.messages == [ProviderMessage(role: .user, content: "hi")])
        #expect(call.request.system == "be brief" && call.stream)
    }

    /// What needs a stored response, OpenAI's own tools and anything unknown: a 400 naming it.
    @Test func whatFleetdCannotDoIsRefusedNamingIt() {
        let cases: [(String, String)] = [
            (#"{"model": "auto", "input": "hi", "conversation": "conv_1"}"#, "conversation"),
            (#"{"model": "auto", "input": "hi", "background": true}"#, "background"),
            (#"{"model": "auto", "input": "hi", "tools": [{"type": "web_search"}]}"#, "tools[0].type"),
            (#"{"model": "auto", "input": [{"type": "item_reference", "id": "msg_1"}]}"#, "input[0].type"),
            (#"{"model": "auto", "input": [{"type": "function_call_output", "call_id": "c", "output": "x"}]}"#, "input[0].call_id"),
            (#"{"model": "auto", "input": [{"role": "system", "content": "only a system prompt"}]}"#, "input"),
            (#"{"model": "auto", "input": [{"role": "user", "content": [{"type": "input_file", "file_id": "f"}]}]}"#, "input[0].content[0].type"),
            (#"{"model": "auto", "input": [{"type": "computer_call_output", "call_id": "c"}]}"#, "input[0].type"),
            (#"{"model": "auto", "input": "hi", "include": ["message.output_text.logprobs"]}"#, "include"),
            (#"{"model": "auto", "input": "hi", "tool_choice": "required"}"#, "tool_choice"),
            (#"{"model": "auto", "input": "hi", "text": {"format": {"type": "json_schema", "name": "x"}}}"#, "text.format.schema"),
            (#"{"model": "auto"}"#, "input"),
            (#"{"model": "auto", "input": "hi", "frequency": 1}"#, "frequency"),
        ]
        for (body, param) in cases {
            #expect(refusal(body)?.param == param, "\(body)")
        }
    }

    /// A continued conversation: the kept turns first, and an output may answer a call among them.
    @Test func aContinuationFollowsTheKeptConversation() throws {
        let earlier = [ProviderMessage(role: .user, content: "Weather in Paris?"),
                       ProviderMessage(role: .assistant, blocks: [.toolUse(ToolUse(id: "c1", name: "get_weather", input: .object([:])))])]
        let call = try ResponsesRequest.parse(try JSONValue.parse(text: """
            {"model": "auto", "previous_response_id": "resp_task-1", "store": false, "instructions": "Be brief.",
             "input": [{"type": "function_call_output", "call_id": "c1", "output": "18 degrees"}]}
            """), earlier: earlier, earlierSystem: "Use metric units.")
        // The kept conversation's system text stays; its instructions are this request's.
        #expect(call.request.system == "Be brief.\n\nUse metric units." && call.keptSystem == "Use metric units.")
        #expect(call.request.messages.count == 3 && call.request.messages.prefix(2) == earlier[...])
        #expect(call.request.messages[2].blocks == [.toolResult(ToolResult(toolUseId: "c1", name: "get_weather", content: [.text("18 degrees")]))])
        #expect(call.previousResponseId == "resp_task-1" && !call.keep && call.echo["store"] == .bool(false))
        #expect(try parse(#"{"model": "auto", "input": "hi"}"#).keep, "kept unless store is false, as OpenAI's default is")
        #expect(refusal(#"{"model": "auto", "input": [], "previous_response_id": "resp_1"}"#)?.param == "input")
    }

    /// Whose a kept response is: two token users of one tenant, or two keys, are different owners.
    @Test func ownersAreTheCallersAsAuthenticated() {
        let alice = TaskCaller(label: "token of user alice", tenantId: "acme", userId: "alice")
        let bob = TaskCaller(label: "token of user bob", tenantId: "acme", userId: "bob")
        #expect(ResponsesStore.owner(alice, tenantHeader: nil) != ResponsesStore.owner(bob, tenantHeader: nil))
        #expect(ResponsesStore.owner(nil, tenantHeader: "acme") != ResponsesStore.owner(nil, tenantHeader: "globex"))
        #expect(ResponsesStore.owner(alice, tenantHeader: "globex") == ResponsesStore.owner(alice, tenantHeader: nil), "a caller's own tenant wins")
    }

    // MARK: Answers

    static let facts = CompatFacts(taskId: "task-1", model: "claude-cheap", provider: .anthropic, cost: 0.01, fallbacks: [])

    static func answer(text: String = "Hello", calls: [ToolUse] = [], stop: StopReason = .endTurn) -> CompatAnswer {
        CompatAnswer(taskId: "task-1", model: "claude-cheap", text: text, toolCalls: calls, stop: stop,
                     inputTokens: 120, cachedTokens: 20, outputTokens: 30, facts: facts)
    }

    func object(_ value: JSONValue) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(try JSONEncoder().encode(value))) as? [String: Any] ?? [:]
    }

    @Test func theWholeAnswer() throws {
        let calls = [ToolUse(id: "call_a", name: "get_weather", input: .object(["city": .string("Paris")]))]
        let body = try object(ResponsesResponse.response(Self.answer(text: "Checking.", calls: calls, stop: .toolUse), created: 1_700_000_000,
                                                         echo: ["instructions": .string("be brief")]))
        #expect(body["id"] as? String == "resp_task-1" && body["object"] as? String == "response" && body["status"] as? String == "completed")
        #expect(body["created_at"] as? Int == 1_700_000_000 && body["instructions"] as? String == "be brief" && body["store"] as? Bool == false)
        let output = try #require(body["output"] as? [[String: Any]])
        #expect(output.map { $0["type"] as? String } == ["message", "function_call"])
        #expect(((output[0]["content"] as? [[String: Any]])?.first)?["text"] as? String == "Checking.")
        #expect(output[1]["call_id"] as? String == "call_a" && output[1]["arguments"] as? String == #"{"city":"Paris"}"#)
        let usage = try #require(body["usage"] as? [String: Any])
        #expect(usage["input_tokens"] as? Int == 120 && usage["output_tokens"] as? Int == 30 && usage["total_tokens"] as? Int == 150)
        #expect((usage["input_tokens_details"] as? [String: Any])?["cached_tokens"] as? Int == 20)

        let cut = try object(ResponsesResponse.response(Self.answer(stop: .maxTokens), created: 0, echo: [:]))
        #expect(cut["status"] as? String == "incomplete")
        #expect((cut["incomplete_details"] as? [String: Any])?["reason"] as? String == "max_output_tokens")
        let refused = try object(ResponsesResponse.response(Self.answer(text: "I can't help with that.", stop: .refusal), created: 0, echo: [:]))
        let part = try #require((((refused["output"] as? [[String: Any]])?.first)?["content"] as? [[String: Any]])?.first)
        #expect(part["type"] as? String == "refusal" && part["refusal"] as? String == "I can't help with that.")
    }

    /// SSE text as (event name, data object) pairs.
    func events(_ buffer: ByteBuffer) -> [(String?, [String: Any])] {
        CompatResponseTranslationTests().events(buffer).map { ($0.0, $0.1 ?? [:]) }
    }

    /// Thinking, text and a tool call: each an output item, added before its deltas and done
    /// before the next; the final response's output is the items told done, ids and all.
    @Test func theStreamTellsEachItemInItsPlace() throws {
        var stream = ResponsesResponse.Stream(taskId: "task-1", created: 0, model: "claude-cheap", echo: [:])
        var buffer = ByteBuffer()
        stream.begin(into: &buffer)
        stream.thinking(ThinkingDelta(index: 0, part: .text("Let me ")), into: &buffer)
        stream.thinking(ThinkingDelta(index: 0, part: .text("think.")), into: &buffer)
        stream.thinking(ThinkingDelta(index: 0, part: .signature("sig")), into: &buffer)
        stream.text("Check", into: &buffer)
        stream.text("ing.", into: &buffer)
        let calls = [ToolUse(id: "call_a", name: "get_weather", input: .object(["city": .string("Paris")]))]
        stream.finish(Self.answer(text: "Checking.", calls: calls, stop: .toolUse), into: &buffer)
        let told = events(buffer)
        #expect(told.allSatisfy { $0.0 == $0.1["type"] as? String }, "each event is named by its type")
        #expect(told.map { $0.1["sequence_number"] as? Int } == Array(0..<told.count))
        #expect(told.map { $0.0 ?? "" } == [
            "response.created", "response.in_progress",
            "response.output_item.added", "response.content_part.added", "response.reasoning_text.delta", "response.reasoning_text.delta",
            "response.reasoning_text.done", "response.content_part.done", "response.output_item.done",
            "response.output_item.added", "response.content_part.added", "response.output_text.delta", "response.output_text.delta",
            "response.output_text.done", "response.content_part.done", "response.output_item.done",
            "response.output_item.added", "response.function_call_arguments.delta", "response.function_call_arguments.done",
            "response.output_item.done", "response.completed",
        ])
        let added = told.filter { $0.0 == "response.output_item.added" }.map { ($0.1["item"] as? [String: Any])?["id"] as? String }
        let response = try #require(told.last?.1["response"] as? [String: Any])
        let output = try #require(response["output"] as? [[String: Any]])
        #expect(output.map { $0["id"] as? String } == added)
        #expect(output.map { $0["type"] as? String } == ["reasoning", "message", "function_call"])
        #expect(((output[0]["content"] as? [[String: Any]])?.first)?["text"] as? String == "Let me think.")
        #expect(((output[1]["content"] as? [[String: Any]])?.first)?["text"] as? String == "Checking.")
        #expect(told.filter { $0.0 == "response.output_item.added" }.map { $0.1["output_index"] as? Int } == [0, 1, 2])
        #expect((response["usage"] as? [String: Any])?["output_tokens"] as? Int == 30)
        #expect((response["fleetd"] as? [String: Any])?["task_id"] as? String == "task-1")
    }

    /// A streamed refusal is known at the end: its `done` events tell it as a refusal part, so the
    /// SDK's `parse()` reports it rather than reading the text as the schema's JSON.
    @Test func aStreamedRefusalEndsAsOne() throws {
        var stream = ResponsesResponse.Stream(taskId: "task-1", created: 0, model: "claude-cheap", echo: [:])
        var buffer = ByteBuffer()
        stream.begin(into: &buffer)
        stream.text("I can't help with that.", into: &buffer)
        stream.finish(Self.answer(text: "I can't help with that.", stop: .refusal), into: &buffer)
        let told = events(buffer)
        #expect(!told.contains { $0.0 == "response.output_text.done" } && told.contains { $0.0 == "response.refusal.done" })
        let response = try #require(told.last?.1["response"] as? [String: Any])
        let part = try #require(((response["output"] as? [[String: Any]])?.first?["content"] as? [[String: Any]])?.first)
        #expect(part["type"] as? String == "refusal" && part["refusal"] as? String == "I can't help with that.")
    }

    /// Cut by the token limit: `response.incomplete`; failed midway: `response.failed` with the
    /// error and the items told so far.
    @Test func anIncompleteOrFailedStreamSaysSo() throws {
        var stream = ResponsesResponse.Stream(taskId: "task-1", created: 0, model: "claude-cheap", echo: [:])
        var buffer = ByteBuffer()
        stream.begin(into: &buffer)
        stream.text("Partial", into: &buffer)
        stream.finish(Self.answer(text: "Partial", stop: .maxTokens), into: &buffer)
        let last = try #require(events(buffer).last)
        #expect(last.0 == "response.incomplete")
        let response = try #require(last.1["response"] as? [String: Any])
        #expect(response["status"] as? String == "incomplete")
        #expect((response["incomplete_details"] as? [String: Any])?["reason"] as? String == "max_output_tokens")

        var failing = ResponsesResponse.Stream(taskId: "task-2", created: 0, model: "claude-cheap", echo: [:])
        var failed = ByteBuffer()
        failing.begin(into: &failed)
        failing.text("Half", into: &failed)
        let failure = TaskFailure(code: .streamTimeout, message: "the stream went quiet")
        failing.fail(CompatError(.responses, failure: failure, defaultRetryAfter: 1), into: &failed)
        let told = events(failed)
        let end = try #require(told.last)
        #expect(end.0 == "response.failed")
        let body = try #require(end.1["response"] as? [String: Any])
        #expect(body["status"] as? String == "failed")
        let error = try #require(body["error"] as? [String: Any])
        #expect(error["message"] as? String == "the stream went quiet" && error["code"] as? String == "server_error")
        #expect(error["fleetd_code"] as? String == ErrorCode.streamTimeout.rawValue)
        #expect((body["output"] as? [[String: Any]])?.count == 1, "the message told so far")
        #expect(told.map { $0.1["sequence_number"] as? Int } == Array(0..<told.count))
    }
}
