import FleetSupport
import Foundation
import Routing
import Store
import Testing

@Suite("Router: allow-lists of keys, tokens and agent types")
struct RouterAccessTests {
    static func task(_ lists: [ModelAllowList], id: String = "t1") -> RoutingTask {
        var task = Seed.task(id: id)
        task.allowLists = lists
        return task
    }

    @Test("a key limited to one model is routed to it only; every other model is excluded at access, naming the key")
    func oneModel() async throws {
        // At 0.2 the cheap haiku would win; the key allows sonnet only.
        let router = ModelRouter(configuration: Seed.configuration(defaultModel: "claude-haiku-4", lastResort: "qwen-local")
                                     .with(Seed.ollama), scorer: FixedScorer(defaultScore: 0.35))
        let key = ModelAllowList(source: "key fk-ab12cd34", models: ["claude-sonnet-4.5"])
        let selection = try await router.select(Self.task([key]))
        #expect(selection.modelName == "claude-sonnet-4.5")
        #expect(selection.fallbackModels.isEmpty, "no fallback to a model the key may not use, not the default nor the last resort")
        for name in ["claude-haiku-4", "claude-opus-4", "qwen-local"] {
            let trace = try #require(selection.trace.candidates.first { $0.modelName == name })
            #expect(trace.exclusion?.stage == .access, "\(name): \(trace.decisions)")
            #expect(trace.exclusion?.detail.contains("key fk-ab12cd34") == true)
        }
        let allowed = try #require(selection.trace.candidates.first { $0.modelName == "claude-sonnet-4.5" })
        #expect(allowed.decisions.contains { $0.stage == .access && $0.passed })
        // A live selection's passed stages carry no text; `explain` (fleetd route) says why.
        #expect(allowed.decisions.filter { $0.stage == .access || $0.stage == .capabilities }.allSatisfy { $0.passed && $0.detail.isEmpty })
        let explained = try #require(try await router.explain(Self.task([key])).trace.candidates.first { $0.modelName == "claude-sonnet-4.5" })
        #expect(explained.decisions.contains { $0.stage == .access && $0.passed && $0.detail == "allowed for key fk-ab12cd34" })

        // A preferred model the key may not use is not picked either.
        var preferring = Self.task([key], id: "t2")
        preferring.preferredModel = "claude-opus-4"
        #expect(try await router.select(preferring).modelName == "claude-sonnet-4.5")
    }

    @Test("lists from the key and the agent type both hold; none left is ROUTER_001 naming each exclusion")
    func intersection() async throws {
        let router = ModelRouter(configuration: Seed.configuration([Seed.opus, Seed.sonnet, Seed.haiku, Seed.ollama]),
                                 scorer: FixedScorer(defaultScore: 0.35))
        let key = ModelAllowList(source: "key fk-k1", providers: [.anthropic])
        let type = ModelAllowList(source: "agent type 'coder'", models: ["claude-sonnet-4.5", "qwen-local"])
        #expect(try await router.select(Self.task([key, type])).modelName == "claude-sonnet-4.5")

        let local = ModelAllowList(source: "agent type 'offline'", models: ["qwen-local"])
        let error = await #expect(throws: RouterError.self) { try await router.select(Self.task([key, local])) }
        #expect(error?.code == .modelSelectionFailed)
        #expect(error?.exclusions.allSatisfy { $0.stage == .access } == true)
        #expect(error?.exclusions.first { $0.model == "qwen-local" }?.reason.contains("provider ollama is not among those allowed for key fk-k1") == true)
        #expect(error?.exclusions.first { $0.model == "claude-haiku-4" }?.reason.contains("agent type 'offline'") == true)
    }

    @Test("with the router off, a default model the caller may not use is refused, not called")
    func routerOff() async throws {
        let router = ModelRouter(configuration: Seed.configuration(defaultModel: "claude-haiku-4"), scorer: FixedScorer(defaultScore: 0.1))
        let error = await #expect(throws: RouterError.self) {
            try await router.select(Self.task([ModelAllowList(source: "key fk-k1", models: ["claude-opus-4"])]), useRouter: false)
        }
        #expect(error?.code == .modelSelectionFailed)
        #expect(error?.exclusions.first?.stage == .access)
        #expect(try await router.select(Self.task([ModelAllowList(source: "key fk-k1", models: ["claude-haiku-4"])]), useRouter: false)
            .modelName == "claude-haiku-4")
    }

    @Test("an allow-list whose models' ranges exclude the score still gets its models, nearest range first, the reason saying so")
    func allowListOutranksComplexityRanges() async throws {
        // At 0.95 only opus is in range, and the key may not use it. Sonnet (0.3–0.8) is nearer
        // than haiku (0–0.4); the cost strategy alone would put haiku first.
        let router = ModelRouter(configuration: Seed.configuration(strategy: .cost, defaultModel: "claude-opus-4"),
                                 scorer: FixedScorer(defaultScore: 0.95))
        let key = ModelAllowList(source: "key fk-k1", models: ["claude-sonnet-4.5", "claude-haiku-4"])
        let selection = try await router.select(Self.task([key]))
        #expect(selection.modelName == "claude-sonnet-4.5")
        #expect(selection.fallbackModels == ["claude-haiku-4"])
        #expect(selection.reason.contains("outside its complexity range") && selection.reason.contains("key fk-k1"), "\(selection.reason)")
        let sonnet = try #require(selection.trace.candidates.first { $0.modelName == "claude-sonnet-4.5" })
        #expect(sonnet.decisions.contains { $0.stage == .complexityRange && $0.passed && $0.detail.contains("kept") })
        #expect(selection.trace.candidates.first { $0.modelName == "claude-opus-4" }?.exclusion?.stage == .access)

        // Without an allow-list, nothing changes: the in-range model serves.
        #expect(try await router.select(Self.task([])).modelName == "claude-opus-4")
    }

    @Test("a tenant's trace and reason carry no fleet-wide budget figures; the operator's do")
    func tenantSeesNoFleetSpend() async throws {
        let router = ModelRouter(configuration: Seed.configuration(), scorer: FixedScorer(defaultScore: 0.2),
                                 budget: FakeBudget.daily(limit: 100, spent: 12.5, policy: .block))
        var task = Seed.task(id: "t-tenant")
        task.tenantId = "beta"
        let selection = try await router.explain(task)
        let texts = [selection.trace.budget, selection.reason] + selection.trace.candidates.flatMap { $0.decisions.map(\.detail) + $0.notes }
        for figure in ["$100", "$12.5", "$87.5", "remaining"] {
            #expect(!texts.contains { $0.contains(figure) }, "\(figure): \(texts)")
        }
        #expect(selection.trace.budget.contains("policy block"), "\(selection.trace.budget)")
        let operatorView = try await router.explain(Seed.task(id: "t-op"))
        #expect(operatorView.trace.budget.contains("$100"), "\(operatorView.trace.budget)")
    }

    @Test("a caller with a budget of its own sees its figures in the budget stage and line, never the fleet's, tenant or not")
    func ownBudgetReplacesFleetFigures() async throws {
        let router = ModelRouter(configuration: Seed.configuration(), scorer: FixedScorer(defaultScore: 0.2),
                                 budget: FakeBudget.daily(limit: 100, spent: 12.5, policy: .block))
        func key(limit: Double) -> CallerBudget {
            CallerBudget(owner: "key fk-k1", status: BudgetStatus(enabled: true, policy: .block,
                                                                 periods: [PeriodBudgetStatus(period: .day, limit: limit, spent: 0.5, reserved: 0)]))
        }
        for tenant in [nil, "beta"] as [String?] {
            var task = Seed.task(id: "t-key")
            task.tenantId = tenant
            task.callerBudget = key(limit: 10)
            let selection = try await router.explain(task)
            // At 0.2 only haiku is in range: $2.40 for 500 tokens in and 500 out.
            let budget = selection.trace.candidates.flatMap { $0.decisions.filter { $0.stage == .budget }.map(\.detail) }
            #expect(budget == ["estimated $2.4000 within the fleet budget; within the $9.5000 key fk-k1 has left"], "\(tenant ?? "no tenant"): \(budget)")
            #expect(selection.trace.budget == "key fk-k1: day $0.5000 of $10.0000 used; policy block", "\(selection.trace.budget)")
            let texts = [selection.trace.budget, selection.reason] + selection.trace.candidates.flatMap { $0.decisions.map(\.detail) + $0.notes }
            for figure in ["$100", "$12.5", "$87.5"] {
                #expect(!texts.contains { $0.contains(figure) }, "\(figure): \(texts)")
            }
        }
        // A call past what the key has left is named so: the cost tracker refuses it when it reserves.
        var tight = Seed.task(id: "t-tight")
        tight.callerBudget = key(limit: 2)
        let refused = try await router.explain(tight)
        let haiku = try #require(refused.trace.candidates.first { $0.modelName == "claude-haiku-4" })
        let detail = haiku.decisions.last(where: { $0.stage == .budget })?.detail ?? ""
        #expect(detail.contains("more than the $1.5000 key fk-k1 has left"), "\(detail)")
    }

    @Test("a tenant's selection is recorded under <tenant>/<taskId>")
    func recordKey() async throws {
        let recorder = InMemoryRecorder()
        let router = ModelRouter(configuration: Seed.configuration(), scorer: FixedScorer(defaultScore: 0.2), recorder: recorder)
        var task = Seed.task(id: "same-id")
        task.tenantId = "acme"
        let selection = try await router.select(task)
        #expect(selection.tenantId == "acme" && selection.recordKey == "acme/same-id")
        let untenanted = try await router.select(Seed.task(id: "same-id"))
        #expect(untenanted.recordKey == "same-id")
    }
}

/// Keeps what it is given.
private actor InMemoryRecorder: SelectionRecorder {
    var selections: [ModelSelection] = []
    func record(_ selection: ModelSelection) async throws { selections.append(selection) }
}

extension RoutingConfiguration {
    /// The configuration with one more model.
    func with(_ model: ModelConfiguration) -> RoutingConfiguration {
        var copy = self
        copy.models.append(model)
        return copy
    }
}
