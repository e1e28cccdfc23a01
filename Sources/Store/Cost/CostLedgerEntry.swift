import Foundation

/// What a provider call was for: recorded with its cost.
public struct CostCall: Sendable, Hashable, Codable {
    /// The model's configured name.
    public var model: String
    /// The provider name (e.g. `anthropic`).
    public var provider: String
    public var taskId: String
    public var agentId: String
    public var taskType: String

    public init(model: String, provider: String, taskId: String, agentId: String, taskType: String) {
        self.model = model
        self.provider = provider
        self.taskId = taskId
        self.agentId = agentId
        self.taskType = taskType
    }
}

/// One settled call in the ledger (the `cost_ledger` table; mirrored to `routing/costs/<ms>-<taskId>`).
public struct CostLedgerEntry: Sendable, Hashable, Codable {
    /// Unique; settling the same id twice records it once.
    public var entryId: String
    public var call: CostCall
    public var usage: CostUsage
    /// US dollars.
    public var cost: Double
    public var timestamp: Date

    public init(entryId: String, call: CostCall, usage: CostUsage, cost: Double, timestamp: Date) {
        self.entryId = entryId
        self.call = call
        self.usage = usage
        self.cost = cost
        self.timestamp = timestamp
    }
}

/// Money held for a call in flight. Settle it with the real usage, or release it on failure.
///
/// Reservations live only in the tracker's memory: after a crash nothing was spent on them.
public struct CostReservation: Sendable, Hashable {
    /// Also the ledger entry id the settlement writes (so a retried settle never double-counts).
    public let id: String
    public let call: CostCall
    /// US dollars held.
    public let estimatedCost: Double
    public let createdAt: Date
}

/// A budget threshold crossed: COST_002 BudgetAlertTriggered. Raised once per period and
/// threshold, remembered in the database across restarts.
public struct CostAlert: Sendable, Hashable, Codable {
    /// Always `COST_002`.
    public var code: String { CostError.Code.budgetAlertTriggered.rawValue }
    public var period: BudgetPeriod
    /// e.g. `2026-01-31`, `2026-W05`, `2026-01`.
    public var periodKey: String
    /// The threshold crossed, percent of the limit (100 = limit reached).
    public var thresholdPercent: Double
    public var spent: Double
    public var limit: Double
    public var raisedAt: Date

    public init(period: BudgetPeriod, periodKey: String, thresholdPercent: Double, spent: Double, limit: Double, raisedAt: Date) {
        self.period = period
        self.periodKey = periodKey
        self.thresholdPercent = thresholdPercent
        self.spent = spent
        self.limit = limit
        self.raisedAt = raisedAt
    }

    /// One line for logs and events.
    public var message: String {
        "COST_002 \(period.rawValue) budget \(periodKey) at \(String(format: "%.0f", thresholdPercent))% of limit: spent $\(String(format: "%.4f", spent)) of $\(String(format: "%.2f", limit))"
    }
}
