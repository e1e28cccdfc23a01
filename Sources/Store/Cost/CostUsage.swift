import FleetSupport

/// Tokens one provider call used, normalised for billing.
///
/// ``inputTokens`` counts ALL prompt tokens, cached ones included; ``cachedTokens`` is the part
/// of them served from the provider's prompt cache. Cached tokens are billed once, at
/// ``ModelPricing/cached`` when the model lists it and at the input price otherwise; never twice.
/// Providers report this differently: use ``reported(_:promptTokens:outputTokens:cacheReadTokens:)``.
public struct CostUsage: Sendable, Hashable, Codable {
    /// All input tokens, cached included.
    public var inputTokens: Int
    public var outputTokens: Int
    /// Of ``inputTokens``, how many were cache reads.
    public var cachedTokens: Int

    public init(inputTokens: Int, outputTokens: Int, cachedTokens: Int = 0) {
        self.inputTokens = inputTokens
        self.outputTokens = outputTokens
        self.cachedTokens = cachedTokens
    }

    /// The usage of a call as fleetd's provider clients report it (``TokenUsage``): every
    /// provider's prompt count already includes the tokens read from its cache (the Anthropic
    /// decoders add `cache_read_input_tokens` and `cache_creation_input_tokens` to
    /// `input_tokens`; OpenAI's `prompt_tokens` and Google's `promptTokenCount` include them), so
    /// it is taken as is and the cached part is billed at the cached price. Ollama and the
    /// built-in responder have no cache.
    public static func reported(_ provider: ProviderKind, promptTokens: Int, outputTokens: Int, cacheReadTokens: Int = 0) -> CostUsage {
        switch provider {
        case .anthropic, .openai, .xai, .google:
            CostUsage(inputTokens: promptTokens, outputTokens: outputTokens, cachedTokens: cacheReadTokens)
        case .ollama, .builtin:
            CostUsage(inputTokens: promptTokens, outputTokens: outputTokens, cachedTokens: 0)
        }
    }

    /// US dollars: uncached input/1000 × input + cached/1000 × (cached ?? input) + output/1000 × output.
    /// - Throws: ``CostError`` COST_001 for negative counts, cached > input, or a bad price.
    public func cost(pricing: ModelPricing) throws -> Double {
        guard inputTokens >= 0, outputTokens >= 0, cachedTokens >= 0 else {
            throw CostError(.costCalculationFailed, "token counts must not be negative (input \(inputTokens), output \(outputTokens), cached \(cachedTokens))")
        }
        guard cachedTokens <= inputTokens else {
            throw CostError(.costCalculationFailed, "cached tokens (\(cachedTokens)) exceed input tokens (\(inputTokens)); cached tokens are part of the input count")
        }
        let prices = [pricing.input, pricing.output, pricing.cached ?? 0]
        guard prices.allSatisfy({ $0.isFinite && $0 >= 0 }) else {
            throw CostError(.costCalculationFailed, "prices must be finite and not negative (input \(pricing.input), output \(pricing.output), cached \(pricing.cached.map { "\($0)" } ?? "none"))")
        }
        let uncached = Double(inputTokens - cachedTokens)
        return uncached / 1000 * pricing.input
            + Double(cachedTokens) / 1000 * (pricing.cached ?? pricing.input)
            + Double(outputTokens) / 1000 * pricing.output
    }
}
