import FleetSupport
import Store

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
    /// How good the model's answers are, 0 (weak) … 1 (strongest), for the router's quality factor
    /// and `minQuality` constraints. `nil` derives it from the complexity range (its midpoint).
    public var qualityScore: Double?
    /// Typical time to a complete answer in milliseconds, used until outcomes have been observed.
    /// `nil` means ``RoutingConfiguration/assumedLatencyMs``.
    public var typicalLatencyMs: Double?
    /// Task types the model is especially good at (the capability factor); empty means a generalist.
    public var strengths: [TaskType]
    /// The environment variable whose API key is not set, when fleetd switched the model off for
    /// that (``enabled`` is then false): the router's trace, the compatible endpoints' refusal and
    /// their model lists say so rather than "disabled". Never read from or written to the file.
    public var missingAPIKeyVariable: String?

    public init(
        name: String,
        provider: ProviderKind,
        model: String,
        capabilities: ModelCapabilities = ModelCapabilities(),
        complexityRange: ComplexityRange = ComplexityRange(),
        enabled: Bool = true,
        credentials: ModelCredentials? = nil,
        qualityScore: Double? = nil,
        typicalLatencyMs: Double? = nil,
        strengths: [TaskType] = []
    ) {
        self.name = name
        self.provider = provider
        self.model = model
        self.capabilities = capabilities
        self.complexityRange = complexityRange
        self.enabled = enabled
        self.credentials = credentials
        self.qualityScore = qualityScore
        self.typicalLatencyMs = typicalLatencyMs
        self.strengths = strengths
    }

    private enum CodingKeys: String, CodingKey {
        case name, provider, model, capabilities, complexityRange, enabled, credentials
        case qualityScore, typicalLatencyMs, strengths
    }

    /// Decodes a model; every field but `name`, `provider` and `model` may be absent and takes its default.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decode(String.self, forKey: .name)
        provider = try c.decode(ProviderKind.self, forKey: .provider)
        model = try c.decode(String.self, forKey: .model)
        capabilities = try c.decodeIfPresent(ModelCapabilities.self, forKey: .capabilities) ?? ModelCapabilities()
        complexityRange = try c.decodeIfPresent(ComplexityRange.self, forKey: .complexityRange) ?? ComplexityRange()
        enabled = try c.decodeIfPresent(Bool.self, forKey: .enabled) ?? true
        credentials = try c.decodeIfPresent(ModelCredentials.self, forKey: .credentials)
        qualityScore = try c.decodeIfPresent(Double.self, forKey: .qualityScore)
        typicalLatencyMs = try c.decodeIfPresent(Double.self, forKey: .typicalLatencyMs)
        strengths = try c.decodeIfPresent([TaskType].self, forKey: .strengths) ?? []
    }

    /// Why the model is off, for traces and errors: its missing key, else the configuration.
    public var disabledReason: String {
        missingAPIKeyVariable.map { "no API key (\($0) not set)" } ?? "disabled in the configuration"
    }

    /// The quality the router assumes: ``qualityScore`` or the midpoint of the complexity range.
    public var effectiveQuality: Double {
        qualityScore ?? (complexityRange.min + complexityRange.max) / 2
    }
}

/// What a model can do and what it costs.
public struct ModelCapabilities: Sendable, Codable, Hashable {
    /// The context window, in tokens.
    public var maxTokens: Int
    public var supportsStreaming: Bool
    public var costPer1kTokens: ModelPricing
    /// Whether the model can call tools.
    public var supportsTools: Bool
    /// The kinds of input the model accepts; a task with other attachments cannot go to it.
    public var inputModalities: Set<InputModality>
    /// The longest answer the model gives, in tokens; `nil` when only the context window limits it.
    public var maxOutputTokens: Int?

    public init(
        maxTokens: Int = 128_000,
        supportsStreaming: Bool = true,
        costPer1kTokens: ModelPricing = ModelPricing(),
        supportsTools: Bool = true,
        inputModalities: Set<InputModality> = [.text],
        maxOutputTokens: Int? = nil
    ) {
        self.maxTokens = maxTokens
        self.supportsStreaming = supportsStreaming
        self.costPer1kTokens = costPer1kTokens
        self.supportsTools = supportsTools
        self.inputModalities = inputModalities
        self.maxOutputTokens = maxOutputTokens
    }

    private enum CodingKeys: String, CodingKey {
        case maxTokens, supportsStreaming, costPer1kTokens, supportsTools, inputModalities, maxOutputTokens
    }

    /// Decodes capabilities; absent fields take their defaults.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        maxTokens = try c.decodeIfPresent(Int.self, forKey: .maxTokens) ?? 128_000
        supportsStreaming = try c.decodeIfPresent(Bool.self, forKey: .supportsStreaming) ?? true
        costPer1kTokens = try c.decodeIfPresent(ModelPricing.self, forKey: .costPer1kTokens) ?? ModelPricing()
        supportsTools = try c.decodeIfPresent(Bool.self, forKey: .supportsTools) ?? true
        inputModalities = try c.decodeIfPresent(Set<InputModality>.self, forKey: .inputModalities) ?? [.text]
        maxOutputTokens = try c.decodeIfPresent(Int.self, forKey: .maxOutputTokens)
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
