import FleetSupport
import Store

/// A caller's own budget (an API key's day, week and month limits) as a route explanation shows
/// it (``RoutingTask/callerBudget``): the trace's budget line and each model's budget stage give
/// its figures, never the fleet's.
///
/// Routing still checks the task against the fleet's budget; the key's is checked by the cost
/// tracker when the call reserves its cost (a call past it is refused, ROUTER_002), so the budget
/// stage says whether the call fits it without excluding the model on its account, as the live
/// task's routing does not either.
public struct CallerBudget: Sendable, Codable, Hashable {
    /// Whose budget it is, as traces name the caller: `key fk-ab12cd34`.
    public var owner: String
    public var status: BudgetStatus

    public init(owner: String, status: BudgetStatus) {
        self.owner = owner
        self.status = status
    }

    /// The budget line, e.g. "key fk-ab12cd34: day $0.5000 of $2.0000 used; policy block".
    public var line: String { "\(owner): " + RoutingEngine.budgetSummary(status) }

    /// What the budget stage says of a call estimated at `cost` against this budget.
    public func note(cost: Double) -> String {
        guard status.enabled, let left = status.remaining else { return "\(owner): no limit set" }
        if status.isExhausted { return "\(owner)'s budget is used up: the call would be refused (ROUTER_002)" }
        if cost > left { return "more than the \(money(left)) \(owner) has left: the call would be refused (ROUTER_002)" }
        return "within the \(money(left)) \(owner) has left"
    }
}
