import FleetSupport
import Foundation

/// What a virtual API key may do: spend (day, week, month), call rates, and which models,
/// providers and agent types its tasks may use. `nil` means no limit.
public struct APIKeyLimits: Sendable, Hashable, Codable {
    /// US dollars per day, ISO week and calendar month, in the cost time zone.
    public var budget: CostConfiguration.BudgetLimits
    /// Requests per minute (every authenticated request made with the key).
    public var requestsPerMinute: Int?
    /// Tokens (input + output, as billed) per minute, over the last 60 seconds.
    public var tokensPerMinute: Int?
    /// Configured model names the router may pick for the key's tasks.
    public var models: [String]?
    /// Providers whose models the router may pick for the key's tasks.
    public var providers: [ProviderKind]?
    /// Agent types the key's tasks may run on.
    public var agentTypes: [String]?

    public init(budget: CostConfiguration.BudgetLimits = .init(), requestsPerMinute: Int? = nil, tokensPerMinute: Int? = nil,
                models: [String]? = nil, providers: [ProviderKind]? = nil, agentTypes: [String]? = nil) {
        self.budget = budget
        self.requestsPerMinute = requestsPerMinute
        self.tokensPerMinute = tokensPerMinute
        self.models = models
        self.providers = providers
        self.agentTypes = agentTypes
    }

    /// Checks ranges: budgets finite and > 0, rates > 0, lists not empty and without blanks.
    /// - Throws: ``StoreError`` `.invalidValue` naming the field.
    public func validate() throws {
        for period in BudgetPeriod.allCases {
            if let limit = budget.limit(for: period), !(limit.isFinite && limit > 0) {
                throw StoreError(.invalidValue, "the \(CostConfiguration.fieldName(period)) budget must be a positive amount of US dollars")
            }
        }
        if let requestsPerMinute, requestsPerMinute < 1 { throw StoreError(.invalidValue, "rpm must be at least 1") }
        if let tokensPerMinute, tokensPerMinute < 1 { throw StoreError(.invalidValue, "tpm must be at least 1") }
        for (name, list) in [("models", models), ("agentTypes", agentTypes)] {
            if let list, list.isEmpty || list.contains(where: { $0.trimmingCharacters(in: .whitespaces).isEmpty }) {
                throw StoreError(.invalidValue, "\(name) must list at least one name, none blank (leave it out to allow any)")
            }
        }
        if let providers, providers.isEmpty {
            throw StoreError(.invalidValue, "providers must list at least one provider (leave it out to allow any)")
        }
    }
}

/// A virtual API key as stored: everything but its secret, of which only a SHA-256 is kept.
public struct APIKeyRecord: Sendable, Hashable, Codable {
    /// The short public id (8 lower-case letters and digits); the key starts `fk-<id>-`.
    public var id: String
    public var tenant: String
    /// The user the key acts for, if it names one (rollout stickiness).
    public var user: String?
    /// A label for people.
    public var name: String?
    public var createdAt: Date
    public var expiresAt: Date?
    public var revokedAt: Date?
    public var limits: APIKeyLimits

    public init(id: String, tenant: String, user: String? = nil, name: String? = nil, createdAt: Date, expiresAt: Date? = nil,
                revokedAt: Date? = nil, limits: APIKeyLimits = APIKeyLimits()) {
        self.id = id
        self.tenant = tenant
        self.user = user
        self.name = name
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.revokedAt = revokedAt
        self.limits = limits
    }

    /// What the key looks like in listings and logs: `fk-<id>`, never more of it.
    public var prefix: String { "\(APIKeySecret.prefix)\(id)" }

    /// Whether the key works at `now`.
    public func state(at now: Date) -> State {
        if revokedAt != nil { return .revoked }
        if let expiresAt, expiresAt <= now { return .expired }
        return .active
    }

    public enum State: String, Sendable, Codable, Hashable {
        case active, revoked, expired
    }
}

/// Tenant (and user) names: 1–64 letters, digits, `.`, `_` or `-`. They become parts of record
/// keys (`<tenant>/<taskId>`), so nothing else is allowed.
public enum TenantName {
    public static func isValid(_ name: String) -> Bool {
        (1...64).contains(name.utf8.count)
            && name.utf8.allSatisfy { byte in
                (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                    || byte == 0x2E || byte == 0x5F || byte == 0x2D
            }
    }
}
