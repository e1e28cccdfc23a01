import FleetSupport
import Foundation
import Logging
import Metrics
import Store
import Synchronization

/// Picks a model for every task and learns from outcomes.
///
/// A `final class` with `Mutex`-guarded state rather than an actor: a selection is a short synchronous
/// computation (the pure ``RoutingEngine``) around a few awaits on budget and quota, and batch routing runs
/// many decisions in parallel; an actor would serialise them all for no benefit. No lock is held across an
/// `await`: the router snapshots configuration, stats and health, awaits budget and quota, then decides.
///
/// - ``select(_:useRouter:)``: the live path. Takes the primary model's breaker probe when half-open and
///   records the selection through the ``SelectionRecorder``.
/// - ``explain(_:useRouter:)``: the same decision without side effects (`fleetd route`, `POST /v1/route`).
/// - ``recordOutcome(model:success:latency:error:)``: after each attempt, feeds stats and breakers.
/// - ``beginAttempt(model:)``: before trying a fallback, takes its breaker (and probe slot) or refuses.
///
/// Metrics (swift-metrics): `fleetd_routing_selections_total{model,routed,fallback}` and
/// `fleetd_routing_errors_total{code}` from ``select(_:useRouter:)``.
public final class ModelRouter: Sendable {
    private struct State {
        var engine: RoutingEngine
        var stats: [String: ModelStats]
        /// Tasks whose feedback is being applied now: a second at the same moment is refused as
        /// given already (its read of the record would not see the first's mark yet).
        var feedbackInFlight: Set<String> = []
        /// The learning store's version at the last ``ModelRouter/syncLearning()``.
        var learningVersion: Int?
        /// A ``ModelRouter/syncLearning()`` is under way.
        var syncingLearning = false
    }

    private let state: Mutex<State>
    /// The breakers of every model and provider.
    public let health: HealthMonitor
    private let scorer: LiveSetting<any ComplexityScoring>
    private let budget: (any BudgetStatusProviding)?
    private let quota: (any QuotaChecking)?
    private let statsStore: (any RoutingStatsStore)?
    private let recorder: (any SelectionRecorder)?
    /// What `predictiveRouting` has learned (in memory; persisted through ``learningStore``).
    public let learner = OutcomeLearner()
    private let learningStore: (any LearningStore)?
    private let clock: any WallClock
    private let logger: Logger

    /// - Parameters:
    ///   - configuration: the routing configuration (validate it first; the router is defensive anyway).
    ///   - scorer: complexity analysis (the real ``ComplexityAnalyzer`` in production).
    ///   - budget: the cost tracker's budget status; `nil` means no budget.
    ///   - quota: the quota manager; `nil` means no quotas.
    ///   - statsStore: where stats persist (`routing/stats`); `nil` keeps them in memory only.
    ///   - recorder: where selections persist (`routing/selections/<taskId>`); `nil` records nothing.
    ///   - clock: time for timestamps and breakers.
    public init(
        configuration: RoutingConfiguration,
        scorer: any ComplexityScoring,
        budget: (any BudgetStatusProviding)? = nil,
        quota: (any QuotaChecking)? = nil,
        statsStore: (any RoutingStatsStore)? = nil,
        recorder: (any SelectionRecorder)? = nil,
        learningStore: (any LearningStore)? = nil,
        clock: any WallClock = SystemWallClock(),
        logger: Logger = Logger(label: "fleetd.routing")
    ) {
        state = Mutex(State(engine: RoutingEngine(configuration: configuration), stats: [:]))
        health = HealthMonitor(configuration: configuration.health, clock: clock)
        self.scorer = LiveSetting(scorer)
        self.budget = budget
        self.quota = quota
        self.statsStore = statsStore
        self.recorder = recorder
        self.learningStore = learningStore
        self.clock = clock
        self.logger = logger
        for issue in RoutingEngine(configuration: configuration).registry.issues {
            logger.warning("routing configuration: \(issue.description)")
        }
    }

    /// The configuration in use.
    public var configuration: RoutingConfiguration { state.withLock { $0.engine.configuration } }
    /// The models in use.
    public var registry: ModelRegistry { state.withLock { $0.engine.registry } }

    /// Replaces the configuration atomically (SIGHUP reload). Stats and breaker states are kept.
    public func update(configuration: RoutingConfiguration) {
        state.withLock { $0.engine = RoutingEngine(configuration: configuration) }
        health.update(configuration: configuration.health)
    }

    /// Replaces the complexity scorer (a reload with new `routing.complexity` weights).
    public func update(scorer: any ComplexityScoring) {
        self.scorer.set(scorer)
    }

    /// Loads persisted stats from the store, merging over what is in memory. Call once at start-up.
    public func loadStats() async throws {
        guard let statsStore else { return }
        let loaded = try await statsStore.loadStats()
        state.withLock { s in
            for stat in loaded { s.stats[stat.model] = stat }
        }
    }

    /// Loads the learner's persisted cells. Call once at start-up.
    public func loadLearning() async throws {
        guard let learningStore else { return }
        learner.load(try await learningStore.loadCells())
    }

    /// The observed stats of every model that has had an outcome.
    public func stats() -> [ModelStats] {
        state.withLock { Array($0.stats.values) }.sorted { $0.model < $1.model }
    }

    /// Selects a model for a task (the live path).
    ///
    /// - Parameter useRouter: the resolved `multiModelRouter` flag. `false` (or `routing.enabled: false`) sends
    ///   the task to `defaultModel` as v1.0.4 did.
    /// - Throws: ``RouterError`` ROUTER_001 when no model can serve, ROUTER_002 / ROUTER_003 from the budget.
    /// - Parameter useLearning: the resolved `predictiveRouting` flag: rank with what outcomes taught
    ///   (``OutcomeLearner``), and explore a small share of tasks. `false` routes exactly as without it.
    public func select(_ task: RoutingTask, useRouter: Bool = true, useLearning: Bool = false) async throws(RouterError) -> ModelSelection {
        let selection: ModelSelection
        do {
            selection = try await decide(task, useRouter: useRouter, useLearning: useLearning, live: true)
        } catch {
            Counter(label: "fleetd_routing_errors_total", dimensions: [("code", error.code.rawValue)]).increment()
            throw error
        }
        if selection.trace.candidates.contains(where: { $0.position == 1 && $0.notes.contains { $0.hasPrefix("exploring") } }) {
            Counter(label: "fleetd_routing_explorations_total").increment()
        }
        Counter(label: "fleetd_routing_selections_total",
                dimensions: [("model", selection.modelName), ("routed", selection.routed ? "true" : "false"),
                             ("fallback", selection.fallbackChain.isEmpty ? "none" : "available")]).increment()
        // A preferred model no configured model has: the reason line tells the client, this the operator.
        if selection.routed, let preferred = task.preferredModel,
           let unknown = state.withLock({ $0.engine.unknownPreferredModel(task) }) {
            logger.warning("\(unknown)", metadata: ["taskId": "\(task.taskId)", "preferredModel": "\(preferred)"])
        }
        if let recorder {
            do {
                try await recorder.record(selection)
            } catch {
                // A store failure must not stop the task: routing degrades to unrecorded selections.
                logger.warning("could not record selection", metadata: ["taskId": "\(task.taskId)", "error": "\(error)"])
            }
        }
        return selection
    }

    /// The decision ``select(_:useRouter:)`` would make, without taking a probe or recording anything.
    public func explain(_ task: RoutingTask, useRouter: Bool = true, useLearning: Bool = false) async throws(RouterError) -> ModelSelection {
        try await decide(task, useRouter: useRouter, useLearning: useLearning, live: false)
    }

    /// Takes `model`'s breakers for one call (a probe slot when half-open). Call before trying a fallback;
    /// `false` means skip it. The selection's primary model already holds its slot.
    public func beginAttempt(model: String) -> Bool {
        guard let config = registry.model(named: model) else { return false }
        return health.acquire(model: model, provider: config.provider)
    }

    /// Gives back the probe slot ``select(_:useRouter:)`` or ``beginAttempt(model:)`` took for a
    /// call that is not made after all (the answer came from the cache).
    public func endAttempt(model: String) {
        guard let config = registry.model(named: model) else { return }
        health.release(model: model, provider: config.provider)
    }

    /// Records how a call to `model` went: updates its stats (persisted) and breakers.
    /// - Parameters:
    ///   - latency: time to the complete answer (or to the failure).
    ///   - error: how it failed; `nil` with `success: false` counts as ``CallFailure/other(_:)``.
    public func recordOutcome(model: String, success: Bool, latency: Duration, error: CallFailure? = nil) async {
        let now = clock.now
        let ms = latency.inMilliseconds
        let failure = success ? nil : (error ?? .other("failed"))
        let counts = failure?.countsAgainstHealth ?? true
        let (provider, updated): (ProviderKind?, ModelStats?) = state.withLock { s in
            let provider = s.engine.registry.model(named: model)?.provider
            guard counts else { return (provider, nil) }
            var stat = s.stats[model] ?? ModelStats(model: model)
            stat.record(success: success, latencyMs: ms, error: failure?.description, at: now)
            s.stats[model] = stat
            return (provider, stat)
        }
        if let provider {
            if let failure {
                health.recordFailure(model: model, provider: provider, failure: failure)
            } else {
                health.recordSuccess(model: model, provider: provider, startedAt: now.addingTimeInterval(-ms / 1_000))
            }
        } else {
            logger.warning("outcome for an unknown model", metadata: ["model": "\(model)"])
        }
        if let updated, let statsStore {
            do {
                if let stored = try await statsStore.recordOutcome(model: model, success: success, latencyMs: ms, error: failure?.description, at: now) {
                    // A shared store: its stats hold every instance's calls, this one included.
                    state.withLock { $0.stats[model] = stored }
                } else {
                    try await statsStore.saveStats(updated)
                }
            } catch {
                logger.warning("could not persist routing stats", metadata: ["model": "\(model)", "error": "\(error)"])
            }
        }
    }

    /// What `GET /v1/models` shows: each model with its breaker and stats.
    public func modelStatuses() -> [ModelStatus] {
        let (models, stats) = state.withLock { ($0.engine.registry.models, $0.stats) }
        let snapshot = health.snapshot()
        return models.map { m in
            ModelStatus(name: m.name, provider: m.provider.rawValue, model: m.model, enabled: m.enabled,
                        breaker: snapshot.model(m.name), providerBreaker: snapshot.provider(m.provider.rawValue), stats: stats[m.name],
                        missingAPIKey: m.missingAPIKeyVariable, disabledReason: m.enabled ? nil : m.disabledReason)
        }
    }

    /// The engine and a snapshot of every input, for batch routing (no probe, no recording).
    func batchContext() async -> (engine: RoutingEngine, inputs: RoutingInputs) {
        let engine = state.withLock { $0.engine }
        return (engine, await gatherInputs(for: engine, useRouter: true))
    }

    /// Scores a task with the router's scorer.
    func score(_ task: RoutingTask) -> ComplexityScore { scorer.value.score(task) }

    private func gatherInputs(for engine: RoutingEngine, useRouter: Bool) async -> RoutingInputs {
        let stats = state.withLock { $0.stats }
        let routed = useRouter && engine.configuration.enabled
        let budgetStatus = routed ? (await budget?.budgetStatus() ?? .unlimited) : .unlimited
        var quotas: [ProviderKind: QuotaDecision] = [:]
        if routed, let quota {
            var seen = Set<ProviderKind>()
            for m in engine.registry.models where m.enabled && seen.insert(m.provider).inserted {
                quotas[m.provider] = await quota.check(provider: m.provider.rawValue)
            }
        }
        return RoutingInputs(budget: budgetStatus, quotas: quotas, health: health.availability(of: engine.registry.models),
                             stats: stats, now: clock.now)
    }

    private func decide(_ task: RoutingTask, useRouter: Bool, useLearning: Bool, live: Bool) async throws(RouterError) -> ModelSelection {
        let engine = state.withLock { $0.engine }
        let score = scorer.value.score(task)
        let learning = useRouter && useLearning && engine.configuration.enabled
        var selection = try await decideUnscoped(task, engine: engine, score: score, useRouter: useRouter,
                                                 learning: learning ? learningInputs(task, engine: engine, score: score, live: live) : nil,
                                                 live: live)
        selection.tenantId = task.tenantId
        if learning { selection.predictedDifficulty = predictedDifficulty(score, tenantId: task.learningTenantId, engine: engine) }
        return selection
    }

    /// What the learner predicts of every model for this task, and whether it explores.
    func learningInputs(_ task: RoutingTask, engine: RoutingEngine, score: ComplexityScore, live: Bool) -> LearningInputs {
        let config = engine.configuration.learning
        let predictions = learner.predictions(models: engine.registry.models.map(\.name), taskType: score.taskType,
                                              complexity: score.overall, tenantId: task.learningTenantId, configuration: config)
        return LearningInputs(predictions: predictions, explore: live && OutcomeLearner.explores(taskId: task.taskId, share: config.exploration),
                              minOutcomes: config.minOutcomes, explorationSeed: OutcomeLearner.explorationSeed(taskId: task.taskId))
    }

    /// How likely a task needs a strong model (``OutcomeLearner/predictedDifficulty(taskType:complexity:tenantId:strongModels:configuration:)``).
    public func predictedDifficulty(_ score: ComplexityScore, tenantId: String?) -> Double {
        predictedDifficulty(score, tenantId: tenantId, engine: state.withLock { $0.engine })
    }

    private func predictedDifficulty(_ score: ComplexityScore, tenantId: String?, engine: RoutingEngine) -> Double {
        let config = engine.configuration.learning
        let strong = Set(engine.registry.models.filter { $0.effectiveQuality >= config.strongQuality }.map(\.name))
        return learner.predictedDifficulty(taskType: score.taskType, complexity: score.overall, tenantId: tenantId,
                                           strongModels: strong, configuration: config)
    }

    /// Learns from one outcome and persists the cells it changed. A store failure is logged: the
    /// learner in memory still has it. With a store that merges (``LearningStore/mergesChanges``),
    /// the change waits for the next ``syncLearning()``.
    public func learn(_ outcome: RoutingOutcome) async {
        let merges = learningStore?.mergesChanges ?? false
        let changed = learner.record(outcome, configuration: configuration.learning, trackingChanges: merges)
        Counter(label: "fleetd_routing_outcomes_total", dimensions: [("signal", outcome.signal.rawValue)]).increment()
        guard let learningStore, !merges, !changed.isEmpty else { return }
        do {
            if let stored = try await learningStore.apply(outcome, to: changed, configuration: configuration.learning) {
                // A shared store: its cells hold every instance's outcomes, this one included.
                learner.load(stored)
            } else {
                try await learningStore.saveCells(changed)
            }
        } catch {
            logger.warning("could not persist what routing learned", metadata: ["model": "\(outcome.model)", "error": "\(error)"])
        }
    }

    /// Adds what this process learned since the last sync to the stored cells, and takes in what
    /// other processes on the same store added meanwhile: `fleetd feedback --jsonl` into the data
    /// directory of a running fleetd, `fleetd mcp` beside `fleetd serve`. Only for a store that
    /// merges (``LearningStore/mergesChanges``: this process's SQLite file); fleetd runs it every
    /// second and once more when it stops, `fleetd feedback` once at its end. A call while another
    /// runs returns at once (that one, or the next, takes the changes); when it fails, the changes
    /// stay for the next call.
    public func syncLearning() async throws {
        guard let learningStore, learningStore.mergesChanges else { return }
        let (started, known) = state.withLock { s -> (Bool, Int?) in
            if s.syncingLearning { return (false, nil) }
            s.syncingLearning = true
            return (true, s.learningVersion)
        }
        guard started else { return }
        defer { state.withLock { $0.syncingLearning = false } }
        let changes = learner.takeUnsynced()
        do {
            let synced = try await learningStore.syncCells(changes, knownVersion: known)
            learner.reconcile(with: synced.cells, complete: synced.complete)
            state.withLock { $0.learningVersion = synced.version }
        } catch {
            learner.restoreUnsynced(changes)
            throw error
        }
    }

    /// Keeps what a finished task needs for later feedback (`routing/outcomes`).
    public func rememberOutcome(_ record: TaskOutcomeRecord) async {
        do {
            try await learningStore?.saveTaskOutcome(record)
        } catch {
            logger.warning("could not keep the task's outcome record", metadata: ["task": "\(record.taskId)", "error": "\(error)"])
        }
    }

    /// Applies a caller's feedback on a finished task: looks up which model answered it and in which
    /// cell, learns from the score, and marks the record so the same task is not scored twice.
    public func feedback(taskId: String, tenantId: String?, score: Double, label: String?) async throws(FeedbackError) -> TaskOutcomeRecord {
        guard score.isFinite, (0...1).contains(score) else { throw .invalidScore }
        guard let learningStore else { throw .unknownTask }
        let claim = "\(tenantId ?? "")/\(taskId)"
        guard state.withLock({ $0.feedbackInFlight.insert(claim).inserted }) else {
            throw .beingGiven
        }
        defer { _ = state.withLock { $0.feedbackInFlight.remove(claim) } }
        var record: TaskOutcomeRecord
        do {
            guard let found = try await learningStore.taskOutcome(taskId: taskId, tenantId: tenantId) else { throw FeedbackError.unknownTask }
            record = found
        } catch let error as FeedbackError {
            throw error
        } catch {
            throw .store(String(describing: error))
        }
        guard record.feedbackScore == nil else { throw .alreadyGiven(record) }
        record.feedbackScore = score
        record.feedbackLabel = label
        do {
            try await learningStore.saveTaskOutcome(record)
        } catch {
            throw .store(String(describing: error))
        }
        await learn(RoutingOutcome(taskId: taskId, model: record.model, taskType: record.taskType, complexity: record.complexity,
                                   tenantId: record.tenantId, score: score, weight: 1, signal: .feedback, label: label, at: clock.now))
        return record
    }

    private func decideUnscoped(_ task: RoutingTask, engine: RoutingEngine, score: ComplexityScore, useRouter: Bool,
                                learning: LearningInputs?, live: Bool) async throws(RouterError) -> ModelSelection {
        var inputs = await gatherInputs(for: engine, useRouter: useRouter)
        inputs.learning = learning
        guard useRouter && engine.configuration.enabled else {
            return try engine.decideDefault(task, score: score, inputs: inputs)
        }
        // Another task may take the last probe slot between the snapshot and the claim: decide again.
        let detail: RoutingEngine.TraceDetail = live ? .exclusions : .full
        for _ in 0..<8 {
            let selection = try engine.decide(task, score: score, inputs: inputs, detail: detail)
            guard live else { return selection }
            if health.acquire(model: selection.modelName, provider: selection.modelConfig.provider) { return selection }
            inputs.health = health.availability(of: engine.registry.models)
        }
        return try engine.decide(task, score: score, inputs: inputs, detail: detail)
    }
}

/// Why feedback on a task was refused.
public enum FeedbackError: Error, Sendable {
    /// The score is not a number in 0…1.
    case invalidScore
    /// No outcome record for the task: unknown id, `predictiveRouting` off for it, or expired.
    case unknownTask
    /// Feedback was already given for the task.
    case alreadyGiven(TaskOutcomeRecord)
    /// Feedback for the task is being applied now (another request at the same moment).
    case beingGiven
    /// The store failed.
    case store(String)
}

/// One model as `GET /v1/models` shows it.
public struct ModelStatus: Sendable, Codable, Hashable {
    public var name: String
    public var provider: String
    public var model: String
    public var enabled: Bool
    /// The model's breaker; `nil` when it has seen no call (closed).
    public var breaker: BreakerSnapshot?
    /// The provider's breaker; `nil` when it has seen no call (closed).
    public var providerBreaker: BreakerSnapshot?
    public var stats: ModelStats?
    /// The variable whose API key is not set, when that is why the model is off.
    public var missingAPIKey: String? = nil
    /// Why the model is off, in words (``ModelConfiguration/disabledReason``): its missing key
    /// ("no API key (ANTHROPIC_API_KEY not set)") or the configuration; `nil` while it is on.
    /// The dashboard tells the two apart rather than showing both as "disabled".
    public var disabledReason: String? = nil
}
