// The seam between the router and provider quotas: the router reads quotas through
// `QuotaChecking` (`QuotaManager` conforms; tests use small fakes).

/// Whether a provider may be used now, by its quota.
public struct QuotaDecision: Sendable, Codable, Hashable {
    public var provider: String
    public var allowed: Bool
    /// Why not, when not allowed.
    public var reason: String?
    /// The highest share (0…1+) of any request or token limit used this period; 0 when unlimited.
    public var usedFraction: Double
    /// Other providers that can be used now.
    public var alternatives: [String]

    public init(provider: String, allowed: Bool, reason: String? = nil, usedFraction: Double = 0, alternatives: [String] = []) {
        self.provider = provider
        self.allowed = allowed
        self.reason = reason
        self.usedFraction = usedFraction
        self.alternatives = alternatives
    }
}

/// Read access to provider quotas for routing decisions.
public protocol QuotaChecking: Sendable {
    func check(provider: String) async -> QuotaDecision
}

extension QuotaDecision {
    /// The providers among `others` whose quota allows a call now, least used first: a refused
    /// decision's ``alternatives``, for the local and the shared quota alike.
    static func usable(among others: Set<String>, evaluate: (String) -> QuotaDecision) -> [String] {
        others.map(evaluate)
            .filter(\.allowed)
            .sorted { ($0.usedFraction, $0.provider) < ($1.usedFraction, $1.provider) }
            .map(\.provider)
    }
}
