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
    /// The virtual API key the call was made with (its public id), if any: its spend counts
    /// against the key's budgets.
    public var keyId: String?
    /// The tenant the call was made for, if any.
    public var tenantId: String?

    public init(model: String, provider: String, taskId: String, agentId: String, taskType: String,
                keyId: String? = nil, tenantId: String? = nil) {
        self.model = model
        self.provider = provider
        self.taskId = taskId
        self.agentId = agentId
        self.taskType = taskType
        self.keyId = keyId
        self.tenantId = tenantId
    }
}

/// What a ledger row's usage rests on.
public enum CostBasis: String, Sendable, Hashable, Codable, CaseIterable {
    /// The provider reported the call's usage when it completed.
    case reported
    /// The call ended early (client gone, stream cut, timeout, drain): the usage the provider had
    /// reported so far, with the output received counted where it reported none.
    case partial
    /// The provider reported nothing (COST_001), or fleetd stopped before it could: fleetd's
    /// estimate of what the provider billed.
    case estimated
    /// Served from fleetd's response cache: no provider call, no cost.
    case cache
}

/// One settled call in the ledger (the `cost_ledger` table; mirrored to
/// `routing/costs/<ms>-<taskId>-<entryId>`).
public struct CostLedgerEntry: Sendable, Hashable, Codable {
    /// Unique; settling the same id twice records it once.
    public var entryId: String
    public var call: CostCall
    public var usage: CostUsage
    /// US dollars.
    public var cost: Double
    public var timestamp: Date
    public var basis: CostBasis

    public init(entryId: String, call: CostCall, usage: CostUsage, cost: Double, timestamp: Date, basis: CostBasis = .reported) {
        self.entryId = entryId
        self.call = call
        self.usage = usage
        self.cost = cost
        self.timestamp = timestamp
        self.basis = basis
    }

    private enum CodingKeys: String, CodingKey {
        case entryId, call, usage, cost, timestamp, basis
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        entryId = try c.decode(String.self, forKey: .entryId)
        call = try c.decode(CostCall.self, forKey: .call)
        usage = try c.decode(CostUsage.self, forKey: .usage)
        cost = try c.decode(Double.self, forKey: .cost)
        timestamp = try c.decode(Date.self, forKey: .timestamp)
        // Entries mirrored before the basis existed were all reported by the provider.
        basis = try c.decodeIfPresent(CostBasis.self, forKey: .basis) ?? .reported
    }
}

/// Money held for a call in flight. Settle it with the real usage, or release it on failure.
///
/// Held in the tracker's memory (where the budget check reads them) and in the
/// `cost_reservations` table: after a crash, the ones never settled are billed at their estimate
/// when fleetd starts again (``CostTracker/billUnsettledReservations()``).
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
        "COST_002 \(period.rawValue) budget \(periodKey) at \(String(format: "%.0f", thresholdPercent))% of limit: spent $\(String(format: "%.4f", spent)) of $\(String(format: "%.4f", limit))"
    }
}

extension CostLedgerEntry {
    /// Settlements a tracker kept while the store refused them, in entry order, each dated `now`:
    /// a settlement is dated when it is written, in its ledger row as in the totals it adds to.
    static func redated(_ kept: some Collection<CostLedgerEntry>, at now: Date) -> [CostLedgerEntry] {
        kept.sorted { $0.entryId < $1.entryId }.map { entry in
            var entry = entry
            entry.timestamp = now
            return entry
        }
    }
}
