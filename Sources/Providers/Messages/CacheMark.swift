/// A prompt-cache breakpoint as Anthropic's API takes it (`cache_control: {"type": "ephemeral"}`,
/// with an optional `ttl`): the prompt up to and including the marked part (tools, then the
/// system prompt, then the messages) is written to the provider's cache, and read from it by a
/// later call that starts the same way. Only Anthropic's format carries marks; OpenAI and Gemini
/// cache long prompts on their own, Ollama keeps its context, so the others leave them out and
/// nothing changes in their answers.
public struct CacheMark: Sendable, Hashable, Codable {
    /// `5m` or `1h`; `nil` is Anthropic's default (5 minutes).
    public var ttl: String?

    public init(ttl: String? = nil) {
        self.ttl = ttl
    }
}

/// A breakpoint in the system prompt: after all of it but ``textAfter`` (the blocks a client put
/// after its marked one, such as a date that changes every call, joined as the prompt joins them).
/// Counted from the end, it stays right when the agent type's own prompt goes in front.
public struct SystemCacheBreak: Sendable, Hashable, Codable {
    public var mark: CacheMark
    /// The system prompt's text after the breakpoint; empty when it is at the end.
    public var textAfter: String

    public init(mark: CacheMark, textAfter: String = "") {
        self.mark = mark
        self.textAfter = textAfter
    }
}

/// The longest a request's breakpoints may keep what they write: what its cost is bounded by.
public enum PromptCacheWrites: Sendable, Hashable {
    case none, fiveMinutes, hour
}

extension ProviderRequest {
    /// The longest write this request's breakpoints ask for (`none` without any).
    public var promptCacheWrites: PromptCacheWrites {
        guard hasCacheMarks else { return .none }
        var marks = [cacheMark, systemCacheBreak?.mark].compactMap { $0 } + tools.compactMap(\.cacheMark)
        for message in messages { marks += message.cacheMarks.map { Array($0.values) } ?? [] }
        return marks.contains { $0.ttl == "1h" } ? .hour : .fiveMinutes
    }

    /// Whether any prompt-cache breakpoint is set.
    public var hasCacheMarks: Bool {
        cacheMark != nil || systemCacheBreak != nil || tools.contains { $0.cacheMark != nil } || messages.contains { $0.cacheMarks != nil }
    }

    /// The request without its breakpoints: what the answer depends on (a response-cache key).
    public var withoutCacheMarks: ProviderRequest {
        guard hasCacheMarks else { return self }
        var request = self
        request.cacheMark = nil
        request.systemCacheBreak = nil
        for index in request.tools.indices { request.tools[index].cacheMark = nil }
        for index in request.messages.indices { request.messages[index].cacheMarks = nil }
        return request
    }
}
