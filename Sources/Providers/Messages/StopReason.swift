/// Why a model stopped, in provider-neutral terms, and as each client dialect says it.
public enum StopReason: Sendable, Hashable {
    /// It finished its turn (Anthropic `end_turn`, OpenAI `stop`, Gemini `STOP`, Ollama `stop`).
    case endTurn
    /// It reached the token limit (`max_tokens`, `length`, `MAX_TOKENS`).
    case maxTokens
    /// A stop sequence matched (Anthropic's `stop_sequence`; OpenAI and Gemini say `stop`).
    case stopSequence
    /// It called tools (`tool_use`, `tool_calls`).
    case toolUse
    /// A safety system stopped it (`content_filter`, Gemini `SAFETY`, `RECITATION` …).
    case contentFilter
    /// The model declined, its text saying so (Anthropic's `refusal`; OpenAI's `refusal` text
    /// instead of content, which structured outputs give rather than JSON of the schema).
    case refusal

    /// A refusal or a filtered answer: not one to keep and give again.
    public var isWithheld: Bool { self == .contentFilter || self == .refusal }

    /// From a provider's finish reason, whatever its dialect; a turn that made tool calls is
    /// `toolUse` whatever the provider said (Gemini and Ollama say `STOP` / `stop`).
    public init(providerReason: String?, hasToolCalls: Bool) {
        switch providerReason?.lowercased() {
        case "max_tokens", "length", "model_length", "model_context_window_exceeded": self = .maxTokens
        case "stop_sequence": self = .stopSequence
        case "tool_use", "tool_calls", "function_call": self = .toolUse
        case "refusal": self = .refusal
        case "content_filter", "safety", "recitation", "blocklist", "prohibited_content", "spii", "image_safety":
            self = .contentFilter
        default: self = .endTurn
        }
        if hasToolCalls, self == .endTurn || self == .stopSequence { self = .toolUse }
    }

    /// OpenAI Chat Completions' `finish_reason`.
    public var openAI: String {
        switch self {
        case .endTurn, .stopSequence: "stop"
        case .maxTokens: "length"
        case .toolUse: "tool_calls"
        case .contentFilter: "content_filter"
        case .refusal: "stop" // with the text as the message's `refusal` (OpenAIChatResponse)
        }
    }

    /// Anthropic Messages' `stop_reason`.
    public var anthropic: String {
        switch self {
        case .endTurn: "end_turn"
        case .maxTokens: "max_tokens"
        case .stopSequence: "stop_sequence"
        case .toolUse: "tool_use"
        case .contentFilter, .refusal: "refusal"
        }
    }
}
