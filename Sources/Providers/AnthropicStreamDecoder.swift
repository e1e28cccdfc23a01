import FleetSupport
import Foundation
import NIOCore

/// Anthropic Messages streaming: `message_start` (input usage), `content_block_*` (text and
/// `tool_use` input JSON), `message_delta` (stop reason, cumulative output usage), `message_stop`,
/// `ping`, and `error` events.
struct AnthropicStreamDecoder: ProviderStreamDecoder {
    let secret: String?
    private var parser = SSEParser()
    private var usage = TokenUsage()
    private var sawUsage = false
    private var raw = (input: 0, cacheRead: 0, cacheWrite: 0, output: 0)
    private var stopReason: String?
    private var finished = false
    private var toolIndexes: [Int: Int] = [:] // content block index → tool call index

    init(secret: String?) {
        self.secret = secret
    }

    mutating func decode(_ buffer: ByteBuffer, into out: inout [ProviderEvent]) throws {
        for event in parser.parse(buffer) { try handle(event, into: &out) }
    }

    mutating func finish() throws -> [ProviderEvent] {
        if finished { return [] }
        // Some streams end right after `message_stop` without the blank line that would dispatch it;
        // a stop reason from `message_delta` shows the answer is whole.
        guard stopReason != nil else {
            throw ProviderError(kind: .network, provider: .anthropic, message: "the stream ended before message_stop")
        }
        finished = true
        return sawUsage ? [.usage(usage)] : []
    }

    private mutating func handle(_ event: SSEEvent, into out: inout [ProviderEvent]) throws {
        if event.type == "ping" || finished { return }
        if event.type == "error" {
            throw ProviderErrorClassifier.midStream(json: Array(event.data.utf8), provider: .anthropic, secret: secret)
        }
        let message: Wire.Event
        do {
            message = try JSONDecoder().decode(Wire.Event.self, from: Data(event.data.utf8))
        } catch {
            out.append(.invalidChunk(reason: "undecodable \(event.type) event: \(error)"))
            return
        }
        switch message.type {
        case "message_start":
            // The input usage, as soon as it is known: a call cut short later is billed on it.
            // `message_stop` reports the whole usage again, which replaces this.
            if let u = message.message?.usage {
                merge(u)
                out.append(.usage(usage))
            }
        case "content_block_start":
            if let block = message.content_block, block.type == "tool_use", let index = message.index {
                let toolIndex = toolIndexes.count
                toolIndexes[index] = toolIndex
                out.append(.toolCallDelta(ToolCallDelta(index: toolIndex, id: block.id, name: block.name)))
            } else if let text = message.content_block?.text, !text.isEmpty {
                out.append(.textDelta(text))
            }
        case "content_block_delta":
            guard let delta = message.delta else { return }
            if delta.type == "text_delta", let text = delta.text {
                out.append(.textDelta(text))
            } else if delta.type == "input_json_delta", let index = message.index, let toolIndex = toolIndexes[index] {
                if let json = delta.partial_json, !json.isEmpty {
                    out.append(.toolCallDelta(ToolCallDelta(index: toolIndex, argumentsFragment: json)))
                }
            }
        case "message_delta":
            if let u = message.usage { merge(u) }
            if let reason = message.delta?.stop_reason {
                stopReason = reason
                out.append(.finish(reason: reason))
            }
        case "message_stop":
            finished = true
            if sawUsage { out.append(.usage(usage)) }
        case "error":
            throw ProviderErrorClassifier.midStream(json: Array(event.data.utf8), provider: .anthropic, secret: secret)
        default:
            break
        }
    }

    /// Usage fields are cumulative: a later report replaces an earlier one, field by field.
    /// `inputTokens` counts all prompt tokens (uncached + cache writes + cache reads).
    private mutating func merge(_ u: Wire.Usage) {
        sawUsage = true
        if let v = u.input_tokens { raw.input = v }
        if let v = u.cache_read_input_tokens { raw.cacheRead = v }
        if let v = u.cache_creation_input_tokens { raw.cacheWrite = v }
        if let v = u.output_tokens { raw.output = v }
        usage = TokenUsage(
            inputTokens: raw.input + raw.cacheRead + raw.cacheWrite, outputTokens: raw.output,
            cachedInputTokens: raw.cacheRead
        )
    }

    enum Wire {
        struct Event: Decodable {
            var type: String
            var index: Int?
            var message: Message?
            var content_block: Block?
            var delta: Delta?
            var usage: Usage?
        }
        struct Message: Decodable { var usage: Usage? }
        struct Block: Decodable {
            var type: String
            var text: String?
            var id: String?
            var name: String?
        }
        struct Delta: Decodable {
            var type: String?
            var text: String?
            var partial_json: String?
            var stop_reason: String?
        }
        struct Usage: Decodable {
            var input_tokens: Int?
            var output_tokens: Int?
            var cache_read_input_tokens: Int?
            var cache_creation_input_tokens: Int?
        }
    }
}
