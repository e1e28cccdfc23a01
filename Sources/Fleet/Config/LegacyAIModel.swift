import FleetSupport
import Routing
import Store

/// v1.0.4's one model, `ai.model`, as v1.0.5 sees it: the only and default model when a file has
/// no `routing.models`. The migration script writes the same model out (``ConfigMigrator``), so a
/// v1.0.4 file behaves the same migrated or not.
public enum LegacyAIModel {
    /// For an id ``ModelPriceList`` does not know: Claude Sonnet's list prices, $3.00 / $15.00 per
    /// million tokens, in the field's unit (per 1,000 tokens). The migration says when it used them.
    public static let fallbackPricing = ModelPricing(input: 0.003, output: 0.015)
    /// The context window for an id ``ModelPriceList`` does not know.
    public static let fallbackContextWindow = 200_000
    /// The context window assumed for an Ollama model (local models vary; most hold at least this).
    public static let localContextWindow = 32_768

    /// The model fleetd calls for a v1.0.4 `ai.model: <id>`.
    public static func model(id: String) -> ModelConfiguration {
        ModelConfiguration(name: id, provider: inferProvider(id), model: id,
                           capabilities: capabilities(id: id).capabilities,
                           complexityRange: ComplexityRange(min: 0, max: 1))
    }

    /// The limits and prices of `id`: from ``ModelPriceList``, free for an Ollama model, else the
    /// fallback, with `listed` false.
    public static func capabilities(id: String) -> (capabilities: ModelCapabilities, listed: Bool) {
        if inferProvider(id) == .ollama {
            return (ModelCapabilities(maxTokens: localContextWindow, supportsStreaming: true,
                                      costPer1kTokens: ModelPricing(input: 0, output: 0)), true)
        }
        guard let entry = ModelPriceList.entry(for: id) else {
            return (ModelCapabilities(maxTokens: fallbackContextWindow, supportsStreaming: true,
                                      costPer1kTokens: fallbackPricing), false)
        }
        return (ModelCapabilities(maxTokens: entry.contextWindow, supportsStreaming: true,
                                  costPer1kTokens: entry.pricing, maxOutputTokens: entry.maxOutputTokens), true)
    }

    /// v1.0.4 only named a model and called Anthropic. The provider from the model id's
    /// well-known prefixes, falling back to Anthropic.
    public static func inferProvider(_ model: String) -> ProviderKind {
        let id = model.lowercased()
        if id.hasPrefix("gpt") || id.hasPrefix("o1") || id.hasPrefix("o3") || id.hasPrefix("o4") { return .openai }
        if id.hasPrefix("gemini") { return .google }
        if id.hasPrefix("grok") { return .xai }
        if id.hasPrefix("llama") || id.hasPrefix("qwen") || id.hasPrefix("mistral") || id.hasPrefix("gemma") || id.contains(":") { return .ollama }
        return .anthropic
    }
}
