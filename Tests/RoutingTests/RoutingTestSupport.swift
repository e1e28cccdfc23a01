import FleetSupport
import Foundation
import Routing
import Store
import Synchronization

/// A scorer returning fixed scores: by prompt when listed, else `defaultScore`.
struct FixedScorer: ComplexityScoring {
    var scores: [String: Double] = [:]
    var defaultScore: Double = 0.5
    var type: TaskType = .text
    var inputTokens = 500
    var outputTokens = 500

    func score(_ task: RoutingTask) -> ComplexityScore {
        ComplexityScore(overall: scores[task.prompt] ?? defaultScore,
                        factors: ComplexityFactors(tokenCount: 0.1, codeComplexity: 0.2, contextSize: 0.3, requiresReasoning: 0.4, requiresCreativity: 0.5),
                        taskType: task.type ?? type, estimatedInputTokens: inputTokens, estimatedOutputTokens: outputTokens)
    }
}

/// A budget whose status the test sets.
final class FakeBudget: BudgetStatusProviding {
    private let status: Mutex<BudgetStatus>
    init(_ status: BudgetStatus) { self.status = Mutex(status) }
    func set(_ new: BudgetStatus) { status.withLock { $0 = new } }
    func budgetStatus() async -> BudgetStatus { status.withLock { $0 } }

    /// A daily budget with `spent` of `limit` used under `policy`.
    static func daily(limit: Double, spent: Double, policy: BudgetPolicy) -> FakeBudget {
        FakeBudget(BudgetStatus(enabled: true, policy: policy, periods: [PeriodBudgetStatus(period: .day, limit: limit, spent: spent, reserved: 0)]))
    }
}

/// Quotas per provider the test sets; unlisted providers are allowed at 0%.
final class FakeQuota: QuotaChecking {
    private let decisions: Mutex<[String: QuotaDecision]>
    init(_ decisions: [String: QuotaDecision] = [:]) { self.decisions = Mutex(decisions) }
    func set(_ provider: ProviderKind, allowed: Bool, used: Double = 0, reason: String? = nil) {
        decisions.withLock { $0[provider.rawValue] = QuotaDecision(provider: provider.rawValue, allowed: allowed, reason: reason, usedFraction: used) }
    }
    func check(provider: String) async -> QuotaDecision {
        decisions.withLock { $0[provider] } ?? QuotaDecision(provider: provider, allowed: true)
    }
}

/// A recorder that always fails, like a store that is down.
struct FailingRecorder: SelectionRecorder {
    struct Down: Error {}
    func record(_ selection: ModelSelection) async throws { throw Down() }
}

/// A stats store that always fails.
struct FailingStatsStore: RoutingStatsStore {
    struct Down: Error {}
    func loadStats() async throws -> [ModelStats] { throw Down() }
    func saveStats(_ stats: ModelStats) async throws { throw Down() }
}

enum Seed {
    /// Three Anthropic models, those of docs/routing.md's example (ranges 0.7–1.0, 0.3–0.8, 0–0.4).
    static let opus = ModelConfiguration(
        name: "claude-opus-4", provider: .anthropic, model: "claude-opus-4-20250514",
        capabilities: ModelCapabilities(maxTokens: 200_000, costPer1kTokens: ModelPricing(input: 15, output: 75)),
        complexityRange: ComplexityRange(min: 0.7, max: 1.0))
    static let sonnet = ModelConfiguration(
        name: "claude-sonnet-4.5", provider: .anthropic, model: "claude-sonnet-4-5-20250929",
        capabilities: ModelCapabilities(maxTokens: 200_000, costPer1kTokens: ModelPricing(input: 3, output: 15)),
        complexityRange: ComplexityRange(min: 0.3, max: 0.8))
    static let haiku = ModelConfiguration(
        name: "claude-haiku-4", provider: .anthropic, model: "claude-haiku-4-20250110",
        capabilities: ModelCapabilities(maxTokens: 200_000, costPer1kTokens: ModelPricing(input: 0.8, output: 4)),
        complexityRange: ComplexityRange(min: 0.0, max: 0.4))
    static let ollama = ModelConfiguration(
        name: "qwen-local", provider: .ollama, model: "qwen2.5:14b",
        capabilities: ModelCapabilities(maxTokens: 32_000), complexityRange: ComplexityRange(min: 0, max: 0.5))

    static func configuration(_ models: [ModelConfiguration] = [opus, sonnet, haiku], strategy: RoutingStrategy = .balanced,
                              defaultModel: String? = nil, lastResort: String? = nil,
                              health: HealthConfiguration = HealthConfiguration()) -> RoutingConfiguration {
        RoutingConfiguration(defaultModel: defaultModel, models: models, strategy: strategy, health: health, lastResort: lastResort)
    }

    static func task(_ prompt: String = "task", id: String = "t1", type: TaskType? = nil) -> RoutingTask {
        RoutingTask(taskId: id, prompt: prompt, type: type)
    }
}
