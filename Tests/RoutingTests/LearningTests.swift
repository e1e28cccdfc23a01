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
        // Once every candidate has enough outcomes, an exploring task goes to one below the top: a
        // model ranked low is checked again now and then.
        for i in 1...6 { await router.learn(Self.outcome("claude-opus-4", score: 1, n: i)); await router.learn(Self.outcome("claude-sonnet-4.5", score: 1, n: i)) }
        let rechecked = try await router.select(Seed.task(id: exploring), useLearning: true)
        #expect(rechecked.modelName == "claude-opus-4")
        #expect(rechecked.reason.contains("exploring: re-checking"), "\(rechecked.reason)")
        #expect(try await router.explain(Seed.task(id: exploring), useLearning: true).modelName == "claude-sonnet-4.5")
    }

    /// Before, exploration went only to a model with fewer than `minOutcomes`: a model whose cell
    /// turned poor got no task again, its cell never changed, and a recovery was never noticed.
    @Test("exploration keeps checking a counted model ranked low, so one that recovered is routed to again")
    func recoveredModelIsRelearned() async throws {
        let router = Self.router(exploration: 0.05)
        // sonnet failed this kind of task for a while; opus did it passably.
        for i in 1...20 {
            await router.learn(Self.outcome("claude-sonnet-4.5", score: 0, n: i))
            await router.learn(Self.outcome("claude-opus-4", score: 0.6, n: i))
        }
        let ids = (0..<20_000).map { "task-\($0)" }
        let routine = try #require(ids.first { !OutcomeLearner.explores(taskId: $0, share: 0.05) })
        #expect(try await router.select(Seed.task(id: routine), useLearning: true).modelName == "claude-opus-4")
        // sonnet recovered: every exploring task sent to it now succeeds.
        var explored = 0
        for id in ids.filter({ OutcomeLearner.explores(taskId: $0, share: 0.05) }).prefix(300) {
            let pick = try await router.select(Seed.task(id: id), useLearning: true)
            guard pick.modelName == "claude-sonnet-4.5" else { continue }
            explored += 1
            await router.learn(RoutingOutcome(taskId: id, model: pick.modelName, taskType: .code, complexity: 0.5, score: 1, weight: 1, signal: .feedback))
            if try await router.select(Seed.task(id: routine), useLearning: true).modelName == "claude-sonnet-4.5" { break }
        }
        #expect(explored > 0, "no exploring task went to the model ranked low")
        #expect(explored < 60, "\(explored) explored tasks")
        #expect(try await router.select(Seed.task(id: routine), useLearning: true).modelName == "claude-sonnet-4.5")
    }

    /// A tenant's outcomes feed the fleet's cell on purpose (the prior for whoever has no data of its
    /// own), but they do not steer another tenant for good: exploration gets that tenant outcomes of
    /// its own, and then it is ranked by them.
    @Test("one tenant's outcomes move the fleet's cell; another tenant is ranked by its own once exploration gave it enough")
    func fleetPriorIsBounded() async throws {
        let router = Self.router(exploration: 0.05)
        for i in 1...40 {
            await router.learn(Self.outcome("claude-sonnet-4.5", score: 0, tenant: "acme", n: i))
            await router.learn(Self.outcome("claude-opus-4", score: 0.6, tenant: "acme", n: i))
        }
        let ids = (0..<20_000).map { "task-\($0)" }
        let routineId = try #require(ids.first { !OutcomeLearner.explores(taskId: $0, share: 0.05) })
        var globex = Seed.task(id: routineId); globex.tenantId = "globex"
        var acme = Seed.task(id: routineId); acme.tenantId = "acme"
        // globex has nothing of its own: the fleet's cell, which acme's outcomes moved, ranks it.
        #expect(try await router.select(globex, useLearning: true).modelName == "claude-opus-4")
        var explored = 0
        for id in ids.filter({ OutcomeLearner.explores(taskId: $0, share: 0.05) }).prefix(100) {
            var task = Seed.task(id: id); task.tenantId = "globex"
            let pick = try await router.select(task, useLearning: true)
            guard pick.modelName == "claude-sonnet-4.5" else { continue }
            explored += 1
            await router.learn(Self.outcome("claude-sonnet-4.5", score: 1, tenant: "globex", n: 100 + explored))
            if try await router.select(globex, useLearning: true).modelName == "claude-sonnet-4.5" { break }
        }
        #expect(explored >= 1 && explored <= 5, "\(explored) explored tasks")
        let own = try await router.explain(globex, useLearning: true)
        #expect(own.modelName == "claude-sonnet-4.5")
        #expect(own.trace.candidates.first { $0.modelName == "claude-sonnet-4.5" }?.prediction?.scope == "tenant")
        // acme is still ranked by its own outcomes.
        #expect(try await router.select(acme, useLearning: true).modelName == "claude-opus-4")
    }

    @Test("a cell change applied to a stored cell is the outcomes added one by one; changes compose")
    func cellChangeComposes() {
        let config = LearningConfiguration(window: 10)
        let outcomes: [(score: Double, weight: Double)] = [(1, 1), (0, 0.5), (0.25, 0.5), (1, 1), (0, 1)]
        var start = LearnedCell(model: "m", taskType: .code, band: 2, tenantId: "acme")
        for _ in 0..<7 { start.add(score: 0.5, weight: 1, configuration: config, at: Date()) }
        var direct = start
        var whole = LearnedCellChange(model: "m", taskType: .code, band: 2, tenantId: "acme")
        var first = whole, second = whole
        for (i, o) in outcomes.enumerated() {
            direct.add(score: o.score, weight: o.weight, configuration: config, at: Date())
            whole.add(score: o.score, weight: o.weight, configuration: config, at: Date())
            if i < 2 { first.add(score: o.score, weight: o.weight, configuration: config, at: Date()) } else {
                second.add(score: o.score, weight: o.weight, configuration: config, at: Date())
            }
        }
        #expect(whole.key == start.key)
        for merged in [whole.applied(to: start), first.followed(by: second).applied(to: start)] {
            #expect(merged.observed == direct.observed)
            #expect(abs(merged.outcomes - direct.outcomes) < 1e-9)
            #expect(abs(merged.successes - direct.successes) < 1e-9)
        }
        // On a blank cell it is the cell the outcomes made from nothing.
        #expect(abs(whole.applied(to: nil).outcomes - (direct.outcomes - start.outcomes * whole.keep)) < 1e-9)
    }

    @Test("a sync takes in the stored cell and keeps what was learned while it ran")
    func reconcileKeepsLaterOutcomes() {
        let config = LearningConfiguration()
        let learner = OutcomeLearner()
        learner.record(Self.outcome("m", score: 1, n: 1), configuration: config, trackingChanges: true)
        let taken = learner.takeUnsynced()
        #expect(taken.map(\.observed) == [1])
        // Learned while the store merges.
        learner.record(Self.outcome("m", score: 0, n: 2), configuration: config, trackingChanges: true)
        // The store held three outcomes of another process's; it added the taken change to them.
        var stored = LearnedCell(model: "m", taskType: .code, band: config.band(of: 0.5), tenantId: nil)
        for _ in 0..<3 { stored.add(score: 1, weight: 1, configuration: config, at: Date()) }
        learner.reconcile(with: [taken[0].applied(to: stored)], complete: true)
        #expect(learner.snapshot().map(\.observed) == [5])
        #expect(learner.takeUnsynced().map(\.observed) == [1], "the outcome learned meanwhile waits for the next sync")
    }

    /// Before, each process saved its own cells, and the last writer's replaced the other's: a
    /// running fleetd wrote its cells over what `fleetd feedback` had imported into its file.
    @Test("two processes learning into one store: each one's outcomes are added to the other's, and each routes with both after a sync")
    func mergingStore() async throws {
        let file = MergingLearningStore()
        let server = Self.router(store: file)
        try await server.loadLearning()
        for i in 1...3 { await server.learn(Self.outcome("claude-sonnet-4.5", score: 1, n: i)) }
        try await server.syncLearning()
        // The operator's import, into the same store while the server runs.
        let importer = Self.router(store: file)
        try await importer.loadLearning()
        for i in 1...4 { await importer.learn(Self.outcome("claude-sonnet-4.5", score: 0, tenant: "acme", n: i)) }
        try await importer.syncLearning()
        // The server learns more before its next sync, which adds rather than overwrites.
        for i in 4...5 { await server.learn(Self.outcome("claude-sonnet-4.5", score: 1, n: i)) }
        try await server.syncLearning()
        let stored = await file.cells
        #expect(stored.values.first { $0.model == "claude-sonnet-4.5" && $0.tenantId == nil }?.observed == 9)
        #expect(stored.values.first { $0.model == "claude-sonnet-4.5" && $0.tenantId == "acme" }?.observed == 4)
        let config = server.configuration.learning
        let held = server.learner.predictions(models: ["claude-sonnet-4.5"], taskType: .code, complexity: 0.5, tenantId: "acme", configuration: config)
        #expect(held["claude-sonnet-4.5"]?.scope == "fleet", "acme's 4 outcomes are below the minimum")
        #expect(held["claude-sonnet-4.5"]?.outcomes == 9, "the server routes with the import and its own outcomes")
        #expect(server.learner.snapshot().count == 2)
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

/// Stands for one SQLite file several processes learn into: it adds each sync's changes to the
/// stored cells (as the real store does in one transaction) and answers with every cell.
actor MergingLearningStore: LearningStore {
    var cells: [String: LearnedCell] = [:]
    nonisolated var mergesChanges: Bool { true }
    func loadCells() async throws -> [LearnedCell] { Array(cells.values) }
    func saveCells(_ cells: [LearnedCell]) async throws { for cell in cells { self.cells[cell.key] = cell } }
    func saveTaskOutcome(_ record: TaskOutcomeRecord) async throws {}
    func taskOutcome(taskId: String, tenantId: String?) async throws -> TaskOutcomeRecord? { nil }
    func syncCells(_ changes: [LearnedCellChange], knownVersion: Int?) async throws -> LearnedCellSync {
        for change in changes { cells[change.key] = change.applied(to: cells[change.key]) }
        return LearnedCellSync(cells: Array(cells.values), complete: true, version: nil)
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
