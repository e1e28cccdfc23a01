/// Circuit-breaker settings: `routing.health` in the config file.
public struct HealthConfiguration: Sendable, Codable, Hashable {
    /// Consecutive failures of one model that open its breaker. Default 5, must be ≥ 1.
    public var failureThreshold: Int
    /// Consecutive failures across one provider's models that open the provider's breaker. Default 10, ≥ 1.
    public var providerFailureThreshold: Int
    /// How long a breaker stays open when the provider gave no Retry-After, in seconds. Default 30, > 0.
    public var cooldownSeconds: Double
    /// Probe calls let through at once while half-open. Default 1, ≥ 1.
    public var halfOpenProbes: Int
    /// Upper bound on a provider's Retry-After, in seconds (a bogus header cannot shut a model for days).
    /// Default 3600, > 0.
    public var maxRetryAfterSeconds: Double

    public init(
        failureThreshold: Int = 5,
        providerFailureThreshold: Int = 10,
        cooldownSeconds: Double = 30,
        halfOpenProbes: Int = 1,
        maxRetryAfterSeconds: Double = 3_600
    ) {
        self.failureThreshold = failureThreshold
        self.providerFailureThreshold = providerFailureThreshold
        self.cooldownSeconds = cooldownSeconds
        self.halfOpenProbes = halfOpenProbes
        self.maxRetryAfterSeconds = maxRetryAfterSeconds
    }

    private enum CodingKeys: String, CodingKey {
        case failureThreshold, providerFailureThreshold, cooldownSeconds, halfOpenProbes, maxRetryAfterSeconds
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = HealthConfiguration()
        failureThreshold = try c.decodeIfPresent(Int.self, forKey: .failureThreshold) ?? d.failureThreshold
        providerFailureThreshold = try c.decodeIfPresent(Int.self, forKey: .providerFailureThreshold) ?? d.providerFailureThreshold
        cooldownSeconds = try c.decodeIfPresent(Double.self, forKey: .cooldownSeconds) ?? d.cooldownSeconds
        halfOpenProbes = try c.decodeIfPresent(Int.self, forKey: .halfOpenProbes) ?? d.halfOpenProbes
        maxRetryAfterSeconds = try c.decodeIfPresent(Double.self, forKey: .maxRetryAfterSeconds) ?? d.maxRetryAfterSeconds
    }
}
