import Agents
import Foundation
import NIOCore
import Providers

/// Responses API answers: the `response` object, and its typed event stream as the OpenAI SDKs
/// accumulate it (`response.created`, `response.in_progress`; per output item
/// `response.output_item.added`, its content part, the text's deltas, `…done` events,
/// `response.output_item.done`; then `response.completed`, or `response.incomplete` for an answer
/// cut by `max_output_tokens` or a content filter, or `response.failed` for a failure after the
/// stream began). Every event carries its `sequence_number`; there is no `[DONE]`.
///
/// The output items, in the order they came: a `reasoning` item per block of the model's thinking
/// (its text as `reasoning_text` content, as open-weight reasoning models' answers have it), a
/// `message` per run of text (`output_text`, or a `refusal` part when the model declined:
/// streamed, the refusal is known at the end, and its `done` events tell it as one), then a
/// `function_call` item per tool call. fleetd's facts are the `x-fleetd-*` headers and, in the
/// stream's last event, the response's `fleetd` member.
enum ResponsesResponse {
    static func id(_ taskId: String) -> String { "resp_\(taskId)" }

    static func usage(_ answer: CompatAnswer) -> JSONValue {
        .object([
            "input_tokens": .number(Double(answer.inputTokens)),
            "input_tokens_details": .object(["cached_tokens": .number(Double(answer.cachedTokens)),
                                             "cache_write_tokens": .number(Double(answer.cacheWriteTokens))]),
            "output_tokens": .number(Double(answer.outputTokens)),
            "output_tokens_details": .object(["reasoning_tokens": .number(0)]),
            "total_tokens": .number(Double(answer.inputTokens + answer.outputTokens)),
        ])
    }

    /// The `response` object; `output` and `usage` are left out of a response still in progress.
    static func object(id: String, created: Int, model: String, status: String, echo: JSONObject, output: [JSONValue]?,
                       usage: JSONValue? = nil, incomplete: String? = nil, error: JSONValue = .null) -> JSONValue {
        var object: JSONObject = [
            "id": .string(id), "object": .string("response"), "created_at": .number(Double(created)), "status": .string(status),
            "error": error, "incomplete_details": incomplete.map { .object(["reason": .string($0)]) } ?? .null,
            "model": .string(model), "output": .array(output ?? []),
        ]
        object["instructions"] = echo["instructions"] ?? .null
        object["max_output_tokens"] = echo["max_output_tokens"] ?? .null
        object["parallel_tool_calls"] = echo["parallel_tool_calls"] ?? .bool(true)
        object["previous_response_id"] = echo["previous_response_id"] ?? .null
        object["reasoning"] = echo["reasoning"] ?? .object(["effort": .null, "summary": .null])
        object["store"] = echo["store"] ?? .bool(false)
        object["temperature"] = echo["temperature"] ?? .null
        object["text"] = echo["text"] ?? .object(["format": .object(["type": .string("text")])])
        object["tool_choice"] = echo["tool_choice"] ?? .string("auto")
        object["tools"] = echo["tools"] ?? .array([])
        object["top_p"] = echo["top_p"] ?? .null
        object["truncation"] = .string("disabled")
        object["user"] = echo["user"] ?? .null
        object["safety_identifier"] = echo["safety_identifier"] ?? .null
        object["metadata"] = echo["metadata"] ?? .object([:])
        if let usage { object["usage"] = usage }
        return .object(object)
    }

    /// `completed`, or `incomplete` with its reason (`max_output_tokens`, `content_filter`).
    static func ending(_ stop: StopReason) -> (status: String, reason: String?) {
        switch stop {
        case .maxTokens: ("incomplete", "max_output_tokens")
        case .contentFilter: ("incomplete", "content_filter")
        default: ("completed", nil)
        }
    }

    static func reasoningItem(id: String, text: String, status: String) -> JSONValue {
        .object([
            "id": .string(id), "type": .string("reasoning"), "summary": .array([]),
            "content": .array(text.isEmpty ? [] : [reasoningPart(text)]),
            "status": .string(status),
        ])
    }

    static func reasoningPart(_ text: String) -> JSONValue {
        .object(["type": .string("reasoning_text"), "text": .string(text)])
    }

    static func textPart(_ text: String) -> JSONValue {
        .object(["type": .string("output_text"), "text": .string(text), "annotations": .array([]), "logprobs": .array([])])
    }

    static func messageItem(id: String, parts: [JSONValue], status: String) -> JSONValue {
        .object(["id": .string(id), "type": .string("message"), "status": .string(status), "role": .string("assistant"),
                 "content": .array(parts)])
    }

    static func refusalPart(_ text: String) -> JSONValue {
        .object(["type": .string("refusal"), "refusal": .string(text)])
    }

    static func callItem(_ answer: CompatAnswer, _ index: Int, status: String, arguments: String? = nil) -> JSONValue {
        let call = answer.toolCalls[index]
        return .object([
            "id": .string("fc_\(answer.taskId)_\(index)"), "type": .string("function_call"), "status": .string(status),
            "call_id": .string(call.id), "name": .string(call.name), "arguments": .string(arguments ?? answer.argumentsText(index)),
        ])
    }

    /// The whole answer (`stream: false`): its thinking and text in the order they came (as the
    /// stream tells them), then the tool calls. An answer cut short leaves its last item and its
    /// calls `incomplete`.
    static func response(_ answer: CompatAnswer, created: Int, echo: JSONObject) -> JSONValue {
        let (status, reason) = ending(answer.openAIStop)
        let refused = answer.stop == .refusal && answer.toolCalls.isEmpty
        var output: [JSONValue] = []
        var text = ""
        func flushText() {
            guard !text.isEmpty else { return }
            output.append(messageItem(id: "msg_\(answer.taskId)_\(output.count)", parts: [refused ? refusalPart(text) : textPart(text)],
                                      status: "completed"))
            text = ""
        }
        for block in answer.content {
            switch block {
            case .thinking(let thought, _) where !thought.isEmpty:
                flushText()
                output.append(reasoningItem(id: "rs_\(answer.taskId)_\(output.count)", text: thought, status: "completed"))
            case .text(let piece): text += piece
            default: continue
            }
        }
        if answer.content.isEmpty { text = answer.text }
        flushText()
        if status == "incomplete", answer.toolCalls.isEmpty, case .object(var last)? = output.last {
            last["status"] = .string("incomplete")
            output[output.count - 1] = .object(last)
        }
        for index in answer.toolCalls.indices { output.append(callItem(answer, index, status: status == "incomplete" ? "incomplete" : "completed")) }
        return object(id: id(answer.taskId), created: created, model: answer.model, status: status, echo: echo, output: output,
                      usage: usage(answer), incomplete: reason)
    }

    /// The event stream. Text and thinking are relayed as they come, each in the output item it
    /// belongs to (a new item when the kind changes); tool calls come whole at the end, as on the
    /// other compatible streams.
    struct Stream: CompatStreamWriter {
        let taskId: String
        let created: Int
        let model: String
        let echo: JSONObject
        private var sequence = 0
        /// The items told done, in order: the final response's `output`.
        private var done: [JSONValue] = []
        private var open: Open?
        /// Text relayed so far (an answer whose text never came as deltas is told whole at the end).
        private var toldText = false

        /// The output item being written: its kind, id, index and text so far.
        private struct Open {
            enum Kind { case message, reasoning(Int) }
            var kind: Kind
            var id: String
            var index: Int
            var text = ""
        }

        init(taskId: String, created: Int, model: String, echo: JSONObject) {
            self.taskId = taskId
            self.created = created
            self.model = model
            self.echo = echo
        }

        private mutating func event(_ type: String, _ fields: JSONObject, into buffer: inout ByteBuffer) {
            var object: JSONObject = ["type": .string(type), "sequence_number": .number(Double(sequence))]
            object.merge(fields) { $1 }
            sequence += 1
            buffer.writeSSE(event: type, .object(object))
        }

        mutating func begin(into buffer: inout ByteBuffer) {
            let response = ResponsesResponse.object(id: ResponsesResponse.id(taskId), created: created, model: model, status: "in_progress",
                                                    echo: echo, output: [])
            event("response.created", ["response": response], into: &buffer)
            event("response.in_progress", ["response": response], into: &buffer)
        }

        mutating func text(_ text: String, into buffer: inout ByteBuffer) {
            guard !text.isEmpty else { return }
            if case .message? = open?.kind {} else {
                close(into: &buffer)
                let item = Open(kind: .message, id: "msg_\(taskId)_\(done.count)", index: done.count)
                event("response.output_item.added", ["output_index": .number(Double(item.index)),
                                                     "item": ResponsesResponse.messageItem(id: item.id, parts: [], status: "in_progress")],
                      into: &buffer)
                event("response.content_part.added", ["item_id": .string(item.id), "output_index": .number(Double(item.index)),
                                                      "content_index": .number(0), "part": ResponsesResponse.textPart("")], into: &buffer)
                open = item
            }
            guard var item = open else { return }
            item.text += text
            open = item
            toldText = true
            event("response.output_text.delta", ["item_id": .string(item.id), "output_index": .number(Double(item.index)),
                                                 "content_index": .number(0), "delta": .string(text), "logprobs": .array([])],
                  into: &buffer)
        }

        /// Thinking text as a `reasoning` item's `reasoning_text`; signatures and redacted thinking
        /// have no place in this dialect.
        mutating func thinking(_ delta: ThinkingDelta, into buffer: inout ByteBuffer) {
            guard case .text(let text) = delta.part, !text.isEmpty else { return }
            if case .reasoning(let index)? = open?.kind, index == delta.index {} else {
                close(into: &buffer)
                let item = Open(kind: .reasoning(delta.index), id: "rs_\(taskId)_\(done.count)", index: done.count)
                event("response.output_item.added", ["output_index": .number(Double(item.index)),
                                                     "item": ResponsesResponse.reasoningItem(id: item.id, text: "", status: "in_progress")],
                      into: &buffer)
                event("response.content_part.added", ["item_id": .string(item.id), "output_index": .number(Double(item.index)),
                                                      "content_index": .number(0),
                                                      "part": ResponsesResponse.reasoningPart("")],
                      into: &buffer)
                open = item
            }
            guard var item = open else { return }
            item.text += text
            open = item
            event("response.reasoning_text.delta", ["item_id": .string(item.id), "output_index": .number(Double(item.index)),
                                                    "content_index": .number(0), "delta": .string(text)], into: &buffer)
        }

        /// Ends the open item: its text's `done`, its part's, the item's. A refusal (known only now)
        /// ends as a refusal part, so the SDK's `parse()` reports it instead of reading it as JSON.
        private mutating func close(into buffer: inout ByteBuffer, status: String = "completed", refused: Bool = false) {
            guard let item = open else { return }
            open = nil
            let place: JSONObject = ["item_id": .string(item.id), "output_index": .number(Double(item.index)), "content_index": .number(0)]
            let finished: JSONValue
            switch item.kind {
            case .message where refused:
                let part = ResponsesResponse.refusalPart(item.text)
                event("response.refusal.done", place.merging(["refusal": .string(item.text)]), into: &buffer)
                event("response.content_part.done", place.merging(["part": part]), into: &buffer)
                finished = ResponsesResponse.messageItem(id: item.id, parts: [part], status: status)
            case .message:
                event("response.output_text.done", place.merging(["text": .string(item.text), "logprobs": .array([])]), into: &buffer)
                event("response.content_part.done", place.merging(["part": ResponsesResponse.textPart(item.text)]), into: &buffer)
                finished = ResponsesResponse.messageItem(id: item.id, parts: [ResponsesResponse.textPart(item.text)], status: status)
            case .reasoning:
                event("response.reasoning_text.done", place.merging(["text": .string(item.text)]), into: &buffer)
                event("response.content_part.done", place.merging(["part": ResponsesResponse.reasoningPart(item.text)]), into: &buffer)
                finished = ResponsesResponse.reasoningItem(id: item.id, text: item.text, status: status)
            }
            event("response.output_item.done", ["output_index": .number(Double(item.index)), "item": finished], into: &buffer)
            done.append(finished)
        }

        mutating func finish(_ answer: CompatAnswer, into buffer: inout ByteBuffer) {
            let (status, reason) = ResponsesResponse.ending(answer.openAIStop)
            if !toldText, !answer.text.isEmpty { text(answer.text, into: &buffer) }
            let cut = status == "incomplete"
            close(into: &buffer, status: cut && answer.toolCalls.isEmpty ? "incomplete" : "completed",
                  refused: answer.stop == .refusal && answer.toolCalls.isEmpty)
            for index in answer.toolCalls.indices {
                let id = "fc_\(answer.taskId)_\(index)"
                let place: JSONObject = ["item_id": .string(id), "output_index": .number(Double(done.count))]
                event("response.output_item.added", ["output_index": .number(Double(done.count)),
                                                     "item": ResponsesResponse.callItem(answer, index, status: "in_progress", arguments: "")],
                      into: &buffer)
                let arguments = answer.argumentsText(index)
                event("response.function_call_arguments.delta", place.merging(["delta": .string(arguments)]), into: &buffer)
                event("response.function_call_arguments.done", place.merging(["arguments": .string(arguments),
                                                                               "name": .string(answer.toolCalls[index].name)]),
                      into: &buffer)
                let item = ResponsesResponse.callItem(answer, index, status: cut ? "incomplete" : "completed")
                event("response.output_item.done", ["output_index": .number(Double(done.count)), "item": item], into: &buffer)
                done.append(item)
            }
            var response = ResponsesResponse.object(id: ResponsesResponse.id(taskId), created: created, model: answer.model, status: status,
                                                    echo: echo, output: done, usage: ResponsesResponse.usage(answer), incomplete: reason)
            if case .object(var object) = response {
                object["fleetd"] = answer.facts.json
                response = .object(object)
            }
            event(status == "completed" ? "response.completed" : "response.incomplete", ["response": response], into: &buffer)
        }

        /// A failure after the stream began: `response.failed` with the items told so far, its
        /// `error` in the codes the Responses API has (`rate_limit_exceeded`, else `server_error`),
        /// fleetd's own code beside them as `fleetd_code`.
        mutating func fail(_ error: CompatError, into buffer: inout ByteBuffer) {
            close(into: &buffer, status: "incomplete")
            var detail: JSONObject = ["code": .string(error.status.code == 429 ? "rate_limit_exceeded" : "server_error"),
                                      "message": .string(error.message)]
            if let code = error.code { detail["fleetd_code"] = .string(code) }
            let response = ResponsesResponse.object(id: ResponsesResponse.id(taskId), created: created, model: model, status: "failed",
                                                    echo: echo, output: done, error: .object(detail))
            event("response.failed", ["response": response], into: &buffer)
        }
    }
}

extension JSONObject {
    /// This object with `other`'s members added (replacing its own of the same name).
    fileprivate func merging(_ other: JSONObject) -> JSONObject {
        var copy = self
        copy.merge(other) { $1 }
        return copy
    }
}
