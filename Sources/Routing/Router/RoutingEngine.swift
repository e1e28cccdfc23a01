import FleetSupport
import Foundation

/// The routing decision as a pure function: configuration + task + score + inputs → selection or error.
///
/// No clock, no lock, no I/O: ``ModelRouter`` supplies the snapshots, batch routing calls it from many tasks
/// at once. Steps, each leaving a ``FilterDecision`` per model:
/// 1. hard filters on every registered model: enabled, capabilities (streaming, context window, input kinds),
///    privacy, constraints;
/// 2. the complexity range (a preferred model, the default model and the last resort may lie outside it);
/// 3. ranking of the in-range candidates by the strategy (preferred model, then healthy before half-open,
///    then under-quota-threshold before past it, then preferred provider, then the strategy's score);
/// 4. the chain: ranked candidates, then `defaultModel`, then `lastResort`, deduplicated;
/// 5. budget, quota and health filters over the chain, in that order.
/// The pick is the first survivor; the rest are the fallbacks.
public struct RoutingEngine: Sendable {
    public let configuration: RoutingConfiguration
    public let registry: ModelRegistry

    public init(configuration: RoutingConfiguration) {
        self.configuration = configuration
        self.registry = ModelRegistry(models: configuration.models)
    }

    /// Token estimates for a task: the task's overrides, else the scorer's.
    func tokens(_ task: RoutingTask, _ score: ComplexityScore) -> (input: Int, output: Int) {
        (max(0, task.estimatedInputTokens ?? score.estimatedInputTokens), max(0, task.estimatedOutputTokens ?? score.estimatedOutputTokens))
    }

    /// Estimated cost of the task on `model`, in US dollars.
    public static func estimatedCost(_ model: ModelConfiguration, inputTokens: Int, outputTokens: Int) -> Double {
        let p = model.capabilities.costPer1kTokens
        return (Double(inputTokens) * p.input + Double(outputTokens) * p.output) / 1_000
    }

    /// Expected latency: observed mean, else the configured typical latency, else the assumed one.
    func expectedLatency(_ model: ModelConfiguration, _ stats: [String: ModelStats]) -> Double {
        if let s = stats[model.name], s.latencySamples > 0, let mean = s.meanLatencyMs { return mean }
        return model.typicalLatencyMs ?? configuration.assumedLatencyMs
    }

    /// How much a decision writes into its trace.
    public enum TraceDetail: Sendable {
        /// Every decision with its reason: `explain` (`fleetd route`, `POST /v1/route`) shows why
        /// each model passed each stage.
        case full
        /// A live task's: a stage a model passed carries no text (nothing shows it: the stored
        /// record of a live selection keeps no decisions). Exclusions, budget admissions, notes and
        /// the reason line keep theirs. Formatting why ten models passed every stage was most of
        /// the router's allocations per task (docs/performance.md, "Allocations per task").
        case exclusions
    }

    /// Routes a task with the router on.
    public func decide(_ task: RoutingTask, score: ComplexityScore, inputs: RoutingInputs,
                       detail: TraceDetail = .full) throws(RouterError) -> ModelSelection {
        let (inTok, outTok) = tokens(task, score)
        // Sized once: every registered model gets a trace (and at most three more for names not configured).
        var traces: [CandidateTrace] = []
        traces.reserveCapacity(registry.models.count + 3)
        var traceIndex: [String: Int] = [:]
        traceIndex.reserveCapacity(registry.models.count)
        var pool: [ModelConfiguration] = []
        pool.reserveCapacity(registry.models.count)
        var extras: [(ModelConfiguration, FallbackEntry.Role)] = []
        // Models the allow-lists admit whose complexity range excludes the score, with the
        // distance to their range: admitted anyway when no allowed model's range fits.
        var outOfRange: [(model: ModelConfiguration, distance: Double)] = []

        if let preferred = task.preferredModel, registry.model(named: preferred) == nil {
            traces.append(CandidateTrace(modelName: preferred, provider: "-", role: .candidate,
                                         decisions: [FilterDecision(stage: .registry, passed: false, detail: "preferred model '\(preferred)' is not configured")],
                                         estimatedCost: 0))
        }
        for model in registry.models {
            let cost = Self.estimatedCost(model, inputTokens: inTok, outputTokens: outTok)
            var trace = CandidateTrace(modelName: model.name, provider: model.provider.rawValue, role: .candidate, estimatedCost: cost)
            // Up to nine stages: one allocation for them all.
            trace.decisions.reserveCapacity(FilterStage.allCases.count)
            let hardOK = hardFilters(model, task: task, inputTokens: inTok, outputTokens: outTok, cost: cost, stats: inputs.stats, detail: detail,
                                     into: &trace.decisions)
            if hardOK {
                let range = model.complexityRange
                func rangeText() -> String { "\(fmt(range.min))–\(fmt(range.max))" }
                if model.name == configuration.lastResort, model.name != task.preferredModel {
                    // The last resort is never ranked: it is tried only after everything else.
                    trace.role = .lastResort
                    trace.decisions.append(.init(stage: .complexityRange, passed: true, detail: "kept as the last resort (never ranked)"))
                    extras.append((model, .lastResort))
                } else if range.contains(score.overall) {
                    trace.decisions.append(.passed(.complexityRange, "score \(fmt(score.overall)) in \(rangeText())", detail))
                    pool.append(model)
                } else if model.name == task.preferredModel {
                    trace.decisions.append(.init(stage: .complexityRange, passed: true, detail: "score \(fmt(score.overall)) outside \(rangeText()); kept: preferred model"))
                    trace.notes.append("preferred model")
                    pool.append(model)
                } else if model.name == configuration.defaultModel {
                    trace.role = .defaultModel
                    trace.decisions.append(.init(stage: .complexityRange, passed: true, detail: "score \(fmt(score.overall)) outside \(rangeText()); kept as the default model"))
                    extras.append((model, .defaultModel))
                } else {
                    trace.decisions.append(.init(stage: .complexityRange, passed: false, detail: "score \(fmt(score.overall)) outside \(rangeText())"))
                    let distance = score.overall < range.min ? range.min - score.overall : score.overall - range.max
                    outOfRange.append((model, distance))
                }
            }
            traceIndex[model.name] = traces.count
            traces.append(trace)
        }

        // Complexity ranges are the fleet's preference; the caller's allow-list (a key's, a token's,
        // the agent type's `models`) is a hard rule. When the lists leave no model whose range fits,
        // the models they allow are candidates anyway, nearest range first.
        let admittedOutOfRange = pool.isEmpty && !outOfRange.isEmpty && task.allowLists.contains(where: \.restricts)
        var distances: [String: Double] = [:]
        if admittedOutOfRange {
            let sources = task.allowLists.filter(\.restricts).map(\.source).joined(separator: " and ")
            for entry in outOfRange {
                distances[entry.model.name] = entry.distance
                pool.append(entry.model)
                guard let i = traceIndex[entry.model.name], let last = traces[i].decisions.indices.last else { continue }
                traces[i].decisions[last] = FilterDecision(
                    stage: .complexityRange, passed: true,
                    detail: traces[i].decisions[last].detail + "; kept: no model allowed for \(sources) fits the score")
                traces[i].notes.append("outside its complexity range: no model allowed for \(sources) fits score \(fmt(score.overall)), so the allowed models serve, nearest range first")
            }
        }

        // Rank the in-range candidates, then append the default model and the last resort.
        var ranked = rank(pool, task: task, score: score, inputTokens: inTok, outputTokens: outTok, inputs: inputs)
        if admittedOutOfRange {
            ranked = ranked.enumerated().sorted { a, b in
                let da = distances[a.element.0.name] ?? 0, db = distances[b.element.0.name] ?? 0
                return da != db ? da < db : a.offset < b.offset
            }.map { $0.element }
        }
        var chain: [(model: ModelConfiguration, role: FallbackEntry.Role)] = []
        chain.reserveCapacity(ranked.count + extras.count)
        for (model, value) in ranked {
            if let i = traceIndex[model.name] { traces[i].score = value }
            chain.append((model, .candidate))
        }
        extras.sort { ($0.1 == .defaultModel ? 0 : 1) < ($1.1 == .defaultModel ? 0 : 1) }
        for (model, role) in extras where !chain.contains(where: { $0.model.name == model.name }) {
            chain.append((model, role))
        }
        if let name = configuration.defaultModel, registry.model(named: name) == nil {
            traces.append(CandidateTrace(modelName: name, provider: "-", role: .defaultModel,
                                         decisions: [.init(stage: .registry, passed: false, detail: "defaultModel '\(name)' is not configured")], estimatedCost: 0))
        }
        if let name = configuration.lastResort, registry.model(named: name) == nil {
            traces.append(CandidateTrace(modelName: name, provider: "-", role: .lastResort,
                                         decisions: [.init(stage: .registry, passed: false, detail: "lastResort '\(name)' is not configured")], estimatedCost: 0))
        }

        if let learning = inputs.learning {
            for (name, prediction) in learning.predictions {
                if let i = traceIndex[name] { traces[i].prediction = prediction }
            }
        }
        var alerts: [RoutingAlert] = []
        var survivors = try applyOperationalFilters(chain, task: task, inputs: inputs, detail: detail, traces: &traces, traceIndex: traceIndex,
                                                    alerts: &alerts)
        explore(&survivors, task: task, inputs: inputs, traces: &traces, traceIndex: traceIndex)
        guard let pick = survivors.first else {
            throw selectionFailed(task: task, score: score, traces: traces)
        }

        for (position, entry) in survivors.enumerated() {
            if let i = traceIndex[entry.model.name] { traces[i].position = position + 1 }
        }
        let fallbacks = survivors.dropFirst().map { entry in
            FallbackEntry(modelName: entry.model.name, role: entry.role, why: why(entry.model, role: entry.role, ranked: ranked))
        }
        let trace = SelectionTrace(strategy: configuration.strategy, estimatedInputTokens: inTok, estimatedOutputTokens: outTok,
                                   budget: budgetLine(inputs.budget, task: task), candidates: traces)
        var reason = reasonLine(pick: pick.model, role: pick.role, score: score, ranked: ranked, chain: chain, traces: traces, traceIndex: traceIndex, alerts: alerts)
        if let unknown = unknownPreferredModel(task) { reason += "; " + unknown }
        return ModelSelection(
            taskId: task.taskId, modelName: pick.model.name, modelConfig: pick.model, complexity: score, reason: reason,
            timestamp: inputs.now, fallbackChain: Array(fallbacks),
            estimatedCost: Self.estimatedCost(pick.model, inputTokens: inTok, outputTokens: outTok),
            strategy: configuration.strategy, routed: true, alerts: alerts, trace: trace)
    }

    /// What the reason line says when the task's `preferredModel` names no configured model (a
    /// typo, a provider's model id): the preference played no part, and these are the names it
    /// may take. `nil` when there is no preference or it is configured. A task is not refused for
    /// it: with the router off a preference never mattered (v1.0.4's path), and a task that ran
    /// before must run the same.
    public func unknownPreferredModel(_ task: RoutingTask) -> String? {
        guard let preferred = task.preferredModel, registry.model(named: preferred) == nil else { return nil }
        return "preferred model '\(preferred)' is not configured (configured: \(registry.names.joined(separator: ", "))), so it played no part"
    }

    /// Routes a task with the router off: the default model, as v1.0.4 did.
    ///
    /// No ranking, no budget or quota filter and no fallbacks. The breaker is reported in the trace but does not
    /// refuse the call: with one model there is nothing to fall back to, and v1.0.4 had no breaker. Privacy still
    /// holds: a `local-only` task never goes to a cloud default model.
    public func decideDefault(_ task: RoutingTask, score: ComplexityScore, inputs: RoutingInputs) throws(RouterError) -> ModelSelection {
        let (inTok, outTok) = tokens(task, score)
        guard let name = configuration.defaultModel else {
            throw RouterError(code: .modelSelectionFailed, message: "the router is off and no defaultModel is configured", taskId: task.taskId)
        }
        guard let model = registry.model(named: name) else {
            throw RouterError(code: .modelSelectionFailed, message: "the router is off and defaultModel '\(name)' is not a configured model",
                              exclusions: [.init(model: name, stage: .registry, reason: "not configured")], taskId: task.taskId)
        }
        let cost = Self.estimatedCost(model, inputTokens: inTok, outputTokens: outTok)
        var trace = CandidateTrace(modelName: name, provider: model.provider.rawValue, role: .defaultModel, estimatedCost: cost, position: 1)
        // Allow-lists hold with the router off too: a task never goes to a model its caller or
        // agent type may not use.
        if let why = task.accessRefusal(model) {
            throw RouterError(code: .modelSelectionFailed, message: "the router is off and defaultModel '\(name)' cannot serve: \(why)",
                              exclusions: [.init(model: name, stage: .access, reason: why)], taskId: task.taskId)
        }
        if task.privacy == .localOnly && !model.provider.isLocal {
            let why = "task is local-only and \(model.provider.rawValue) is not a local provider"
            throw RouterError(code: .modelSelectionFailed, message: "the router is off and defaultModel '\(name)' cannot serve: \(why)",
                              exclusions: [.init(model: name, stage: .privacy, reason: why)], taskId: task.taskId)
        }
        trace.decisions.append(.init(stage: .privacy, passed: true, detail: task.privacy == .localOnly ? "local provider" : "standard task"))
        var reason = "router off: the default model \(name) serves every task (v1.0.4 behaviour)"
        switch inputs.health[name] {
        case .blocked(_, let detail)?:
            trace.notes.append("\(detail); not enforced with the router off")
            reason += "; note: \(detail)"
        case .probe(let detail)?:
            trace.notes.append(detail)
        default:
            break
        }
        let selectionTrace = SelectionTrace(strategy: nil, estimatedInputTokens: inTok, estimatedOutputTokens: outTok,
                                            budget: task.callerBudget?.line ?? "not checked (router off)", candidates: [trace])
        return ModelSelection(taskId: task.taskId, modelName: name, modelConfig: model, complexity: score, reason: reason,
                              timestamp: inputs.now, fallbackChain: [], estimatedCost: cost, strategy: nil, routed: false,
                              alerts: [], trace: selectionTrace)
    }

    /// A task chosen to explore (``LearningInputs/explore``) goes first to the surviving candidate
    /// with the fewest outcomes, when it has fewer than the minimum; when every one has enough, to
    /// another candidate below the top (``LearningInputs/explorationSeed`` picks which), so that a
    /// model whose cell turned poor still gets a few outcomes and one that recovered is noticed (a
    /// cell changes only with new outcomes). The rest keep their order. Never past a preferred
    /// model, and only among ranked candidates that passed every filter.
    private func explore(_ survivors: inout [(model: ModelConfiguration, role: FallbackEntry.Role)], task: RoutingTask,
                         inputs: RoutingInputs, traces: inout [CandidateTrace], traceIndex: [String: Int]) {
        guard let learning = inputs.learning, learning.explore, task.preferredModel == nil, survivors.count > 1 else { return }
        let models = survivors.map(\.model.name)
        func outcomes(_ i: Int) -> Double { learning.predictions[models[i]]?.outcomes ?? 0 }
        let others = survivors.indices.dropFirst().filter { survivors[$0].role == .candidate }
        let pick: Int
        let note: String
        if let fewest = others.filter({ outcomes($0) < learning.minOutcomes }).min(by: { outcomes($0) < outcomes($1) }) {
            pick = fewest
            note = "exploring: \(fmt(outcomes(fewest))) of \(fmt(learning.minOutcomes)) outcomes needed for this task type and band"
        } else if !others.isEmpty {
            pick = others[Int(learning.explorationSeed % UInt64(others.count))]
            let predicted = learning.predictions[models[pick]]?.predictedSuccess ?? OutcomeLearner.priorSuccess
            note = "exploring: re-checking a model ranked below the top (predicted success \(fmt(predicted)) from \(fmt(outcomes(pick))) outcomes)"
        } else {
            return
        }
        let entry = survivors.remove(at: pick)
        survivors.insert(entry, at: 0)
        if let i = traceIndex[entry.model.name] {
            traces[i].notes.append(note)
        }
    }

    private func why(_ model: ModelConfiguration, role: FallbackEntry.Role, ranked: [(ModelConfiguration, Double)]) -> String {
        switch role {
        case .defaultModel: return "the configured default model"
        case .lastResort: return "the configured last resort" + (model.provider.isLocal ? " (local)" : "")
        case .candidate:
            let rank = (ranked.firstIndex { $0.0.name == model.name } ?? 0) + 1
            let value = ranked.first { $0.0.name == model.name }?.1 ?? 0
            return "rank \(rank) of \(ranked.count) (\(configuration.strategy.rawValue) score \(fmt(value)))"
        }
    }

    private func selectionFailed(task: RoutingTask, score: ComplexityScore, traces: [CandidateTrace]) -> RouterError {
        let exclusions = traces.compactMap { t -> ModelExclusion? in
            guard let d = t.exclusion else { return nil }
            return ModelExclusion(model: t.modelName, stage: d.stage, reason: d.detail)
        }
        let list = exclusions.isEmpty ? "no models are configured" : exclusions.map { "\($0.model): \($0.reason)" }.joined(separator: "; ")
        return RouterError(code: .modelSelectionFailed,
                           message: "no model can serve task \(task.taskId) (complexity \(fmt(score.overall))): \(list)",
                           exclusions: exclusions, taskId: task.taskId)
    }
}
