import FleetSupport
import Foundation
import NIOCore

/// OpenAI Chat Completions streaming (also xAI and Ollama's `/v1`): `data:` chunks with
/// `choices[].delta` (content, tool_calls), `finish_reason`, a final usage chunk
/// (`stream_options.include_usage`, `choices: []`), then `data: [DONE]`.
struct OpenAIStreamDecoder: ProviderStreamDecoder {
    let provider: ProviderKind
    let secret: String?
    private var parser = SSEParser()
    private var usage: TokenUsage?
    private var finishReason: String?
    private var done = false

    init(provider: ProviderKind, secret: String?) {
        self.provider = provider
        self.secret = secret
    }

    mutating func decode(_ buffer: ByteBuffer, into out: inout [ProviderEvent]) throws {
        for event in parser.parse(buffer) { try handle(event, into: &out) }
    }

    mutating func finish() throws -> [ProviderEvent] {
        if done { return [] }
        guard finishReason != nil else {
            throw ProviderError(kind: .network, provider: provider, message: "the stream ended before [DONE]")
        }
        done = true
        return usage.map { [.usage($0)] } ?? []
    }

    private mutating func handle(_ event: SSEEvent, into out: inout [ProviderEvent]) throws {
        if done { return }
        if event.data == "[DONE]" {
            done = true
            if let usage { out.append(.usage(usage)) }
            return
        }
        let chunk: Wire.Chunk
        do {
            chunk = try JSONDecoder().decode(Wire.Chunk.self, from: Data(event.data.utf8))
        } catch {
            out.append(.invalidChunk(reason: "undecodable chunk: \(error)"))
            return
        }
        if chunk.error != nil {
            throw ProviderErrorClassifier.midStream(json: Array(event.data.utf8), provider: provider, secret: secret)
        }
        for choice in chunk.choices ?? [] where (choice.index ?? 0) == 0 {
            if let text = choice.delta?.content, !text.isEmpty { out.append(.textDelta(text)) }
            for call in choice.delta?.tool_calls ?? [] {
                out.append(.toolCallDelta(ToolCallDelta(
                    index: call.index ?? 0, id: call.id, name: call.function?.name,
                    argumentsFragment: call.function?.arguments ?? ""
                )))
            }
            if let reason = choice.finish_reason {
                finishReason = reason
                out.append(.finish(reason: reason))
            }
        }
        if let u = chunk.usage { usage = u.normalised }
    }

    enum Wire {
        struct Chunk: Decodable {
            var choices: [Choice]?
            var usage: Usage?
            var error: ErrorField?
        }
        struct ErrorField: Decodable {}
        struct Choice: Decodable {
            var index: Int?
            var delta: Delta?
            var finish_reason: String?
        }
        struct Delta: Decodable {
            var content: String?
            var tool_calls: [ToolCallWire]?
        }
        struct ToolCallWire: Decodable {
            var index: Int?
            var id: String?
            var function: Function?
        }
        struct Function: Decodable {
            var name: String?
            var arguments: String?
        }
    }
}

/// OpenAI-style usage (also in the non-streaming answer).
struct OpenAIUsageWire: Decodable {
    var prompt_tokens: Int?
    var completion_tokens: Int?
    var total_tokens: Int?
    var prompt_tokens_details: Details?
    var completion_tokens_details: Details?

    struct Details: Decodable {
        var cached_tokens: Int?
        var reasoning_tokens: Int?
    }

    /// OpenAI counts reasoning tokens inside `completion_tokens`; xAI counts them beside it (its
    /// `total_tokens` is prompt + completion + reasoning), and bills them as output either way. So
    /// when the total says reasoning is not in the completion count, it is added to the output.
    var normalised: TokenUsage {
        let prompt = prompt_tokens ?? 0, completion = completion_tokens ?? 0
        let reasoning = completion_tokens_details?.reasoning_tokens ?? 0
        let reasoningBeside = reasoning > 0 && (total_tokens ?? 0) >= prompt + completion + reasoning
        return TokenUsage(
            inputTokens: prompt, outputTokens: completion + (reasoningBeside ? reasoning : 0),
            cachedInputTokens: prompt_tokens_details?.cached_tokens ?? 0,
            reasoningTokens: reasoning
        )
    }
}

extension OpenAIStreamDecoder.Wire {
    typealias Usage = OpenAIUsageWire
}
