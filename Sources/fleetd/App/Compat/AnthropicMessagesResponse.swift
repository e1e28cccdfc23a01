import Agents
import Foundation
import NIOCore
import Providers

/// Messages answers: the `message` object, and the event stream as Anthropic's SDKs parse it
/// (`message_start`, `ping`, `content_block_start` / `content_block_delta` (`thinking_delta` and
/// `signature_delta`, `text_delta`, `input_json_delta`) / `content_block_stop` per block,
/// `message_delta` with the stop reason and usage, `message_stop`; an error mid-stream is
/// `event: error`). Thinking and text blocks come in the order the model gave them.
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

    /// A thinking block as Anthropic writes it.
    static func thinkingBlock(_ block: ContentBlock) -> JSONValue? {
        switch block {
        case .thinking(let text, let signature):
            .object(["type": .string("thinking"), "thinking": .string(text), "signature": .string(signature)])
        case .redactedThinking(let data):
            .object(["type": .string("redacted_thinking"), "data": .string(data)])
        case .text, .image, .toolUse, .toolResult, .document:
            nil
        }
    }

    /// The whole answer (`stream: false`).
    static func message(_ answer: CompatAnswer) -> JSONValue {
        var content: [JSONValue] = []
        if answer.content.isEmpty {
            if !answer.text.isEmpty { content.append(.object(["type": .string("text"), "text": .string(answer.text)])) }
        } else {
            // Thinking and text in the order the model gave them.
            for block in answer.content {
                if case .text(let text) = block {
                    if !text.isEmpty { content.append(.object(["type": .string("text"), "text": .string(text)])) }
                } else if let thinking = thinkingBlock(block) {
                    content.append(thinking)
                }
            }
        }
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
        /// The content block being streamed: the answer's text, or a thinking block (by its
        /// thinking index); the next block's index is ``blocks``.
        private enum OpenBlock: Equatable {
            case text
            case thinking(Int)
        }
        private var open: OpenBlock?
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
            if open != .text {
                closeBlock(into: &buffer)
                open = .text
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

        /// A thinking block opens with empty text and signature, as Anthropic's do; its text and
        /// signature follow as deltas. A redacted one is whole in its start. The open block's
        /// index is always ``blocks``.
        mutating func thinking(_ delta: ThinkingDelta, into buffer: inout ByteBuffer) {
            let content: JSONValue
            switch delta.part {
            case .redacted(let data):
                closeBlock(into: &buffer)
                open = .thinking(delta.index)
                buffer.writeSSE(event: "content_block_start", .object([
                    "type": .string("content_block_start"), "index": .number(Double(blocks)),
                    "content_block": .object(["type": .string("redacted_thinking"), "data": .string(data)]),
                ]))
                closeBlock(into: &buffer)
                return
            case .text(let text): content = .object(["type": .string("thinking_delta"), "thinking": .string(text)])
            case .signature(let signature): content = .object(["type": .string("signature_delta"), "signature": .string(signature)])
            }
            if open != .thinking(delta.index) {
                closeBlock(into: &buffer)
                open = .thinking(delta.index)
                buffer.writeSSE(event: "content_block_start", .object([
                    "type": .string("content_block_start"), "index": .number(Double(blocks)),
                    "content_block": .object(["type": .string("thinking"), "thinking": .string(""), "signature": .string("")]),
                ]))
            }
            if case .text("") = delta.part { return } // the block's start: nothing to add
            buffer.writeSSE(event: "content_block_delta", .object([
                "type": .string("content_block_delta"), "index": .number(Double(blocks)), "delta": content,
            ]))
        }

        private mutating func closeBlock(into buffer: inout ByteBuffer) {
            guard open != nil else { return }
            buffer.writeSSE(event: "content_block_stop", .object(["type": .string("content_block_stop"), "index": .number(Double(blocks))]))
            open = nil
            blocks += 1
        }

        mutating func finish(_ answer: CompatAnswer, into buffer: inout ByteBuffer) {
            closeBlock(into: &buffer)
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
