import Foundation
import GRDB

/// One provider's counters for its current day and month, and its unavailability window.
public struct ProviderQuotaUsage: Sendable, Hashable, Codable {
    public var provider: String
    public var dayKey: String
    public var dayRequests: Int
    public var dayTokens: Int
    public var monthKey: String
    public var monthRequests: Int
    public var monthTokens: Int
    /// Not usable before this instant; `nil` when available.
    public var unavailableUntil: Date?
    public var unavailableReason: String?

    public init(provider: String, dayKey: String, monthKey: String) {
        self.provider = provider
        self.dayKey = dayKey
        self.dayRequests = 0
        self.dayTokens = 0
        self.monthKey = monthKey
        self.monthRequests = 0
        self.monthTokens = 0
    }

    /// The counters as they stand at the period keys given: a changed key means a new period, so zero.
    public func current(dayKey: String, monthKey: String) -> ProviderQuotaUsage {
        var usage = self
        if usage.dayKey != dayKey {
            usage.dayKey = dayKey
            usage.dayRequests = 0
            usage.dayTokens = 0
        }
        if usage.monthKey != monthKey {
            usage.monthKey = monthKey
            usage.monthRequests = 0
            usage.monthTokens = 0
        }
        return usage
    }

    init(row: Row) {
        provider = row["provider"]
        dayKey = row["day_key"]
        dayRequests = row["day_requests"]
        dayTokens = row["day_tokens"]
        monthKey = row["month_key"]
        monthRequests = row["month_requests"]
        monthTokens = row["month_tokens"]
        unavailableUntil = (row["unavailable_until"] as Double?).map { Date(timeIntervalSince1970: $0) }
        unavailableReason = row["unavailable_reason"]
    }

    /// Whether these counters (already ``current(dayKey:monthKey:)``) allow one more call under
    /// `limits` at `now`, why not, and the highest share of any limit used.
    public func decision(limits: QuotaConfiguration.Limits, at now: Date) -> QuotaDecision {
        let measures: [(String, Int, Int?)] = [
            ("daily request", dayRequests, limits.requestsPerDay),
            ("monthly request", monthRequests, limits.requestsPerMonth),
            ("daily token", dayTokens, limits.tokensPerDay),
            ("monthly token", monthTokens, limits.tokensPerMonth),
        ]
        let fraction = measures.compactMap { _, used, limit in limit.map { Double(used) / Double($0) } }.max() ?? 0
        if let until = unavailableUntil, until > now {
            let reason = "provider \(provider) is unavailable until \(until.formatted(.iso8601))"
                + (unavailableReason.map { ": \($0)" } ?? "")
            return QuotaDecision(provider: provider, allowed: false, reason: reason, usedFraction: fraction)
        }
        for (name, used, limit) in measures {
            if let limit, used >= limit {
                let key = name.hasPrefix("daily") ? dayKey : monthKey
                return QuotaDecision(provider: provider, allowed: false,
                                     reason: "\(name) limit reached for \(provider) (\(used) of \(limit) in \(key))",
                                     usedFraction: fraction)
            }
        }
        return QuotaDecision(provider: provider, allowed: true, usedFraction: fraction)
    }
}
