/// One message of a conversation sent to a model: who said it and its content blocks (text,
/// images, tool calls, tool results; see ``ContentBlock``).
public struct ProviderMessage: Sendable, Hashable, Codable {
    /// Who said it. The system prompt is ``ProviderRequest/system``; `system` here is an
    /// instruction a client put later in the conversation (OpenAI and Ollama take one anywhere,
    /// Anthropic's wire folds it into a user turn in its place, and
    /// ``ProviderRequest/unsupportedFeatures(on:)`` keeps Gemini away). Tool results are blocks of
    /// a user message, as in Anthropic's model.
    public enum Role: String, Sendable, Hashable, Codable {
        case user, assistant, system
    }

    public var role: Role
    public var blocks: [ContentBlock]
    /// Prompt-cache breakpoints, by the index in ``blocks`` of the block each follows.
    public var cacheMarks: [Int: CacheMark]?
    /// OpenAI's `detail` for images (`low`, `high`, `auto`), by the index in ``blocks``: the
    /// resolution OpenAI reads the image at, and bills (a `low` image is 85 tokens). Only OpenAI's
    /// format has it; other providers choose their own.
    public var imageDetails: [Int: String]?

    /// A message of one text block.
    public init(role: Role, content: String) {
        self.role = role
        self.blocks = [.text(content)]
    }

    public init(role: Role, blocks: [ContentBlock]) {
        self.role = role
        self.blocks = blocks
    }

    /// The message's text: its text blocks joined with blank lines (tool calls, tool results and
    /// images are in ``blocks``).
    public var content: String {
        var texts = blocks.compactMap(\.text)
        if texts.count == 1 { return texts.removeFirst() }
        return texts.joined(separator: "\n\n")
    }

    /// The tool calls among the blocks.
    public var toolUses: [ToolUse] {
        blocks.compactMap { if case .toolUse(let use) = $0 { return use } else { return nil } }
    }

    /// The tool results among the blocks.
    public var toolResults: [ToolResult] {
        blocks.compactMap { if case .toolResult(let result) = $0 { return result } else { return nil } }
    }
}

/// A model call, in provider-neutral terms; each client maps it to its wire format. Fields a
/// provider's format cannot carry are listed by ``unsupportedFeatures(on:)``.
public struct ProviderRequest: Sendable, Hashable, Codable {
    /// The provider's model id sent on the wire (e.g. `claude-sonnet-4-5`).
    public var model: String
    /// The system prompt, if any.
    public var system: String?
    public var messages: [ProviderMessage]
    /// The most output tokens to generate.
    public var maxTokens: Int
    /// Sampling temperature; `nil` leaves the provider's default.
    public var temperature: Double?
    /// Nucleus sampling; `nil` leaves the provider's default.
    public var topP: Double?
    /// Top-k sampling (Anthropic, Gemini, Ollama).
    public var topK: Int?
    /// Texts that end generation.
    public var stopSequences: [String]
    /// Tools the model may call.
    public var tools: [ToolDefinition]
    public var toolChoice: ToolChoice?
    /// `false` asks for at most one tool call per turn.
    public var parallelToolCalls: Bool?
    /// JSON output, where the provider has a mode for it.
    public var responseFormat: ResponseFormat?
    public var seed: Int?
    public var presencePenalty: Double?
    public var frequencyPenalty: Double?
    /// `true` when a final assistant message is the start of the answer, to be continued (an
    /// Anthropic client's prefill), not a turn to answer after: OpenAI's and Gemini's formats
    /// have no way to say so (``unsupportedFeatures(on:)``).
    public var continuesLastAssistantTurn: Bool?
    /// A breakpoint in the system prompt.
    public var systemCacheBreak: SystemCacheBreak?
    /// The request's own cache setting (Anthropic's automatic caching: the provider places the
    /// breakpoint).
    public var cacheMark: CacheMark?
    /// Extended thinking (Anthropic's format carries it; the others answer without).
    public var thinking: ThinkingSetting?
    /// OpenAI's `reasoning_effort` (`none`, `minimal`, `low`, `medium`, `high`, `xhigh`): sent as it
    /// is to OpenAI-format reasoning models, and to Claude models that think as a thinking budget
    /// (``ThinkingSetting/forEffort(_:)``, up to Claude 4.5) or as adaptive thinking with that
    /// `output_config.effort` (4.6 and later); other models answer without.
    public var reasoningEffort: String?
    /// Anthropic's `output_config.effort` (`low`, `medium`, `high`, `xhigh`, `max`): how much the
    /// newer Claude models spend, thinking included (with adaptive thinking it replaces a budget).
    /// Sent to Anthropic models that take it (``AnthropicWireRequest/effort(for:)``), and to
    /// OpenAI-format reasoning models as their `reasoning_effort` (`xhigh` and `max` as `high`).
    public var effort: String?

    public init(model: String, system: String? = nil, messages: [ProviderMessage], maxTokens: Int = 1024, temperature: Double? = nil,
                topP: Double? = nil, topK: Int? = nil, stopSequences: [String] = [], tools: [ToolDefinition] = [],
                toolChoice: ToolChoice? = nil, parallelToolCalls: Bool? = nil, responseFormat: ResponseFormat? = nil,
                seed: Int? = nil, presencePenalty: Double? = nil, frequencyPenalty: Double? = nil) {
        self.model = model
        self.system = system
        self.messages = messages
        self.maxTokens = maxTokens
        self.temperature = temperature
        self.topP = topP
        self.topK = topK
        self.stopSequences = stopSequences
        self.tools = tools
        self.toolChoice = toolChoice
        self.parallelToolCalls = parallelToolCalls
        self.responseFormat = responseFormat
        self.seed = seed
        self.presencePenalty = presencePenalty
        self.frequencyPenalty = frequencyPenalty
    }

    /// A single user prompt.
    public init(model: String, prompt: String, system: String? = nil, maxTokens: Int = 1024) {
        self.init(model: model, system: system, messages: [ProviderMessage(role: .user, content: prompt)], maxTokens: maxTokens)
    }
}

/// Token counts for one call, taken once from wherever the provider reports them.
public struct TokenUsage: Sendable, Hashable, Codable {
    /// Prompt tokens, those read from or written to the provider's cache included (the Anthropic
    /// decoders add its separate cache counts to `input_tokens`).
    public var inputTokens: Int
    /// Generated tokens (including reasoning tokens where the provider counts them there).
    public var outputTokens: Int
    /// Input tokens served from the provider's prompt cache (cache reads).
    public var cachedInputTokens: Int
    /// Reasoning / thinking tokens where reported.
    public var reasoningTokens: Int
    /// Input tokens written to the provider's prompt cache (Anthropic's `cache_creation_input_tokens`).
    public var cacheWriteInputTokens: Int
    /// Of ``cacheWriteInputTokens``, those written for an hour (`cache_creation.ephemeral_1h_input_tokens`).
    public var cacheWriteHourInputTokens: Int

    public init(inputTokens: Int = 0, outputTokens: Int = 0, cachedInputTokens: Int = 0, reasoningTokens: Int = 0,
                cacheWriteInputTokens: Int = 0, cacheWriteHourInputTokens: Int = 0) {
        self.inputTokens = inputTokens
        self.outputTokens = outputTokens
        self.cachedInputTokens = cachedInputTokens
        self.reasoningTokens = reasoningTokens
        self.cacheWriteInputTokens = cacheWriteInputTokens
        self.cacheWriteHourInputTokens = cacheWriteHourInputTokens
    }

    /// Usage recorded before cache writes were counted reads as none.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        inputTokens = try container.decode(Int.self, forKey: .inputTokens)
        outputTokens = try container.decode(Int.self, forKey: .outputTokens)
        cachedInputTokens = try container.decode(Int.self, forKey: .cachedInputTokens)
        reasoningTokens = try container.decode(Int.self, forKey: .reasoningTokens)
        cacheWriteInputTokens = try container.decodeIfPresent(Int.self, forKey: .cacheWriteInputTokens) ?? 0
        cacheWriteHourInputTokens = try container.decodeIfPresent(Int.self, forKey: .cacheWriteHourInputTokens) ?? 0
    }

    /// Input plus output.
    public var totalTokens: Int { inputTokens + outputTokens }
}

/// A piece of a tool call as it streams in.
public struct ToolCallDelta: Sendable, Hashable {
    /// Which tool call of the response this belongs to (0-based).
    public var index: Int
    /// The call id, on the first delta of a call.
    public var id: String?
    /// The tool name, on the first delta of a call.
    public var name: String?
    /// A fragment of the JSON arguments (concatenate the fragments of one index).
    public var argumentsFragment: String
    /// The provider's opaque signature of the call (Gemini's `thoughtSignature`), to be sent back
    /// with the call in the conversation's next turn.
    public var signature: String?

    public init(index: Int, id: String? = nil, name: String? = nil, argumentsFragment: String = "", signature: String? = nil) {
        self.index = index
        self.id = id
        self.name = name
        self.argumentsFragment = argumentsFragment
        self.signature = signature
    }
}

/// A complete tool call.
public struct ToolCall: Sendable, Hashable, Codable {
    public var id: String?
    public var name: String
    /// The arguments as JSON text.
    public var arguments: String
    /// The provider's opaque signature of the call (Gemini's `thoughtSignature`).
    public var signature: String?

    public init(id: String? = nil, name: String, arguments: String, signature: String? = nil) {
        self.id = id
        self.name = name
        self.arguments = arguments
        self.signature = signature
    }
}

/// One normalised event of a streaming model response.
public enum ProviderEvent: Sendable, Hashable {
    /// More answer text.
    case textDelta(String)
    /// A piece of a tool call. Indirect (boxed), as usage is: inline they set every event's size,
    /// and an event takes a slot in each async frame that awaits one, on the chain an open
    /// stream's producer keeps (docs/performance.md, "Memory per open stream").
    indirect case toolCallDelta(ToolCallDelta)
    /// Why generation stopped, in the provider's own words (`end_turn`, `stop`, `STOP`, `tool_calls`…).
    case finish(reason: String)
    /// The call's token usage so far (Anthropic reports its input at the start); the last one
    /// sent is the whole call's.
    indirect case usage(TokenUsage)
    /// A chunk that could not be understood (e.g. malformed JSON); the stream goes on without it
    /// (``StreamingTool`` reports it as STREAM_003 ChunkValidationFailed).
    case invalidChunk(reason: String)
    /// A piece of the model's extended thinking (Anthropic).
    case thinking(ThinkingDelta)
}

/// A piece of one thinking block as it streams in: its text, its signature (which ends it), or a
/// redacted block's data (which is whole).
public struct ThinkingDelta: Sendable, Hashable, Codable {
    public enum Part: Sendable, Hashable {
        case text(String)
        case signature(String)
        case redacted(String)
    }

    /// Which thinking block of the answer this belongs to (0-based, counting thinking blocks only).
    public var index: Int
    public var part: Part

    public init(index: Int, part: Part) {
        self.index = index
        self.part = part
    }

    // As JSON (`POST /v1/tasks`' `thinking` event): `{"index": 0, "thinking": "…"}`, with
    // `signature` or `redacted` in place of `thinking` for those parts.
    private enum CodingKeys: String, CodingKey {
        case index, thinking, signature, redacted
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        index = try container.decode(Int.self, forKey: .index)
        if let text = try container.decodeIfPresent(String.self, forKey: .thinking) {
            part = .text(text)
        } else if let signature = try container.decodeIfPresent(String.self, forKey: .signature) {
            part = .signature(signature)
        } else {
            part = .redacted(try container.decode(String.self, forKey: .redacted))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(index, forKey: .index)
        switch part {
        case .text(let text): try container.encode(text, forKey: .thinking)
        case .signature(let signature): try container.encode(signature, forKey: .signature)
        case .redacted(let data): try container.encode(data, forKey: .redacted)
        }
    }

    /// The thinking blocks these pieces make (``ThinkingAssembly``).
    public static func blocks(_ deltas: [ThinkingDelta]) -> [ContentBlock] {
        var assembly = ThinkingAssembly()
        for delta in deltas { assembly.add(delta) }
        return assembly.blocks
    }

    /// The pieces that tell a whole thinking block as thinking block `index`; none for another kind.
    public static func deltas(telling block: ContentBlock, index: Int) -> [ThinkingDelta] {
        switch block {
        case .thinking(let text, let signature):
            (text.isEmpty ? [] : [ThinkingDelta(index: index, part: .text(text))]) + [ThinkingDelta(index: index, part: .signature(signature))]
        case .redactedThinking(let data):
            [ThinkingDelta(index: index, part: .redacted(data))]
        case .text, .image, .toolUse, .toolResult, .document:
            []
        }
    }
}

/// Thinking blocks put together from their pieces as they stream in, by index: texts joined, the
/// signature kept, a redacted block's data whole.
public struct ThinkingAssembly: Sendable {
    private var parts: [Int: (text: String, signature: String, redacted: String?)] = [:]

    public init() {}

    public var isEmpty: Bool { parts.isEmpty }

    public mutating func add(_ delta: ThinkingDelta) {
        var block = parts[delta.index] ?? (text: "", signature: "", redacted: nil)
        switch delta.part {
        case .text(let text): block.text += text
        case .signature(let signature): block.signature += signature
        case .redacted(let data): block.redacted = data
        }
        parts[delta.index] = block
    }

    /// The blocks, in order.
    public var blocks: [ContentBlock] {
        parts.keys.sorted().compactMap { key in
            guard let block = parts[key] else { return nil }
            if let data = block.redacted { return .redactedThinking(data: data) }
            return .thinking(text: block.text, signature: block.signature)
        }
    }
}

/// The whole answer of a non-streaming call (or an assembled stream).
public struct ProviderResponse: Sendable, Hashable {
    public var text: String
    public var toolCalls: [ToolCall]
    public var finishReason: String?
    public var usage: TokenUsage?
    /// The model that answered, as the provider reports it (may differ from the requested alias).
    public var model: String?
    /// When the answer has thinking (Anthropic's extended thinking): its thinking and text blocks
    /// in the order they came; empty otherwise (``text`` is then the whole of it).
    public var content: [ContentBlock]

    public init(text: String, toolCalls: [ToolCall] = [], finishReason: String? = nil, usage: TokenUsage? = nil, model: String? = nil,
                content: [ContentBlock] = []) {
        self.text = text
        self.toolCalls = toolCalls
        self.finishReason = finishReason
        self.usage = usage
        self.model = model
        self.content = content
    }

    /// The thinking blocks, in order.
    public var thinking: [ContentBlock] { content.filter(\.isThinking) }
}
