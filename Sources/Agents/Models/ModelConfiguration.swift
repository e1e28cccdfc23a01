import Streaming

/// One model fleetd may route to: `routing.models[]` in the config file.
public struct ModelConfiguration: Sendable, Codable, Hashable {
    /// The name tasks, budgets and logs use (unique in a config).
    public var name: String
    /// The wire protocol family.
    public var provider: ProviderKind
    /// The provider's own model id, sent on the wire.
    public var model: String
    public var capabilities: ModelCapabilities
    public var complexityRange: ComplexityRange
    public var enabled: Bool
    /// Where and how to reach it; `nil` means the provider's defaults.
    public var credentials: ModelCredentials?

    public init(
        name: String,
        provider: ProviderKind,
        model: String,
        capabilities: ModelCapabilities = ModelCapabilities(),
        complexityRange: ComplexityRange = ComplexityRange(),
        enabled: Bool = true,
        credentials: ModelCredentials? = nil
    ) {
        self.name = name
        self.provider = provider
        self.model = model
        self.capabilities = capabilities
        self.complexityRange = complexityRange
        self.enabled = enabled
        self.credentials = credentials
    }
}

/// What a model can do and what it costs.
public struct ModelCapabilities: Sendable, Codable, Hashable {
    /// The context window, in tokens.
    public var maxTokens: Int
    public var supportsStreaming: Bool
    public var costPer1kTokens: ModelPricing

    public init(maxTokens: Int = 128_000, supportsStreaming: Bool = true, costPer1kTokens: ModelPricing = ModelPricing()) {
        self.maxTokens = maxTokens
        self.supportsStreaming = supportsStreaming
        self.costPer1kTokens = costPer1kTokens
    }
}

/// Prices in US dollars per 1,000 tokens.
public struct ModelPricing: Sendable, Codable, Hashable {
    public var input: Double
    public var output: Double
    /// Price of cached (cache-read) input tokens; `nil` bills them as ordinary input.
    public var cached: Double?

    public init(input: Double = 0, output: Double = 0, cached: Double? = nil) {
        self.input = input
        self.output = output
        self.cached = cached
    }
}

/// The complexity scores (0…1, inclusive) a model is meant for.
public struct ComplexityRange: Sendable, Codable, Hashable {
    public var min: Double
    public var max: Double

    public init(min: Double = 0, max: Double = 1) {
        self.min = min
        self.max = max
    }

    public func contains(_ score: Double) -> Bool { score >= min && score <= max }
}

/// How to reach a model: its base URL and the environment variable holding its key.
///
/// The key itself is never part of the configuration: only the variable's name is.
public struct ModelCredentials: Sendable, Codable, Hashable {
    /// Base URL as the provider's SDK takes it (see ``ProviderKind/defaultBaseURL``).
    public var endpoint: String?
    /// Environment variable with the API key; `nil` uses ``ProviderKind/defaultAPIKeyVariable``.
    public var apiKeyEnv: String?

    public init(endpoint: String? = nil, apiKeyEnv: String? = nil) {
        self.endpoint = endpoint
        self.apiKeyEnv = apiKeyEnv
    }
}
