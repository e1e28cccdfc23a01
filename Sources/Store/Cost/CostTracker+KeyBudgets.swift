import Foundation
import GRDB

// The budgets of virtual API keys: each key's settled spend per period (the `key:<id>` rows of
// `cost_totals`, written in the same transaction as the ledger row) plus what its calls hold in
// reservations, checked against the key's limits in the same actor step as the global budget.

extension CostConfiguration.BudgetLimits {
    /// Whether any period has a limit.
    public var isLimited: Bool { daily != nil || weekly != nil || monthly != nil }
}

extension CostTracker {
    /// Refuses (ROUTER_002) a reservation that would take the key past one of its limits. Call
    /// with the key's spend fresh (``refreshKeySpend(_:)``) and without suspending before the hold.
    func checkKeyBudget(_ keyId: String, limits: CostConfiguration.BudgetLimits, call: CostCall, estimatedCost: Double) throws {
        let reserved = reserved(byKey: keyId)
        for period in BudgetPeriod.allCases {
            guard let limit = limits.limit(for: period) else { continue }
            let spent = keySpentCache[keyId]?[period]?.spent ?? 0
            // A $0 call takes the key no further past its limit.
            guard estimatedCost > 0, spent + reserved + estimatedCost > limit + 1e-12 else { continue }
            throw CostError(.budgetExceeded, "BudgetExceeded: key \(keyId)'s \(period.rawValue) budget has $\(Self.money(limit - spent - reserved)) left "
                + "(limit $\(Self.money(limit)), spent $\(Self.money(spent)), reserved $\(Self.money(reserved))); "
                + "\(call.model) needs about $\(Self.money(estimatedCost))", period: period)
        }
    }

    /// Loads a key's settled totals for the periods whose key changed (first use, a new period).
    /// Without the store, figures already cached are used (they only err high within a period).
    func refreshKeySpend(_ keyId: String) async throws {
        while true {
            let current = keys(at: clock.now)
            let stale = BudgetPeriod.allCases.compactMap { period -> (BudgetPeriod, String)? in
                let key = current.keys[period] ?? ""
                return keySpentCache[keyId]?[period]?.key == key ? nil : (period, key)
            }
            if stale.isEmpty { return }
            let scope = Self.keyScope(keyId)
            let loaded: [(BudgetPeriod, PeriodSpend)]
            do {
                loaded = try await database.read("loading an API key's budget totals") { db in
                    try stale.map { period, key in
                        (period, PeriodSpend(key: key, spent: try Self.totalCost(period: period.rawValue, key: key, scope: scope, in: db)))
                    }
                }
            } catch {
                guard keySpentCache[keyId]?.count == BudgetPeriod.allCases.count else { throw error }
                logger.error("key budget check uses cached totals: store failed", metadata: ["key": "\(keyId)", "error": "\(error)"])
                return
            }
            for (period, value) in loaded where keySpentCache[keyId]?[period]?.key != value.key {
                keySpentCache[keyId, default: [:]][period] = value
            }
        }
    }

    /// Takes the key totals a ledger transaction wrote; within a period key the larger is newer.
    func mergeKeySpend(_ spend: [String: [BudgetPeriod: PeriodSpend]]) {
        for (keyId, periods) in spend {
            for (period, value) in periods {
                if let cached = keySpentCache[keyId]?[period], cached.key == value.key {
                    keySpentCache[keyId]?[period]?.spent = max(cached.spent, value.spent)
                } else {
                    keySpentCache[keyId, default: [:]][period] = value
                }
            }
        }
    }

    /// A key's spend and reservations per period against its limits (what `GET /v1/costs` shows
    /// a caller who holds that key).
    public func keyBudgetStatus(keyId: String, limits: CostConfiguration.BudgetLimits) async -> BudgetStatus {
        guard configuration.enabled else { return .unlimited }
        do {
            try await refreshKeySpend(keyId)
        } catch {
            logger.error("key budget status uses cached figures: store failed", metadata: ["key": "\(keyId)", "error": "\(error)"])
        }
        let reserved = reserved(byKey: keyId)
        let periods = BudgetPeriod.allCases.map { period in
            PeriodBudgetStatus(period: period, limit: limits.limit(for: period),
                               spent: keySpentCache[keyId]?[period]?.spent ?? 0, reserved: reserved)
        }
        return BudgetStatus(enabled: true, policy: .block, periods: periods)
    }
}
