import FleetSupport
import Foundation
import Store

/// Everything outside the task that a routing decision depends on, taken as one snapshot.
///
/// ``ModelRouter`` gathers it (budget and quota asynchronously, health and stats under their locks) and hands
/// it to the pure ``RoutingEngine``; tests build it by hand.
public struct RoutingInputs: Sendable {
    public var budget: BudgetStatus
    /// Quota decisions per provider; a provider not in the map is allowed.
    public var quotas: [ProviderKind: QuotaDecision]
    /// Breaker verdicts per model name; a model not in the map is available.
    public var health: [String: HealthVerdict]
    /// Observed stats per model name.
    public var stats: [String: ModelStats]
    public var now: Date
    /// What learning predicts of each candidate (`predictiveRouting` on); `nil` ranks as without learning.
    public var learning: LearningInputs?

    public init(budget: BudgetStatus = .unlimited, quotas: [ProviderKind: QuotaDecision] = [:],
                health: [String: HealthVerdict] = [:], stats: [String: ModelStats] = [:], now: Date = Date(),
                learning: LearningInputs? = nil) {
        self.budget = budget
        self.quotas = quotas
        self.health = health
        self.stats = stats
        self.now = now
        self.learning = learning
    }
}
