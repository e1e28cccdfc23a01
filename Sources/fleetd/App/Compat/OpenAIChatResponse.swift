import Agents
import Foundation
import NIOCore
import Providers

/// Chat Completions answers: the `chat.completion` object, and the `chat.completion.chunk` stream
/// as the OpenAI SDKs parse it (a role chunk, content deltas, one chunk per tool call, the
/// finish chunk, a usage chunk with `choices: []` when `stream_options.include_usage`, then
/// `data: [DONE]`; an error mid-stream is `data: {"error": …}` and no `[DONE]`). A model's thinking
/// text (a Claude model given `reasoning_effort`) comes as `reasoning_content`, as DeepSeek's API
/// and the gateways that relay reasoning write it; OpenAI's SDKs keep it as an extra field. A
/// refusal is the message's `refusal` in the whole answer; streamed, its text comes as content
/// (it is known to be one only at the end), finishing with `stop` as OpenAI's does.
enum OpenAIChatResponse {
    static func id(_ taskId: String) -> String { "chatcmpl-\(taskId)" }

    static func usage(_ answer: CompatAnswer) -> JSONValue {
        .object([
            "prompt_tokens": .number(Double(answer.inputTokens)), "completion_tokens": .number(Double(answer.outputTokens)),
            "total_tokens": .number(Double(answer.inputTokens + answer.outputTokens)),
            "prompt_tokens_details": .object(["cached_tokens": .number(Double(answer.cachedTokens))]),
        ])
    }

    static func toolCalls(_ answer: CompatAnswer, indexed: Bool) -> [JSONValue] {
        answer.toolCalls.enumerated().map { index, call in
            var object: JSONObject = [
                "id": .string(call.id), "type": .string("function"),
                "function": .object(["name": .string(call.name),
                                     "arguments": .string(answer.argumentsText(index))]),
            ]
            if indexed { object["index"] = .number(Double(index)) }
            return .object(object)
        }
    }

    /// The whole answer (`stream: false`).
    static func completion(_ answer: CompatAnswer, created: Int) -> JSONValue {
        // A refusal's text is the message's `refusal`, as OpenAI writes one (its SDKs' `parse()`
        // then gives `refusal` rather than failing to read the text as the schema's JSON).
        let refused = answer.stop == .refusal && answer.toolCalls.isEmpty && !answer.text.isEmpty
        var message: JSONObject = [
            "role": .string("assistant"),
            "content": refused || (answer.text.isEmpty && !answer.toolCalls.isEmpty) ? .null : .string(answer.text),
            "refusal": refused ? .string(answer.text) : .null,
        ]
        if !answer.toolCalls.isEmpty { message["tool_calls"] = .array(toolCalls(answer, indexed: false)) }
        let reasoning = answer.thinking.compactMap { block -> String? in
            if case .thinking(let text, _) = block, !text.isEmpty { return text } else { return nil }
        }
        if !reasoning.isEmpty { message["reasoning_content"] = .string(reasoning.joined(separator: "\n\n")) }
        return .object([
            "id": .string(id(answer.taskId)), "object": .string("chat.completion"), "created": .number(Double(created)),
            "model": .string(answer.model), "system_fingerprint": .null,
            "choices": .array([.object([
                "index": .number(0), "message": .object(message), "finish_reason": .string(answer.openAIStop.openAI), "logprobs": .null,
            ])]),
            "usage": usage(answer),
        ])
    }

    /// The chunk stream.
    struct Stream: CompatStreamWriter {
        let taskId: String
        let created: Int
        let model: String
        let includeUsage: Bool

        /// A chunk; `model` is the answering model's name where it is known (the end of the answer),
        /// else the pick's, which the stream's head is written with before any fallback.
        private func chunk(_ delta: JSONValue, finish: String? = nil, extra: JSONObject = [:], model: String? = nil) -> JSONValue {
            var object: JSONObject = [
                "id": .string(OpenAIChatResponse.id(taskId)), "object": .string("chat.completion.chunk"), "created": .number(Double(created)),
                "model": .string(model ?? self.model), "system_fingerprint": .null,
                "choices": .array([.object(["index": .number(0), "delta": delta, "finish_reason": finish.map(JSONValue.string) ?? .null, "logprobs": .null])]),
            ]
            object.merge(extra) { $1 }
            return .object(object)
        }

        mutating func begin(into buffer: inout ByteBuffer) {
            buffer.writeSSE(event: nil, chunk(.object(["role": .string("assistant"), "content": .string(""), "refusal": .null])))
        }

        mutating func text(_ text: String, into buffer: inout ByteBuffer) {
            buffer.writeSSE(event: nil, chunk(.object(["content": .string(text)])))
        }

        /// Thinking text as `reasoning_content` deltas; signatures and redacted thinking have no
        /// place in this dialect.
        mutating func thinking(_ delta: ThinkingDelta, into buffer: inout ByteBuffer) {
            guard case .text(let text) = delta.part, !text.isEmpty else { return }
            buffer.writeSSE(event: nil, chunk(.object(["reasoning_content": .string(text)])))
        }

        mutating func finish(_ answer: CompatAnswer, into buffer: inout ByteBuffer) {
            for call in OpenAIChatResponse.toolCalls(answer, indexed: true) {
                buffer.writeSSE(event: nil, chunk(.object(["tool_calls": .array([call])]), model: answer.model))
            }
            buffer.writeSSE(event: nil, chunk(.object([:]), finish: answer.openAIStop.openAI, extra: ["fleetd": answer.facts.json], model: answer.model))
            if includeUsage {
                buffer.writeSSE(event: nil, .object([
                    "id": .string(OpenAIChatResponse.id(taskId)), "object": .string("chat.completion.chunk"), "created": .number(Double(created)),
                    "model": .string(answer.model), "system_fingerprint": .null, "choices": .array([]), "usage": OpenAIChatResponse.usage(answer),
                ]))
            }
            buffer.writeString("data: [DONE]\n\n")
        }

        mutating func fail(_ error: CompatError, into buffer: inout ByteBuffer) {
            buffer.writeSSE(event: nil, error.body)
        }
    }
}
