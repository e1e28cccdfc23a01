import FleetSupport
import Foundation
import NIOCore

/// OpenAI Chat Completions streaming (also xAI and Ollama's `/v1`): `data:` chunks with
/// `choices[].delta` (content, refusal, tool_calls), `finish_reason`, a final usage chunk
/// (`stream_options.include_usage`, `choices: []`), then `data: [DONE]`. A refusal's text
/// (structured outputs) is the answer's text, and its turn ends as a refusal.
struct OpenAIStreamDecoder: ProviderStreamDecoder {
    let provider: ProviderKind
    let secret: String?
    private var parser = SSEParser()
    private var usage: TokenUsage?
    private var finishReason: String?
    private var done = false
    /// Whether refusal text came, and content: a turn with refusal and no content ends as a refusal.
    private var sawRefusal = false
    private var sawContent = false

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
            chunk = try Wire.Chunk(json: JSONValue.parse(text: event.data))
        } catch {
            out.append(.invalidChunk(reason: "undecodable chunk: \(error)"))
            return
        }
        if chunk.error != nil {
            throw ProviderErrorClassifier.midStream(json: Array(event.data.utf8), provider: provider, secret: secret)
        }
        for choice in chunk.choices ?? [] where (choice.index ?? 0) == 0 {
            if let text = choice.delta?.content, !text.isEmpty {
                sawContent = true
                out.append(.textDelta(text))
            }
            if let text = choice.delta?.refusal, !text.isEmpty {
                sawRefusal = true
                out.append(.textDelta(text))
            }
            for call in choice.delta?.tool_calls ?? [] {
                out.append(.toolCallDelta(ToolCallDelta(
                    index: call.index ?? 0, id: call.id, name: call.function?.name,
                    argumentsFragment: call.function?.arguments ?? ""
                )))
            }
            if let reason = choice.finish_reason {
                finishReason = reason
                out.append(.finish(reason: OpenAIChatClient.finishReason(reason, refusal: sawRefusal, content: sawContent) ?? reason))
            }
        }
        if let u = chunk.usage { usage = u.normalised }
    }

    /// The chunk's wire shape. Read by hand from the parsed text (``init(json:)``, see
    /// `JSONValue+Read.swift`); `Decodable` too, as `JSONDecoder` reads it, which the tests
    /// hold the hand reader to.
    enum Wire {
        struct Chunk: Decodable, Equatable {
            var choices: [Choice]?
            var usage: Usage?
            var error: ErrorField?
        }
        struct ErrorField: Decodable, Equatable {}
        struct Choice: Decodable, Equatable {
            var index: Int?
            var delta: Delta?
            var finish_reason: String?
        }
        struct Delta: Decodable, Equatable {
            var content: String?
            var refusal: String?
            var tool_calls: [ToolCallWire]?
        }
        struct ToolCallWire: Decodable, Equatable {
            var index: Int?
            var id: String?
            var function: Function?
        }
        struct Function: Decodable, Equatable {
            var name: String?
            var arguments: String?
        }
    }
}

/// OpenAI-style usage (also in the non-streaming answer).
struct OpenAIUsageWire: Decodable, Equatable {
    var prompt_tokens: Int?
    var completion_tokens: Int?
    var total_tokens: Int?
    var prompt_tokens_details: Details?
    var completion_tokens_details: Details?

    struct Details: Decodable, Equatable {
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

// The hand reader of the wire types (`JSONValue+Read.swift`): what `JSONDecoder` reads, from a
// parsed value.

extension OpenAIStreamDecoder.Wire.Chunk {
    init(json: JSONValue) throws {
        let members = try json.members("chunk")
        choices = try members.array("choices", in: "chunk")?.enumerated().map { index, choice in
            try OpenAIStreamDecoder.Wire.Choice(members: choice.members("chunk.choices[\(index)]"), path: "chunk.choices[\(index)]")
        }
        usage = try members.object("usage", in: "chunk").map { try OpenAIUsageWire(members: $0, path: "chunk.usage") }
        // Any error member but `null` is the provider's error, whatever its shape.
        error = members["error"].flatMap { $0 == .null ? nil : OpenAIStreamDecoder.Wire.ErrorField() }
    }
}

extension OpenAIStreamDecoder.Wire.Choice {
    init(members: JSONObject, path: String) throws {
        index = try members.int("index", in: path)
        finish_reason = try members.string("finish_reason", in: path)
        delta = try members.object("delta", in: path).map { delta in
            OpenAIStreamDecoder.Wire.Delta(
                content: try delta.string("content", in: "\(path).delta"),
                refusal: try delta.string("refusal", in: "\(path).delta"),
                tool_calls: try delta.array("tool_calls", in: "\(path).delta")?.enumerated().map { index, call in
                    try OpenAIStreamDecoder.Wire.ToolCallWire(members: call.members("\(path).delta.tool_calls[\(index)]"),
                                                              path: "\(path).delta.tool_calls[\(index)]")
                }
            )
        }
    }
}

extension OpenAIStreamDecoder.Wire.ToolCallWire {
    init(members: JSONObject, path: String) throws {
        index = try members.int("index", in: path)
        id = try members.string("id", in: path)
        function = try members.object("function", in: path).map { try OpenAIStreamDecoder.Wire.Function(members: $0, path: "\(path).function") }
    }
}

extension OpenAIStreamDecoder.Wire.Function {
    init(members: JSONObject, path: String) throws {
        name = try members.string("name", in: path)
        arguments = try members.string("arguments", in: path)
    }
}

extension OpenAIUsageWire {
    init(members: JSONObject, path: String) throws {
        prompt_tokens = try members.int("prompt_tokens", in: path)
        completion_tokens = try members.int("completion_tokens", in: path)
        total_tokens = try members.int("total_tokens", in: path)
        prompt_tokens_details = try members.object("prompt_tokens_details", in: path).map {
            try Details(members: $0, path: "\(path).prompt_tokens_details")
        }
        completion_tokens_details = try members.object("completion_tokens_details", in: path).map {
            try Details(members: $0, path: "\(path).completion_tokens_details")
        }
    }
}

extension OpenAIUsageWire.Details {
    init(members: JSONObject, path: String) throws {
        cached_tokens = try members.int("cached_tokens", in: path)
        reasoning_tokens = try members.int("reasoning_tokens", in: path)
    }
}
