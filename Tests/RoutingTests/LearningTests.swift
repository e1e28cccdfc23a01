import Foundation
import Routing
import Testing

/// `predictiveRouting`: the learner and how the router ranks with it.
@Suite("Predictive routing")
struct LearningTests {
    /// Two candidates for a 0.5 task: sonnet (cheaper, ranked first without learning) and a
    /// wide-range opus.
    static let wideOpus = ModelConfiguration(
        name: "claude-opus-4", provider: .anthropic, model: "claude-opus-4-20250514",
        capabilities: ModelCapabilities(maxTokens: 200_000, costPer1kTokens: .init(input: 15, output: 75)),
        complexityRange: ComplexityRange(min: 0, max: 1))

    static func router(exploration: Double = 0, minOutcomes: Double = 5, store: (any LearningStore)? = nil) -> ModelRouter {
        var config = Seed.configuration([Seed.sonnet, wideOpus])
        config.learning.exploration = exploration
        config.learning.minOutcomes = minOutcomes
        return ModelRouter(configuration: config, scorer: FixedScorer(defaultScore: 0.5, type: .code), learningStore: store)
    }

    static func outcome(_ model: String, score: Double, tenant: String? = nil, type: TaskType = .code, n: Int = 0) -> RoutingOutcome {
        RoutingOutcome(taskId: "o\(n)", model: model, taskType: type, complexity: 0.5, tenantId: tenant, score: score, weight: 1, signal: .feedback)
    }

    @Test("a model that keeps failing a task type is routed around within a bounded number of outcomes; off, nothing changes")
    func switchesWithinBound() async throws {
        let router = Self.router()
        let before = try await router.select(Seed.task(id: "a"), useLearning: true)
        #expect(before.modelName == "claude-sonnet-4.5")
        var switchedAfter: Int?
        for i in 1...20 {
            await router.learn(Self.outcome("claude-sonnet-4.5", score: 0, n: i))
            await router.learn(Self.outcome("claude-opus-4", score: 1, n: i))
            let pick = try await router.select(Seed.task(id: "b\(i)"), useLearning: true)
            if pick.modelName == "claude-opus-4" { switchedAfter = i; break }
        }
        // It switches as soon as the estimate counts (5 outcomes), not before.
        #expect(switchedAfter == 5)
        let learned = try await router.explain(Seed.task(id: "c"), useLearning: true)
        #expect(learned.reason.contains("predicted success"))
        let sonnet = try #require(learned.trace.candidates.first { $0.modelName == "claude-sonnet-4.5" }?.prediction)
        #expect(sonnet.counted && sonnet.predictedSuccess < 0.3 && sonnet.scope == "fleet")
        // The flag off routes exactly as before any outcome, and shows no learning.
        let off = try await router.select(Seed.task(id: "d"), useLearning: false)
        #expect(off.modelName == before.modelName)
        #expect(off.trace.candidates.allSatisfy { $0.prediction == nil } && off.predictedDifficulty == nil)
        // A task of another type is not affected by what was learned of code.
        let other = try await router.select(Seed.task(id: "e", type: .chat), useLearning: true)
        #expect(other.modelName == "claude-sonnet-4.5")
    }

    @Test("with no outcomes, learning on ranks exactly as learning off (cold start is the complexity score)")
    func coldStartIsUnchanged() async throws {
        let router = Self.router()
        for (i, score) in [0.1, 0.35, 0.5, 0.75, 0.95].enumerated() {
            let r = ModelRouter(configuration: router.configuration, scorer: FixedScorer(defaultScore: score, type: .code))
            let on = try await r.explain(Seed.task(id: "t\(i)"), useLearning: true)
            let off = try await r.explain(Seed.task(id: "t\(i)"), useLearning: false)
            #expect(on.modelName == off.modelName)
            #expect(on.fallbackModels == off.fallbackModels)
            #expect(on.predictedDifficulty == score)
        }
    }

    @Test("fewer outcomes than the minimum change nothing")
    func minimumOutcomes() async throws {
        let router = Self.router(minOutcomes: 8)
        for i in 1...7 { await router.learn(Self.outcome("claude-sonnet-4.5", score: 0, n: i)) }
        #expect(try await router.select(Seed.task(id: "x"), useLearning: true).modelName == "claude-sonnet-4.5")
        await router.learn(Self.outcome("claude-sonnet-4.5", score: 0, n: 8))
        #expect(try await router.select(Seed.task(id: "y"), useLearning: true).modelName == "claude-opus-4")
    }

    @Test("decay: a model that got better is noticed within about a window of outcomes")
    func decayNoticesChange() {
        let learner = OutcomeLearner()
        var config = LearningConfiguration()
        config.window = 20
        for i in 0..<100 { learner.record(Self.outcome("m", score: 0, n: i), configuration: config) }
        func p() -> Double {
            learner.predictions(models: ["m"], taskType: .code, complexity: 0.5, tenantId: nil, configuration: config)["m"]!.predictedSuccess
        }
        #expect(p() < 0.1)
        for i in 0..<40 { learner.record(Self.outcome("m", score: 1, n: i), configuration: config) }
        // Two windows of successes outweigh a hundred old failures.
        #expect(p() > 0.8)
        // The effective count is bounded by the window.
        let n = learner.predictions(models: ["m"], taskType: .code, complexity: 0.5, tenantId: nil, configuration: config)["m"]!.effectiveOutcomes
        #expect(n <= 20.0001)
    }

    @Test("a tenant with enough outcomes of its own is routed by them; another tenant by the fleet's")
    func perTenant() async throws {
        let router = Self.router()
        for i in 1...10 { await router.learn(Self.outcome("claude-sonnet-4.5", score: 0, tenant: "acme", n: i)) }
        for i in 1...40 { await router.learn(Self.outcome("claude-sonnet-4.5", score: 1, tenant: "globex", n: i)) }
        var acme = Seed.task(id: "a1"); acme.tenantId = "acme"
        var globex = Seed.task(id: "g1"); globex.tenantId = "globex"
        var newcomer = Seed.task(id: "n1"); newcomer.tenantId = "initech"
        let a = try await router.explain(acme, useLearning: true)
        #expect(a.modelName == "claude-opus-4")
        #expect(a.trace.candidates.first { $0.modelName == "claude-sonnet-4.5" }?.prediction?.scope == "tenant")
        #expect(try await router.explain(globex, useLearning: true).modelName == "claude-sonnet-4.5")
        let n = try await router.explain(newcomer, useLearning: true)
        #expect(n.modelName == "claude-sonnet-4.5")
        #expect(n.trace.candidates.first { $0.modelName == "claude-sonnet-4.5" }?.prediction?.scope == "fleet")
    }

    @Test("without an authenticated tenant, the tenant a task named is ranked by what was learned for it; records stay keyed as before")
    func namedTenant() async throws {
        #expect(LearningTenant.resolve(authenticated: "acme", named: "globex") == "acme", "a tenant's caller never speaks for another")
        #expect(LearningTenant.resolve(authenticated: nil, named: "globex") == "globex")
        #expect(LearningTenant.resolve(authenticated: nil, named: "") == nil)
        #expect(LearningTenant.resolve(authenticated: nil, named: nil) == nil)
        let router = Self.router()
        // What a task of acme's (or `fleetd feedback` with `"tenant": "acme"`) taught.
        for i in 1...10 { await router.learn(Self.outcome("claude-sonnet-4.5", score: 0, tenant: "acme", n: i)) }
        var named = Seed.task(id: "u1")
        named.namedTenantId = "acme"
        #expect(named.learningTenantId == "acme")
        let selection = try await router.explain(named, useLearning: true)
        #expect(selection.trace.candidates.first { $0.modelName == "claude-sonnet-4.5" }?.prediction?.scope == "tenant")
        #expect(selection.tenantId == nil && selection.recordKey == "u1", "the selection is recorded under the authenticated tenant only")
        var authenticated = Seed.task(id: "u2")
        authenticated.tenantId = "globex"
        authenticated.namedTenantId = "acme"
        #expect(authenticated.learningTenantId == "globex")
    }

    @Test("exploration: about the configured share of tasks go to an under-sampled candidate, and only live")
    func explorationShare() async throws {
        let share = (0..<20_000).filter { OutcomeLearner.explores(taskId: "task-\($0)", share: 0.05) }.count
        #expect(abs(Double(share) / 20_000 - 0.05) < 0.01)
        #expect(!(0..<1_000).contains { OutcomeLearner.explores(taskId: "task-\($0)", share: 0) })

        let router = Self.router(exploration: 0.05)
        let exploring = try #require((0..<1_000).map { "task-\($0)" }.first { OutcomeLearner.explores(taskId: $0, share: 0.05) })
        let live = try await router.select(Seed.task(id: exploring), useLearning: true)
        #expect(live.modelName == "claude-opus-4")
        #expect(live.reason.contains("exploring"))
        // Explaining never explores; the flag off never explores.
        #expect(try await router.explain(Seed.task(id: exploring), useLearning: true).modelName == "claude-sonnet-4.5")
        #expect(try await router.select(Seed.task(id: exploring), useLearning: false).modelName == "claude-sonnet-4.5")
        // Once every candidate has enough outcomes, there is nothing to explore.
        for i in 1...6 { await router.learn(Self.outcome("claude-opus-4", score: 1, n: i)); await router.learn(Self.outcome("claude-sonnet-4.5", score: 1, n: i)) }
        #expect(try await router.select(Seed.task(id: exploring), useLearning: true).modelName == "claude-sonnet-4.5")
    }

    @Test("feedback attaches to the task's record once, persists the cells, and names what is wrong")
    func feedback() async throws {
        let store = InMemoryLearningStore()
        let router = Self.router(store: store)
        await router.rememberOutcome(TaskOutcomeRecord(taskId: "t1", model: "claude-sonnet-4.5", taskType: .code, complexity: 0.5,
                                                       tenantId: "acme", signal: .completed, at: Date()))
        let record = try await router.feedback(taskId: "t1", tenantId: "acme", score: 0.2, label: "wrong")
        #expect(record.model == "claude-sonnet-4.5")
        #expect(await store.cells.count == 2) // the fleet's cell and acme's
        #expect(await store.records["acme/t1"]?.feedbackScore == 0.2)
        await #expect(throws: FeedbackError.self) { try await router.feedback(taskId: "t1", tenantId: "acme", score: 1, label: nil) }
        await #expect(throws: FeedbackError.self) { try await router.feedback(taskId: "t1", tenantId: "globex", score: 1, label: nil) }
        await #expect(throws: FeedbackError.self) { try await router.feedback(taskId: "t1", tenantId: "acme", score: 1.5, label: nil) }
        // Ten at the same moment on another task, with a store that takes a moment to read (as a
        // real one does): one is taken, the others are refused (before, all ten were counted).
        let slow = SlowReadingLearningStore()
        let racing = Self.router(store: slow)
        await racing.rememberOutcome(TaskOutcomeRecord(taskId: "t2", model: "claude-sonnet-4.5", taskType: .code, complexity: 0.5,
                                                       tenantId: "acme", signal: .completed, at: Date()))
        let accepted = await withTaskGroup(of: Bool.self) { group in
            for _ in 0..<10 { group.addTask { (try? await racing.feedback(taskId: "t2", tenantId: "acme", score: 0, label: nil)) != nil } }
            return await group.reduce(0) { $0 + ($1 ? 1 : 0) }
        }
        #expect(accepted == 1, "\(accepted) accepted")
        // A restarted router loads what was learned.
        let restarted = Self.router(store: store)
        try await restarted.loadLearning()
        #expect(restarted.learner.snapshot() == router.learner.snapshot())
    }

    @Test("predicted difficulty moves from the complexity score towards what weak models showed")
    func predictedDifficulty() {
        let learner = OutcomeLearner()
        let config = LearningConfiguration()
        let strong: Set<String> = ["opus"]
        #expect(learner.predictedDifficulty(taskType: .math, complexity: 0.3, tenantId: nil, strongModels: strong, configuration: config) == 0.3)
        for i in 0..<10 { learner.record(RoutingOutcome(taskId: "\(i)", model: "haiku", taskType: .math, complexity: 0.3, score: 0, signal: .imported), configuration: config) }
        // Outcomes of strong models say nothing about whether a strong model is needed.
        for i in 0..<10 { learner.record(RoutingOutcome(taskId: "\(i)", model: "opus", taskType: .math, complexity: 0.3, score: 1, signal: .imported), configuration: config) }
        let d = learner.predictedDifficulty(taskType: .math, complexity: 0.3, tenantId: nil, strongModels: strong, configuration: config)
        #expect(d > 0.85)
        #expect(learner.predictedDifficulty(taskType: .chat, complexity: 0.3, tenantId: nil, strongModels: strong, configuration: config) == 0.3)
    }
}

/// An in-memory learning store whose answers to reads take 20 ms to come back.
actor SlowReadingLearningStore: LearningStore {
    let base = InMemoryLearningStore()
    func loadCells() async throws -> [LearnedCell] { try await base.loadCells() }
    func saveCells(_ cells: [LearnedCell]) async throws { try await base.saveCells(cells) }
    func saveTaskOutcome(_ record: TaskOutcomeRecord) async throws { try await base.saveTaskOutcome(record) }
    func taskOutcome(taskId: String, tenantId: String?) async throws -> TaskOutcomeRecord? {
        let record = try await base.taskOutcome(taskId: taskId, tenantId: tenantId)
        try await Task.sleep(for: .milliseconds(20)) // the answer is on its way back
        return record
    }
    func apply(_ outcome: RoutingOutcome, to cells: [LearnedCell], configuration: LearningConfiguration) async throws -> [LearnedCell]? { nil }
}
