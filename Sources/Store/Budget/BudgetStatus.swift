import Foundation

// The budget as the router and the cost tracker both see it. The router reads it through
// `BudgetStatusProviding` (`CostTracker` conforms; tests use small fakes), and both decide what
// a call over a limit may do with `BudgetPolicy.admission(cheaperThanPick:)`, in one place.

/// A budget period. Boundaries follow the cost configuration's time zone.
public enum BudgetPeriod: String, Sendable, Codable, CaseIterable, Hashable {
    case day, week, month
}

/// What happens when a budget is used up.
public enum BudgetPolicy: String, Sendable, Codable, CaseIterable, Hashable {
    /// Refuse the task: ROUTER_002 BudgetExceeded.
    case block
    /// Allow only models cheaper than the one routing would pick; none cheaper is ROUTER_003.
    case cheaperOnly = "cheaper-only"
    /// Let the task through and raise an alert.
    case allowWithAlert = "allow-with-alert"
}

/// What a budget policy does with a call that would pass a limit.
public enum BudgetAdmission: String, Sendable, Codable, Hashable {
    /// Let it through: it is cheaper than the model routing would have picked (`cheaper-only`).
    case cheaperThanPick
    /// Let it through and raise COST_002 (`allow-with-alert`).
    case withAlert
    /// Refuse it (`block`, or `cheaper-only` for a model that is not cheaper).
    case refused
}

extension BudgetPolicy {
    /// The one rule for a call that would pass a limit, used by the router's budget filter and by
    /// ``CostTracker/reserve(_:estimatedCost:isCheaperAlternative:)``.
    /// - Parameter cheaperThanPick: whether the call's model is cheaper than the one routing would
    ///   pick without the budget.
    public func admission(cheaperThanPick: Bool) -> BudgetAdmission {
        switch self {
        case .block: .refused
        case .allowWithAlert: .withAlert
        case .cheaperOnly: cheaperThanPick ? .cheaperThanPick : .refused
        }
    }
}

/// How much of one period's budget is used.
public struct PeriodBudgetStatus: Sendable, Codable, Hashable {
    public var period: BudgetPeriod
    /// The limit in US dollars; `nil` when this period has none.
    public var limit: Double?
    /// Settled spend in the current period.
    public var spent: Double
    /// Reserved for calls in flight, not yet settled.
    public var reserved: Double

    public init(period: BudgetPeriod, limit: Double?, spent: Double, reserved: Double) {
        self.period = period
        self.limit = limit
        self.spent = spent
        self.reserved = reserved
    }

    /// Money still free in this period, `nil` when unlimited.
    public var remaining: Double? { limit.map { Swift.max(0, $0 - spent - reserved) } }
    /// Share of the limit used (spent + reserved), `nil` when unlimited.
    public var usedFraction: Double? {
        guard let limit, limit > 0 else { return nil }
        return (spent + reserved) / limit
    }
}

/// The budget as the router sees it before a selection.
public struct BudgetStatus: Sendable, Codable, Hashable {
    public var enabled: Bool
    public var policy: BudgetPolicy
    public var periods: [PeriodBudgetStatus]

    public init(enabled: Bool, policy: BudgetPolicy, periods: [PeriodBudgetStatus]) {
        self.enabled = enabled
        self.policy = policy
        self.periods = periods
    }

    /// The smallest remaining amount over all limited periods; `nil` when nothing is limited.
    public var remaining: Double? {
        // A loop, not `compactMap(_:).min()`: the router asks for every model, and each asked for an array.
        var least: Double?
        for period in periods {
            if let left = period.remaining { least = Swift.min(least ?? left, left) }
        }
        return least
    }
    /// True when some limited period has nothing left.
    public var isExhausted: Bool { enabled && (remaining.map { $0 <= 0 } ?? false) }

    /// A budget that is off.
    public static let unlimited = BudgetStatus(enabled: false, policy: .block, periods: [])
}

/// Read access to the budget for routing decisions.
public protocol BudgetStatusProviding: Sendable {
    func budgetStatus() async -> BudgetStatus
}
