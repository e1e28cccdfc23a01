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
