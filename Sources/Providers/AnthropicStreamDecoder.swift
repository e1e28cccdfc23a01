import FleetSupport
import Foundation
import NIOCore

/// Anthropic Messages streaming: `message_start` (input usage), `content_block_*` (text,
/// `tool_use` input JSON, `thinking` text and signature, `redacted_thinking` data), `message_delta`
/// (stop reason, cumulative output usage), `message_stop`, `ping`, and `error` events.
struct AnthropicStreamDecoder: ProviderStreamDecoder {
    let secret: String?
    private var parser = SSEParser()
    private var usage = TokenUsage()
    private var sawUsage = false
    private var raw = (input: 0, cacheRead: 0, cacheWrite: 0, cacheWriteHour: 0, output: 0)
    private var stopReason: String?
    private var finished = false
    private var toolIndexes: [Int: Int] = [:] // content block index → tool call index
    private var thinkingIndexes: [Int: Int] = [:] // content block index → thinking block index
    private var thinkingBlocks = 0

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
            message = try Wire.Event(json: JSONValue.parse(text: event.data))
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
            } else if let block = message.content_block, block.type == "thinking" || block.type == "redacted_thinking" {
                let thinkingIndex = thinkingBlocks
                thinkingBlocks += 1
                if let index = message.index { thinkingIndexes[index] = thinkingIndex }
                if block.type == "redacted_thinking" {
                    out.append(.thinking(ThinkingDelta(index: thinkingIndex, part: .redacted(block.data ?? ""))))
                } else {
                    // Told even when empty: the block has begun (a client's stream opens it here),
                    // and a model thinking with its display omitted sends nothing more until the
                    // signature, so this is what tells the watchdog the model is at work.
                    out.append(.thinking(ThinkingDelta(index: thinkingIndex, part: .text(block.thinking ?? ""))))
                    if let signature = block.signature, !signature.isEmpty {
                        out.append(.thinking(ThinkingDelta(index: thinkingIndex, part: .signature(signature))))
                    }
                }
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
            } else if delta.type == "thinking_delta", let index = message.index, let thinkingIndex = thinkingIndexes[index] {
                if let text = delta.thinking, !text.isEmpty { out.append(.thinking(ThinkingDelta(index: thinkingIndex, part: .text(text)))) }
            } else if delta.type == "signature_delta", let index = message.index, let thinkingIndex = thinkingIndexes[index] {
                if let signature = delta.signature, !signature.isEmpty {
                    out.append(.thinking(ThinkingDelta(index: thinkingIndex, part: .signature(signature))))
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
        if let v = u.cache_creation?.ephemeral_1h_input_tokens { raw.cacheWriteHour = v }
        if let v = u.output_tokens { raw.output = v }
        usage = Self.usage(input: raw.input, cacheRead: raw.cacheRead, cacheWrite: raw.cacheWrite, cacheWriteHour: raw.cacheWriteHour,
                           output: raw.output)
    }

    /// Anthropic's counts as fleetd's: `inputTokens` counts all prompt tokens (uncached, cache
    /// writes, cache reads).
    static func usage(input: Int, cacheRead: Int, cacheWrite: Int, cacheWriteHour: Int, output: Int) -> TokenUsage {
        TokenUsage(inputTokens: input + cacheRead + cacheWrite, outputTokens: output, cachedInputTokens: cacheRead,
                   cacheWriteInputTokens: cacheWrite, cacheWriteHourInputTokens: min(cacheWriteHour, cacheWrite))
    }

    /// The events' wire shape. Read by hand from the parsed text (``Wire/Event/init(json:)``, see
    /// `JSONValue+Read.swift`); `Decodable` too, as `JSONDecoder` reads it, which the tests hold
    /// the hand reader to.
    enum Wire {
        struct Event: Decodable, Equatable {
            var type: String
            var index: Int?
            var message: Message?
            var content_block: Block?
            var delta: Delta?
            var usage: Usage?
        }
        struct Message: Decodable, Equatable { var usage: Usage? }
        struct Block: Decodable, Equatable {
            var type: String
            var text: String?
            var id: String?
            var name: String?
            var thinking: String?
            var signature: String?
            var data: String?
        }
        struct Delta: Decodable, Equatable {
            var type: String?
            var text: String?
            var partial_json: String?
            var stop_reason: String?
            var thinking: String?
            var signature: String?
        }
        struct Usage: Decodable, Equatable {
            var input_tokens: Int?
            var output_tokens: Int?
            var cache_read_input_tokens: Int?
            var cache_creation_input_tokens: Int?
            var cache_creation: CacheCreation?
        }
        /// The cache writes kept for an hour (the rest of `cache_creation_input_tokens` are kept
        /// for five minutes).
        struct CacheCreation: Decodable, Equatable {
            var ephemeral_1h_input_tokens: Int?
        }
    }
}

// The hand reader of the wire types (`JSONValue+Read.swift`): what `JSONDecoder` reads, from a
// parsed value.

extension AnthropicStreamDecoder.Wire.Event {
    init(json: JSONValue) throws {
        let members = try json.members("event")
        type = try members.requiredString("type", in: "event")
        index = try members.int("index", in: "event")
        message = try members.object("message", in: "event").map { message in
            AnthropicStreamDecoder.Wire.Message(usage: try message.object("usage", in: "event.message").map {
                try AnthropicStreamDecoder.Wire.Usage(members: $0, path: "event.message.usage")
            })
        }
        content_block = try members.object("content_block", in: "event").map { block in
            AnthropicStreamDecoder.Wire.Block(type: try block.requiredString("type", in: "event.content_block"),
                                              text: try block.string("text", in: "event.content_block"),
                                              id: try block.string("id", in: "event.content_block"),
                                              name: try block.string("name", in: "event.content_block"),
                                              thinking: try block.string("thinking", in: "event.content_block"),
                                              signature: try block.string("signature", in: "event.content_block"),
                                              data: try block.string("data", in: "event.content_block"))
        }
        delta = try members.object("delta", in: "event").map { delta in
            AnthropicStreamDecoder.Wire.Delta(type: try delta.string("type", in: "event.delta"),
                                              text: try delta.string("text", in: "event.delta"),
                                              partial_json: try delta.string("partial_json", in: "event.delta"),
                                              stop_reason: try delta.string("stop_reason", in: "event.delta"),
                                              thinking: try delta.string("thinking", in: "event.delta"),
                                              signature: try delta.string("signature", in: "event.delta"))
        }
        usage = try members.object("usage", in: "event").map { try AnthropicStreamDecoder.Wire.Usage(members: $0, path: "event.usage") }
    }
}

extension AnthropicStreamDecoder.Wire.Usage {
    init(members: JSONObject, path: String) throws {
        input_tokens = try members.int("input_tokens", in: path)
        output_tokens = try members.int("output_tokens", in: path)
        cache_read_input_tokens = try members.int("cache_read_input_tokens", in: path)
        cache_creation_input_tokens = try members.int("cache_creation_input_tokens", in: path)
        cache_creation = try members.object("cache_creation", in: path).map {
            AnthropicStreamDecoder.Wire.CacheCreation(ephemeral_1h_input_tokens: try $0.int("ephemeral_1h_input_tokens", in: "\(path).cache_creation"))
        }
    }
}
