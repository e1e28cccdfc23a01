import Store

/// List prices and limits of the hosted models a v1.0.4 `ai.model` can name, matched by model id
/// prefix (the longest prefix wins, so `gpt-4o-mini-2024-07-18` is gpt-4o-mini, not gpt-4o).
///
/// Used for a v1.0.4 file's one model, loaded as is or migrated (``LegacyAIModel``,
/// ``ConfigMigrator``). Prices are US dollars per 1,000 tokens, the providers' published list prices
/// (standard tier; Gemini's for prompts up to 200k tokens, Gemini 1.5's up to 128k). Where
/// `config/fleet.yaml` lists the same model, the figures are its figures (a test keeps the two in
/// step). Ollama models cost nothing and are not listed here; an id this list does not know gets
/// ``LegacyAIModel/fallbackPricing`` and a warning from the migration.
public enum ModelPriceList {
    /// One model family.
    public struct Entry: Sendable, Equatable {
        /// The lowercased model id prefix this entry covers.
        public var prefix: String
        /// The context window, in tokens.
        public var contextWindow: Int
        /// The longest answer, in tokens, when the provider documents one.
        public var maxOutputTokens: Int?
        public var pricing: ModelPricing
    }

    /// The list, per 1,000 tokens: input, output, cached (cache-read) input where billed apart.
    public static let entries: [Entry] = [
        // Anthropic
        entry("claude-opus-4-5", 200_000, 64_000, 0.005, 0.025, cached: 0.0005),
        entry("claude-opus-4-1", 200_000, 32_000, 0.015, 0.075, cached: 0.0015),
        entry("claude-opus-4", 200_000, 32_000, 0.015, 0.075, cached: 0.0015),
        entry("claude-sonnet-4-5", 200_000, 64_000, 0.003, 0.015, cached: 0.0003),
        entry("claude-sonnet-4", 200_000, 64_000, 0.003, 0.015, cached: 0.0003),
        entry("claude-haiku-4-5", 200_000, 64_000, 0.001, 0.005, cached: 0.0001),
        entry("claude-3-7-sonnet", 200_000, 64_000, 0.003, 0.015, cached: 0.0003),
        entry("claude-3-5-sonnet", 200_000, 8_192, 0.003, 0.015, cached: 0.0003),
        entry("claude-3-5-haiku", 200_000, 8_192, 0.0008, 0.004, cached: 0.00008),
        entry("claude-3-opus", 200_000, 4_096, 0.015, 0.075, cached: 0.0015),
        entry("claude-3-sonnet", 200_000, 4_096, 0.003, 0.015),
        entry("claude-3-haiku", 200_000, 4_096, 0.00025, 0.00125, cached: 0.00003),
        // OpenAI
        entry("gpt-4o-mini", 128_000, 16_384, 0.00015, 0.0006, cached: 0.000075),
        entry("gpt-4o", 128_000, 16_384, 0.0025, 0.01, cached: 0.00125),
        entry("gpt-4.1-nano", 1_047_576, 32_768, 0.0001, 0.0004, cached: 0.000025),
        entry("gpt-4.1-mini", 1_047_576, 32_768, 0.0004, 0.0016, cached: 0.0001),
        entry("gpt-4.1", 1_047_576, 32_768, 0.002, 0.008, cached: 0.0005),
        entry("o1-mini", 128_000, 65_536, 0.0011, 0.0044, cached: 0.00055),
        entry("o1-pro", 200_000, 100_000, 0.15, 0.6),
        entry("o1", 200_000, 100_000, 0.015, 0.06, cached: 0.0075),
        entry("o3-mini", 200_000, 100_000, 0.0011, 0.0044, cached: 0.00055),
        entry("o3-pro", 200_000, 100_000, 0.02, 0.08),
        entry("o3", 200_000, 100_000, 0.002, 0.008, cached: 0.0005),
        entry("o4-mini", 200_000, 100_000, 0.0011, 0.0044, cached: 0.000275),
        // Google
        entry("gemini-2.5-pro", 1_000_000, 65_536, 0.00125, 0.01),
        entry("gemini-2.5-flash-lite", 1_000_000, 65_536, 0.0001, 0.0004),
        entry("gemini-2.5-flash", 1_000_000, 65_536, 0.0003, 0.0025),
        entry("gemini-2.0-flash-lite", 1_000_000, 8_192, 0.000075, 0.0003),
        entry("gemini-2.0-flash", 1_000_000, 8_192, 0.0001, 0.0004),
        entry("gemini-1.5-pro", 2_000_000, 8_192, 0.00125, 0.005),
        entry("gemini-1.5-flash-8b", 1_000_000, 8_192, 0.0000375, 0.00015),
        entry("gemini-1.5-flash", 1_000_000, 8_192, 0.000075, 0.0003),
        // xAI
        entry("grok-4-fast", 2_000_000, nil, 0.0002, 0.0005),
        entry("grok-4", 256_000, nil, 0.003, 0.015),
        entry("grok-code-fast", 256_000, nil, 0.0002, 0.0015),
        entry("grok-3-mini", 131_072, nil, 0.0003, 0.0005),
        entry("grok-3", 131_072, nil, 0.003, 0.015),
        entry("grok-2", 131_072, nil, 0.002, 0.01),
    ]

    /// The entry for a model id: the one with the longest prefix that starts the lowercased id.
    public static func entry(for modelID: String) -> Entry? {
        let id = modelID.lowercased()
        return entries.filter { id.hasPrefix($0.prefix) }.max { $0.prefix.count < $1.prefix.count }
    }

    private static func entry(_ prefix: String, _ contextWindow: Int, _ maxOutputTokens: Int?,
                              _ input: Double, _ output: Double, cached: Double? = nil) -> Entry {
        Entry(prefix: prefix, contextWindow: contextWindow, maxOutputTokens: maxOutputTokens,
              pricing: ModelPricing(input: input, output: output, cached: cached))
    }
}
