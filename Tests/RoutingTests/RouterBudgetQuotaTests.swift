import FleetSupport
import Foundation
import Routing
import Store
import Testing

@Suite("Router budget and quota filters")
struct RouterBudgetQuotaTests {
    let complex = FixedScorer(defaultScore: 0.75)  // opus (45) and sonnet (9) are candidates

    @Test("budget with room: every model within the remaining money passes")
    func budgetWithRoom() async throws {
        let router = ModelRouter(configuration: Seed.configuration(strategy: .latency), scorer: complex,
                                 budget: FakeBudget.daily(limit: 100, spent: 10, policy: .block))
        let s = try await router.select(Seed.task())
        #expect(s.modelName == "claude-sonnet-4.5")  // equal latency: the cheaper first
        #expect(s.fallbackModels == ["claude-opus-4"])  // 45 fits the remaining 90
        #expect(s.trace.budget == "day $10.0000 of $100.0000 used; policy block")
        #expect(s.trace.candidates.first { $0.modelName == s.modelName }?.decisions.contains { $0.stage == .budget && $0.passed } == true)
    }

    @Test("budget at the limit, policy block: ROUTER_002")
    func blockAtLimit() async throws {
        let router = ModelRouter(configuration: Seed.configuration(), scorer: complex,
                                 budget: FakeBudget.daily(limit: 100, spent: 100, policy: .block))
        let error = await #expect(throws: RouterError.self) { try await router.select(Seed.task(id: "b1")) }
        #expect(error?.code == .budgetExceeded)
        #expect(error?.shortDescription == "budget_exceeded")
        #expect(error?.message == "budget exceeded for task b1 (day $100.0000 of $100.0000 used; policy block); policy block refuses paid models")
        #expect(error?.exclusions.filter { $0.stage == .budget }.map(\.model).sorted() == ["claude-opus-4", "claude-sonnet-4.5"])
    }

    @Test("budget at the limit, policy block: a free local model still serves")
    func blockAtLimitFreeModel() async throws {
        let router = ModelRouter(configuration: Seed.configuration([Seed.opus, Seed.sonnet, Seed.ollama], lastResort: "qwen-local"), scorer: complex,
                                 budget: FakeBudget.daily(limit: 100, spent: 100, policy: .block))
        let s = try await router.select(Seed.task())
        #expect(s.modelName == "qwen-local")
        #expect(s.reason.contains("skipped claude-sonnet-4.5: budget: budget used up (remaining $0); policy block"))
    }

    @Test("budget not used up but the task would exceed it: only affordable models pass (block)")
    func blockPartial() async throws {
        let router = ModelRouter(configuration: Seed.configuration(strategy: .balanced), scorer: FixedScorer(defaultScore: 0.75),
                                 budget: FakeBudget.daily(limit: 100, spent: 80, policy: .block))
        let s = try await router.select(Seed.task())  // remaining 20: sonnet (9) fits, opus (45) does not
        #expect(s.modelName == "claude-sonnet-4.5")
        #expect(s.fallbackModels.isEmpty)
        #expect(s.trace.candidates.first { $0.modelName == "claude-opus-4" }?.exclusion?.detail == "estimated $45.0000 exceeds remaining $20.0000; policy block")
    }

    @Test("budget at the limit, policy cheaper-only: only models cheaper than the pick")
    func cheaperOnly() async throws {
        var config = Seed.configuration()
        config.weights = BalancedWeights(capability: 0, cost: 0, quality: 1, latency: 0, history: 0)  // the pick is opus
        let router = ModelRouter(configuration: config, scorer: complex, budget: FakeBudget.daily(limit: 100, spent: 100, policy: .cheaperOnly))
        let s = try await router.select(Seed.task())
        #expect(s.modelName == "claude-sonnet-4.5")
        let sonnet = try #require(s.trace.candidates.first { $0.modelName == "claude-sonnet-4.5" })
        #expect(sonnet.decisions.contains { $0.stage == .budget && $0.detail.contains("cheaper than claude-opus-4 ($45.0000), allowed by policy cheaper-only") })
        #expect(s.reason.contains("skipped claude-opus-4: budget:"))
    }

    @Test("budget at the limit, policy cheaper-only, nothing cheaper: ROUTER_003")
    func noAffordableModel() async throws {
        let router = ModelRouter(configuration: Seed.configuration(), scorer: FixedScorer(defaultScore: 0.95),  // opus only
                                 budget: FakeBudget.daily(limit: 100, spent: 100, policy: .cheaperOnly))
        let error = await #expect(throws: RouterError.self) { try await router.select(Seed.task(id: "c1")) }
        #expect(error?.code == .noAffordableModel)
        #expect(error?.code.rawValue == "ROUTER_003")
        #expect(error?.message.contains("no model cheaper than the pick can serve task c1") == true)
    }

    @Test("budget at the limit, policy allow-with-alert: the pick stands, COST_002 is raised")
    func allowWithAlert() async throws {
        let router = ModelRouter(configuration: Seed.configuration(), scorer: FixedScorer(defaultScore: 0.95),
                                 budget: FakeBudget.daily(limit: 100, spent: 120, policy: .allowWithAlert))
        let s = try await router.select(Seed.task(id: "a1"))
        #expect(s.modelName == "claude-opus-4")
        #expect(s.alerts.map(\.code) == [.budgetAlertTriggered])
        #expect(s.alerts[0].message.contains("task a1 allowed by policy allow-with-alert"))
        #expect(s.reason.contains("COST_002"))
    }

    // The failover matrix of docs/routing.md ("Failover"), row by row. Tier 1 is the preferred provider (Claude),
    // tier 2 the other cloud providers in rank order, tier 3 the local Ollama last resort.
    static let claude = ModelConfiguration(name: "claude", provider: .anthropic, model: "claude-sonnet-4-5",
                                           capabilities: ModelCapabilities(costPer1kTokens: ModelPricing(input: 3, output: 15)),
                                           complexityRange: ComplexityRange(min: 0.6, max: 1))
    static let grok = ModelConfiguration(name: "grok", provider: .xai, model: "grok-beta",
                                         capabilities: ModelCapabilities(costPer1kTokens: ModelPricing(input: 1, output: 2)),
                                         complexityRange: ComplexityRange(min: 0.4, max: 1))
    static let chatgpt = ModelConfiguration(name: "chatgpt", provider: .openai, model: "gpt-4-turbo",
                                            capabilities: ModelCapabilities(costPer1kTokens: ModelPricing(input: 2, output: 6)),
                                            complexityRange: ComplexityRange(min: 0.4, max: 1))
    static let gemini = ModelConfiguration(name: "gemini", provider: .google, model: "gemini-1.5-pro",
                                           capabilities: ModelCapabilities(costPer1kTokens: ModelPricing(input: 2.5, output: 10)),
                                           complexityRange: ComplexityRange(min: 0, max: 1))
    static let ollama = ModelConfiguration(name: "ollama", provider: .ollama, model: "qwen2.5-coder:14b",
                                           complexityRange: ComplexityRange(min: 0, max: 0.5))

    func matrixRouter(quota: FakeQuota, clock: ManualWallClock = ManualWallClock()) -> ModelRouter {
        ModelRouter(configuration: Seed.configuration([Self.claude, Self.grok, Self.chatgpt, Self.gemini, Self.ollama], strategy: .cost, lastResort: "ollama"),
                    scorer: FixedScorer(defaultScore: 0.8, type: .code), quota: quota, clock: clock)
    }

    var codeTask: RoutingTask {
        var t = Seed.task("implement the payment retry logic", type: .code)
        t.preferredProvider = .anthropic
        return t
    }

    @Test("failover row 1: Claude quota OK → Claude")
    func matrixRow1() async throws {
        let s = try await matrixRouter(quota: FakeQuota()).select(codeTask)
        #expect(s.modelName == "claude")
        #expect(s.fallbackModels == ["grok", "chatgpt", "gemini", "ollama"])
    }

    @Test("failover row 2: Claude exhausted, Grok OK → Grok")
    func matrixRow2() async throws {
        let quota = FakeQuota()
        quota.set(.anthropic, allowed: false, used: 1, reason: "Daily limit reached for anthropic")
        let s = try await matrixRouter(quota: quota).select(codeTask)
        #expect(s.modelName == "grok")
        #expect(s.reason.contains("skipped claude: quota: anthropic quota: Daily limit reached for anthropic"))
        #expect(s.fallbackModels == ["chatgpt", "gemini", "ollama"])
    }

    @Test("failover row 3: all cloud exhausted → Ollama (last resort)")
    func matrixRow3() async throws {
        let quota = FakeQuota()
        for p in [ProviderKind.anthropic, .xai, .openai, .google] { quota.set(p, allowed: false, used: 1, reason: "Daily limit reached for \(p.rawValue)") }
        let s = try await matrixRouter(quota: quota).select(codeTask)
        #expect(s.modelName == "ollama")
        #expect(s.fallbackModels.isEmpty)
        #expect(s.reason.contains("using the last resort ollama"))
        for name in ["claude", "grok", "chatgpt", "gemini"] {
            #expect(s.trace.candidates.first { $0.modelName == name }?.exclusion?.stage == .quota)
        }
    }

    @Test("failover row 4: provider unavailable (API errors) → first available")
    func matrixRow4() async throws {
        let router = matrixRouter(quota: FakeQuota())
        for _ in 0..<5 { await router.recordOutcome(model: "claude", success: false, latency: .seconds(1), error: .server(status: 503)) }
        let s = try await router.select(codeTask)
        #expect(s.modelName == "grok")
        #expect(s.reason.contains("skipped claude: health: model breaker open until"))
    }

    @Test("proactive: a provider past 80% quota ranks after the others, but still serves as a fallback")
    func proactiveQuota() async throws {
        let quota = FakeQuota()
        quota.set(.anthropic, allowed: true, used: 0.85)
        let router = matrixRouter(quota: quota)
        let s = try await router.select(codeTask)
        #expect(s.modelName == "grok")
        #expect(s.fallbackModels.first == "chatgpt")
        #expect(s.fallbackModels.contains("claude"))
        #expect(s.trace.candidates.first { $0.modelName == "claude" }?.notes.first?.contains("past the 80% threshold") == true)

        quota.set(.anthropic, allowed: true, used: 0.5)
        #expect(try await router.select(codeTask).modelName == "claude")
    }
}
