import Agents
import Foundation
import NIOCore
import Providers

/// Messages answers: the `message` object, and the event stream as Anthropic's SDKs parse it
/// (`message_start`, `ping`, `content_block_start` / `content_block_delta` (`text_delta`,
/// `input_json_delta`) / `content_block_stop` per block, `message_delta` with the stop reason and
/// usage, `message_stop`; an error mid-stream is `event: error`).
enum AnthropicMessagesResponse {
    static func id(_ taskId: String) -> String { "msg_\(taskId)" }

    /// Anthropic counts uncached input apart from cache reads and cache writes.
    static func usage(_ answer: CompatAnswer) -> JSONValue {
        .object([
            "input_tokens": .number(Double(answer.inputTokens - answer.cachedTokens - answer.cacheWriteTokens)),
            "output_tokens": .number(Double(answer.outputTokens)),
            "cache_read_input_tokens": .number(Double(answer.cachedTokens)),
            "cache_creation_input_tokens": .number(Double(answer.cacheWriteTokens)),
        ])
    }

    static func toolUse(_ call: ToolUse) -> JSONValue {
        .object(["type": .string("tool_use"), "id": .string(call.id), "name": .string(call.name), "input": call.input])
    }

    /// The whole answer (`stream: false`).
    static func message(_ answer: CompatAnswer) -> JSONValue {
        var content: [JSONValue] = answer.text.isEmpty ? [] : [.object(["type": .string("text"), "text": .string(answer.text)])]
        content += answer.toolCalls.map(toolUse)
        return .object([
            "id": .string(id(answer.taskId)), "type": .string("message"), "role": .string("assistant"), "model": .string(answer.model),
            "content": .array(content), "stop_reason": .string(answer.stop.anthropic), "stop_sequence": .null, "usage": usage(answer),
        ])
    }

    /// The event stream.
    struct Stream: CompatStreamWriter {
        let taskId: String
        let model: String
        /// fleetd's input estimate for `message_start` (the provider's count arrives with `message_delta`).
        let estimatedInputTokens: Int
        private var textBlockOpen = false
        private var blocks = 0

        init(taskId: String, model: String, estimatedInputTokens: Int) {
            self.taskId = taskId
            self.model = model
            self.estimatedInputTokens = estimatedInputTokens
        }

        mutating func begin(into buffer: inout ByteBuffer) {
            buffer.writeSSE(event: "message_start", .object([
                "type": .string("message_start"),
                "message": .object([
                    "id": .string(AnthropicMessagesResponse.id(taskId)), "type": .string("message"), "role": .string("assistant"),
                    "model": .string(model), "content": .array([]), "stop_reason": .null, "stop_sequence": .null,
                    "usage": .object(["input_tokens": .number(Double(estimatedInputTokens)), "output_tokens": .number(0)]),
                ]),
            ]))
            buffer.writeSSE(event: "ping", .object(["type": .string("ping")]))
        }

        mutating func text(_ text: String, into buffer: inout ByteBuffer) {
            if !textBlockOpen {
                textBlockOpen = true
                buffer.writeSSE(event: "content_block_start", .object([
                    "type": .string("content_block_start"), "index": .number(Double(blocks)),
                    "content_block": .object(["type": .string("text"), "text": .string("")]),
                ]))
            }
            buffer.writeSSE(event: "content_block_delta", .object([
                "type": .string("content_block_delta"), "index": .number(Double(blocks)),
                "delta": .object(["type": .string("text_delta"), "text": .string(text)]),
            ]))
        }

        private mutating func closeTextBlock(into buffer: inout ByteBuffer) {
            guard textBlockOpen else { return }
            buffer.writeSSE(event: "content_block_stop", .object(["type": .string("content_block_stop"), "index": .number(Double(blocks))]))
            textBlockOpen = false
            blocks += 1
        }

        mutating func finish(_ answer: CompatAnswer, into buffer: inout ByteBuffer) {
            closeTextBlock(into: &buffer)
            for call in answer.toolCalls {
                let index = JSONValue.number(Double(blocks))
                buffer.writeSSE(event: "content_block_start", .object([
                    "type": .string("content_block_start"), "index": index,
                    "content_block": .object(["type": .string("tool_use"), "id": .string(call.id), "name": .string(call.name), "input": .object([:])]),
                ]))
                buffer.writeSSE(event: "content_block_delta", .object([
                    "type": .string("content_block_delta"), "index": index,
                    "delta": .object(["type": .string("input_json_delta"), "partial_json": .string(call.input.compactText)]),
                ]))
                buffer.writeSSE(event: "content_block_stop", .object(["type": .string("content_block_stop"), "index": index]))
                blocks += 1
            }
            buffer.writeSSE(event: "message_delta", .object([
                "type": .string("message_delta"),
                "delta": .object(["stop_reason": .string(answer.stop.anthropic), "stop_sequence": .null]),
                "usage": AnthropicMessagesResponse.usage(answer), "fleetd": answer.facts.json,
            ]))
            buffer.writeSSE(event: "message_stop", .object(["type": .string("message_stop")]))
        }

        mutating func fail(_ error: CompatError, into buffer: inout ByteBuffer) {
            buffer.writeSSE(event: "error", error.body)
        }
    }
}
