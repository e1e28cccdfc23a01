/// The router's settings: `routing:` in the config file (docs/routing.md, "Configuration reference").
///
/// Every field has a default, so `RoutingConfiguration()` is a valid (if empty) configuration.
public struct RoutingConfiguration: Sendable, Codable, Hashable {
    /// The router is used at all. `false` behaves like `useRouter: false`: every task goes to ``defaultModel``.
    public var enabled: Bool
    /// The model used when the router is off, and the fallback after the ranked candidates.
    /// Should name a model in ``models``; `nil` means there is none.
    public var defaultModel: String?
    /// Every model routing may use, in configuration order (names unique).
    public var models: [ModelConfiguration]
    /// Complexity weights handed to the complexity analyzer.
    public var complexity: ComplexityWeights
    /// How candidates are ranked.
    public var strategy: RoutingStrategy
    /// Factor weights of the `balanced` strategy.
    public var weights: BalancedWeights
    /// Circuit breakers per model and per provider.
    public var health: HealthConfiguration
    /// Quota use (0…1) past which a provider's models rank after other providers' (proactive failover).
    /// Default 0.8; 1 turns the preference off.
    public var quotaPreferenceThreshold: Double
    /// A model (usually local: Ollama or the `builtin` provider) tried after ``defaultModel`` when nothing else
    /// can serve. `nil` means none.
    public var lastResort: String?
    /// Latency assumed for a model with no ``ModelConfiguration/typicalLatencyMs`` and no observations, in ms.
    /// Default 2000, must be > 0.
    public var assumedLatencyMs: Double
    /// How `predictiveRouting` learns from outcomes (`routing.learning`).
    public var learning: LearningConfiguration

    public init(
        enabled: Bool = true,
        defaultModel: String? = nil,
        models: [ModelConfiguration] = [],
        complexity: ComplexityWeights = ComplexityWeights(),
        strategy: RoutingStrategy = .balanced,
        weights: BalancedWeights = BalancedWeights(),
        health: HealthConfiguration = HealthConfiguration(),
        quotaPreferenceThreshold: Double = 0.8,
        lastResort: String? = nil,
        assumedLatencyMs: Double = 2_000,
        learning: LearningConfiguration = LearningConfiguration()
    ) {
        self.enabled = enabled
        self.defaultModel = defaultModel
        self.models = models
        self.complexity = complexity
        self.strategy = strategy
        self.weights = weights
        self.health = health
        self.quotaPreferenceThreshold = quotaPreferenceThreshold
        self.lastResort = lastResort
        self.assumedLatencyMs = assumedLatencyMs
        self.learning = learning
    }

    private enum CodingKeys: String, CodingKey {
        case enabled, defaultModel, models, complexity, strategy, weights, health
        case quotaPreferenceThreshold, lastResort, assumedLatencyMs, learning
    }

    /// Decodes the configuration; every absent field takes its default.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = RoutingConfiguration()
        enabled = try c.decodeIfPresent(Bool.self, forKey: .enabled) ?? d.enabled
        defaultModel = try c.decodeIfPresent(String.self, forKey: .defaultModel)
        models = try c.decodeIfPresent([ModelConfiguration].self, forKey: .models) ?? []
        complexity = try c.decodeIfPresent(ComplexityWeights.self, forKey: .complexity) ?? d.complexity
        strategy = try c.decodeIfPresent(RoutingStrategy.self, forKey: .strategy) ?? d.strategy
        weights = try c.decodeIfPresent(BalancedWeights.self, forKey: .weights) ?? d.weights
        health = try c.decodeIfPresent(HealthConfiguration.self, forKey: .health) ?? d.health
        quotaPreferenceThreshold = try c.decodeIfPresent(Double.self, forKey: .quotaPreferenceThreshold) ?? d.quotaPreferenceThreshold
        lastResort = try c.decodeIfPresent(String.self, forKey: .lastResort)
        assumedLatencyMs = try c.decodeIfPresent(Double.self, forKey: .assumedLatencyMs) ?? d.assumedLatencyMs
        learning = try c.decodeIfPresent(LearningConfiguration.self, forKey: .learning) ?? d.learning
    }
}

/// How the router ranks the candidates that survive the filters.
public enum RoutingStrategy: String, Sendable, Codable, CaseIterable, Hashable {
    /// Weighted capability, cost, quality, latency and history (``BalancedWeights``).
    case balanced
    /// Lowest estimated cost for the task first.
    case cost
    /// Lowest expected latency first.
    case latency
    /// Highest observed success rate first; recently failing models last.
    case availability
}

/// Weights of the `balanced` strategy's factors (docs/routing.md, "How a model is chosen"). They need
/// not sum to 1: the router normalises.
/// Each must be ≥ 0 and at least one > 0.
public struct BalancedWeights: Sendable, Codable, Hashable {
    /// Fit of the model to the task: position of the score in its complexity range and task-type strengths.
    public var capability: Double
    /// Cheapness of the estimated cost relative to the other candidates (log scale).
    public var cost: Double
    /// The model's quality score.
    public var quality: Double
    /// Speed relative to the fastest candidate.
    public var latency: Double
    /// Observed success rate.
    public var history: Double

    public init(capability: Double = 0.35, cost: Double = 0.20, quality: Double = 0.20, latency: Double = 0.15, history: Double = 0.10) {
        self.capability = capability
        self.cost = cost
        self.quality = quality
        self.latency = latency
        self.history = history
    }

    private enum CodingKeys: String, CodingKey { case capability, cost, quality, latency, history }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = BalancedWeights()
        capability = try c.decodeIfPresent(Double.self, forKey: .capability) ?? d.capability
        cost = try c.decodeIfPresent(Double.self, forKey: .cost) ?? d.cost
        quality = try c.decodeIfPresent(Double.self, forKey: .quality) ?? d.quality
        latency = try c.decodeIfPresent(Double.self, forKey: .latency) ?? d.latency
        history = try c.decodeIfPresent(Double.self, forKey: .history) ?? d.history
    }

    /// The sum of the weights.
    public var total: Double { capability + cost + quality + latency + history }
}
