import Fleet
import FleetSupport
import Foundation
import Store

/// What `fleetd keys create` and `POST /v1/admin/keys` ask for, checked against the config in
/// force (models must be configured, agent types must exist) before a key is made.
struct KeySpec: Sendable, Decodable {
    var tenant: String
    var user: String?
    var name: String?
    var budgetDaily: Double?
    var budgetWeekly: Double?
    var budgetMonthly: Double?
    var rpm: Int?
    var tpm: Int?
    var models: [String]?
    var providers: [String]?
    var agentTypes: [String]?
    /// How long the key lives: `30d`, `12h`, `90m`, `3600s` or a number of seconds.
    var expires: String?

    struct Invalid: Error {
        var field: String
        var message: String
    }

    /// The limits and expiry, or ``Invalid`` naming the field.
    func resolved(against config: FleetConfig, now: Date = Date()) throws -> (limits: APIKeyLimits, expiresAt: Date?) {
        var providerKinds: [ProviderKind]?
        if let providers {
            providerKinds = try providers.map { name in
                guard let kind = ProviderKind(rawValue: name) else {
                    throw Invalid(field: "providers", message: "unknown provider '\(name)'; expected \(ProviderKind.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                return kind
            }
        }
        if let models {
            let known = Set(config.routing.models.map(\.name))
            if let unknown = models.first(where: { !known.contains($0) }) {
                throw Invalid(field: "models", message: "'\(unknown)' names no model in routing.models (configured: \(known.sorted().joined(separator: ", ")))")
            }
        }
        if let agentTypes, !config.agents.isEmpty {
            let known = Set(config.agents.map(\.type))
            if let unknown = agentTypes.first(where: { !known.contains($0) }) {
                throw Invalid(field: "agentTypes", message: "'\(unknown)' names no agent type (configured: \(known.sorted().joined(separator: ", ")))")
            }
        }
        var expiresAt: Date?
        if let expires {
            guard let seconds = Self.duration(expires), seconds > 0 else {
                throw Invalid(field: "expires", message: "expected a duration such as 30d, 12h, 90m, 3600s or a number of seconds")
            }
            expiresAt = now.addingTimeInterval(seconds)
        }
        let limits = APIKeyLimits(budget: .init(daily: budgetDaily, weekly: budgetWeekly, monthly: budgetMonthly),
                                  requestsPerMinute: rpm, tokensPerMinute: tpm, models: models, providers: providerKinds, agentTypes: agentTypes)
        return (limits, expiresAt)
    }

    /// `30d`, `12h`, `90m`, `45s`, or plain seconds.
    static func duration(_ text: String) -> TimeInterval? {
        let units: [Character: Double] = ["s": 1, "m": 60, "h": 3_600, "d": 86_400]
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if let unit = trimmed.last, let factor = units[unit], let value = Double(trimmed.dropLast()), value.isFinite {
            return value * factor
        }
        return Double(trimmed).flatMap { $0.isFinite ? $0 : nil }
    }
}

/// A key as listings show it: never its secret or hash.
struct KeyView: Encodable, Sendable {
    var id: String
    var prefix: String
    var tenant: String
    var user: String?
    var name: String?
    var state: String
    var createdAt: Date
    var expiresAt: Date?
    var revokedAt: Date?
    var budgetDaily: Double?
    var budgetWeekly: Double?
    var budgetMonthly: Double?
    var rpm: Int?
    var tpm: Int?
    var models: [String]?
    var providers: [String]?
    var agentTypes: [String]?

    init(_ record: APIKeyRecord, now: Date = Date()) {
        id = record.id
        prefix = record.prefix
        tenant = record.tenant
        user = record.user
        name = record.name
        state = record.state(at: now).rawValue
        createdAt = record.createdAt
        expiresAt = record.expiresAt
        revokedAt = record.revokedAt
        budgetDaily = record.limits.budget.daily
        budgetWeekly = record.limits.budget.weekly
        budgetMonthly = record.limits.budget.monthly
        rpm = record.limits.requestsPerMinute
        tpm = record.limits.tokensPerMinute
        models = record.limits.models
        providers = record.limits.providers?.map(\.rawValue)
        agentTypes = record.limits.agentTypes
    }
}

/// The answer that hands a new key over, the one time its text is shown.
struct IssuedKeyView: Encodable, Sendable {
    /// The whole key: `fk-<id>-<secret>`. Not stored; keep it now.
    var key: String
    var record: KeyView
}
