import FleetSupport

/// Tokens one provider call used, normalised for billing.
///
/// ``inputTokens`` counts ALL prompt tokens, cached ones included; ``cachedTokens`` is the part
/// of them served from the provider's prompt cache. Cached tokens are billed once, at
/// ``ModelPricing/cached`` when the model lists it and at the input price otherwise; never twice.
/// ``cacheWriteTokens`` are the part written to Anthropic's prompt cache, which Anthropic bills
/// above the input price (``cacheWritePremium``).
/// Providers report this differently: use ``reported(_:promptTokens:outputTokens:cacheReadTokens:cacheWriteTokens:cacheWriteHourTokens:)``.
public struct CostUsage: Sendable, Hashable, Codable {
    /// All input tokens, cached included.
    public var inputTokens: Int
    public var outputTokens: Int
    /// Of ``inputTokens``, how many were cache reads.
    public var cachedTokens: Int
    /// Of ``inputTokens``, how many were written to the provider's prompt cache.
    public var cacheWriteTokens: Int
    /// Of ``cacheWriteTokens``, how many were written for an hour (the rest for five minutes).
    public var cacheWriteHourTokens: Int

    /// What Anthropic adds to the input price for a token written to its prompt cache: a
    /// five-minute write costs 1.25× the input price, an hour's 2× (its pricing page). fleetd's
    /// price list has no cache-write price, so these multipliers apply to the model's input price.
    public static let cacheWritePremium = (fiveMinutes: 0.25, hour: 1.0)

    public init(inputTokens: Int, outputTokens: Int, cachedTokens: Int = 0, cacheWriteTokens: Int = 0, cacheWriteHourTokens: Int = 0) {
        self.inputTokens = inputTokens
        self.outputTokens = outputTokens
        self.cachedTokens = cachedTokens
        self.cacheWriteTokens = cacheWriteTokens
        self.cacheWriteHourTokens = cacheWriteHourTokens
    }

    /// Records written before cache writes were counted read as none.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        inputTokens = try container.decode(Int.self, forKey: .inputTokens)
        outputTokens = try container.decode(Int.self, forKey: .outputTokens)
        cachedTokens = try container.decode(Int.self, forKey: .cachedTokens)
        cacheWriteTokens = try container.decodeIfPresent(Int.self, forKey: .cacheWriteTokens) ?? 0
        cacheWriteHourTokens = try container.decodeIfPresent(Int.self, forKey: .cacheWriteHourTokens) ?? 0
    }

    /// The usage of a call as fleetd's provider clients report it (``TokenUsage``): every
    /// provider's prompt count already includes the tokens read from its cache (the Anthropic
    /// decoders add `cache_read_input_tokens` and `cache_creation_input_tokens` to
    /// `input_tokens`; OpenAI's `prompt_tokens` and Google's `promptTokenCount` include them), so
    /// it is taken as is and the cached part is billed at the cached price. Ollama and the
    /// built-in responder have no cache.
    /// Cache writes are counted as reported: only Anthropic's clients report any (a task's usage
    /// summed over tool rounds keeps an earlier Anthropic round's writes whoever answered last).
    public static func reported(_ provider: ProviderKind, promptTokens: Int, outputTokens: Int, cacheReadTokens: Int = 0,
                                cacheWriteTokens: Int = 0, cacheWriteHourTokens: Int = 0) -> CostUsage {
        switch provider {
        case .anthropic, .openai, .xai, .google:
            CostUsage(inputTokens: promptTokens, outputTokens: outputTokens, cachedTokens: cacheReadTokens,
                      cacheWriteTokens: cacheWriteTokens, cacheWriteHourTokens: min(cacheWriteHourTokens, cacheWriteTokens))
        case .ollama, .builtin:
            CostUsage(inputTokens: promptTokens, outputTokens: outputTokens, cachedTokens: 0)
        }
    }

    /// US dollars: uncached input/1000 × input + cached/1000 × (cached ?? input) + output/1000 × output,
    /// plus the cache writes' premium over the input price (``cacheWritePremium``).
    /// - Throws: ``CostError`` COST_001 for negative counts, cached and written > input, or a bad price.
    public func cost(pricing: ModelPricing) throws -> Double {
        guard inputTokens >= 0, outputTokens >= 0, cachedTokens >= 0 else {
            throw CostError(.costCalculationFailed, "token counts must not be negative (input \(inputTokens), output \(outputTokens), cached \(cachedTokens))")
        }
        guard cachedTokens <= inputTokens else {
            throw CostError(.costCalculationFailed, "cached tokens (\(cachedTokens)) exceed input tokens (\(inputTokens)); cached tokens are part of the input count")
        }
        guard cacheWriteTokens >= 0, (0...cacheWriteTokens).contains(cacheWriteHourTokens), cachedTokens + cacheWriteTokens <= inputTokens else {
            throw CostError(.costCalculationFailed, "cache writes (\(cacheWriteTokens), \(cacheWriteHourTokens) for an hour) do not fit the input (\(inputTokens), \(cachedTokens) cached); they are part of the input count")
        }
        let prices = [pricing.input, pricing.output, pricing.cached ?? 0]
        guard prices.allSatisfy({ $0.isFinite && $0 >= 0 }) else {
            throw CostError(.costCalculationFailed, "prices must be finite and not negative (input \(pricing.input), output \(pricing.output), cached \(pricing.cached.map { "\($0)" } ?? "none"))")
        }
        let uncached = Double(inputTokens - cachedTokens)
        let premium = Double(cacheWriteTokens - cacheWriteHourTokens) * Self.cacheWritePremium.fiveMinutes
            + Double(cacheWriteHourTokens) * Self.cacheWritePremium.hour
        return uncached / 1000 * pricing.input
            + premium / 1000 * pricing.input
            + Double(cachedTokens) / 1000 * (pricing.cached ?? pricing.input)
            + Double(outputTokens) / 1000 * pricing.output
    }
}
