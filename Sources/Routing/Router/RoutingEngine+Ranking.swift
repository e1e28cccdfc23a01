import FleetSupport
import Foundation

/// The factors behind one candidate's rank, each 0…1 (higher is better).
public struct RankingFactors: Sendable, Hashable {
    public var capability: Double
    public var cost: Double
    public var quality: Double
    public var latency: Double
    public var history: Double
}

extension RoutingEngine {
    /// The five factors for every model in `pool` (cost and latency are relative to the pool).
    func factors(_ pool: [ModelConfiguration], task: RoutingTask, score: ComplexityScore,
                 inputTokens: Int, outputTokens: Int, stats: [String: ModelStats]) -> [String: RankingFactors] {
        let epsilon = 1e-6
        let costs = pool.map { Self.estimatedCost($0, inputTokens: inputTokens, outputTokens: outputTokens) }
        let logMin = log((costs.min() ?? 0) + epsilon)
        let logMax = log((costs.max() ?? 0) + epsilon)
        let latencies = pool.map { max(1, expectedLatency($0, stats)) }
        let fastest = latencies.min() ?? 1
        var out: [String: RankingFactors] = [:]
        for (i, model) in pool.enumerated() {
            let costScore = logMax - logMin < 1e-12 ? 1 : 1 - (log(costs[i] + epsilon) - logMin) / (logMax - logMin)
            out[model.name] = RankingFactors(
                capability: capability(model, score: score),
                cost: costScore,
                quality: model.effectiveQuality,
                latency: fastest / latencies[i],
                history: stats[model.name]?.successRate ?? ModelStats(model: model.name).successRate)
        }
        return out
    }

    /// How well a model fits the task: 70% where the score sits in its complexity range (1 at the centre, 0 at
    /// or beyond the edges), 30% task-type strength (1 listed, 0.5 generalist, 0.2 not listed).
    func capability(_ model: ModelConfiguration, score: ComplexityScore) -> Double {
        let range = model.complexityRange
        let centre = (range.min + range.max) / 2
        let half = max((range.max - range.min) / 2, 0.05)
        let fit = range.contains(score.overall) ? max(0, 1 - abs(score.overall - centre) / half) : 0
        let type: Double = model.strengths.isEmpty ? 0.5 : (model.strengths.contains(score.taskType) ? 1 : 0.2)
        return 0.7 * fit + 0.3 * type
    }

    /// The strategy's value of a candidate (higher is better).
    func strategyValue(_ f: RankingFactors) -> Double {
        switch configuration.strategy {
        case .balanced:
            let w = configuration.weights
            let total = w.total > 0 ? w.total : 1
            return (w.capability * f.capability + w.cost * f.cost + w.quality * f.quality + w.latency * f.latency + w.history * f.history) / total
        case .cost: return f.cost
        case .latency: return f.latency
        case .availability: return f.history
        }
    }

    /// The strategy's value weighed by learning (`predictiveRouting`): times the model's predicted
    /// success when it rests on enough outcomes, times the prior otherwise, so that with no outcomes
    /// the order is exactly the unlearned one. An expected value: a model that fails this kind of
    /// task is worth little however cheap or fast it is.
    func learned(_ value: Double, model: String, inputs: RoutingInputs) -> Double {
        guard let learning = inputs.learning else { return value }
        guard let p = learning.predictions[model], p.counted else { return value * OutcomeLearner.priorSuccess }
        return value * p.predictedSuccess
    }

    /// Ranks candidates: preferred model, then healthy before half-open, then providers under the quota threshold
    /// before those past it (proactive failover beats a provider preference), then the preferred provider, then
    /// the strategy's value, then the tie-breakers
    /// (cost: quality; latency: cost; availability: fewer recent failures, then cost; balanced: cost), then
    /// configuration order.
    func rank(_ pool: [ModelConfiguration], task: RoutingTask, score: ComplexityScore,
              inputTokens: Int, outputTokens: Int, inputs: RoutingInputs) -> [(ModelConfiguration, Double)] {
        let f = factors(pool, task: task, score: score, inputTokens: inputTokens, outputTokens: outputTokens, stats: inputs.stats)
        struct Key {
            var tiers: [Int]
            var value: Double
            var tie: [Double]
            var order: Int
        }
        func key(_ model: ModelConfiguration, _ order: Int) -> Key {
            let factors = f[model.name] ?? RankingFactors(capability: 0, cost: 0, quality: 0, latency: 0, history: 0)
            var tiers: [Int] = []
            tiers.append(task.preferredModel == model.name ? 0 : 1)
            if case .probe? = inputs.health[model.name] { tiers.append(1) } else { tiers.append(0) }
            // Only an allowed provider is demoted: a refused one keeps its place so the quota filter
            // shows it as skipped ahead of the pick.
            let quota = inputs.quotas[model.provider]
            let pressed = quota.map { $0.allowed && $0.usedFraction >= configuration.quotaPreferenceThreshold } ?? false
            tiers.append(configuration.quotaPreferenceThreshold < 1 && pressed ? 1 : 0)
            tiers.append(task.preferredProvider.map { $0 == model.provider ? 0 : 1 } ?? 0)
            let cost = Self.estimatedCost(model, inputTokens: inputTokens, outputTokens: outputTokens)
            let failures = Double(inputs.stats[model.name]?.consecutiveFailures ?? 0)
            let tie: [Double] = switch configuration.strategy {
            case .cost: [-factors.quality]
            case .latency: [cost]
            case .availability: [failures, cost]
            case .balanced: [cost]
            }
            return Key(tiers: tiers, value: learned(strategyValue(factors), model: model.name, inputs: inputs), tie: tie, order: order)
        }
        let keyed = pool.enumerated().map { (model: $0.element, key: key($0.element, $0.offset)) }
        let sorted = keyed.sorted { a, b in
            if a.key.tiers != b.key.tiers { return a.key.tiers.lexicographicallyPrecedes(b.key.tiers) }
            if abs(a.key.value - b.key.value) > 1e-12 { return a.key.value > b.key.value }
            if a.key.tie != b.key.tie { return a.key.tie.lexicographicallyPrecedes(b.key.tie) }
            return a.key.order < b.key.order
        }
        return sorted.map { ($0.model, $0.key.value) }
    }

    /// The one-line reason: why the pick, and a clause for each filter that moved the outcome.
    func reasonLine(pick: ModelConfiguration, role: FallbackEntry.Role, score: ComplexityScore,
                    ranked: [(ModelConfiguration, Double)], chain: [(model: ModelConfiguration, role: FallbackEntry.Role)],
                    traces: [CandidateTrace], traceIndex: [String: Int], alerts: [RoutingAlert]) -> String {
        let range = pick.complexityRange
        var parts: [String] = []
        let head = "complexity \(fmt(score.overall)) (\(score.taskType.rawValue))"
        switch role {
        case .candidate:
            let inRange = range.contains(score.overall)
            let value = ranked.first { $0.0.name == pick.name }?.1 ?? 0
            parts.append("\(head) \(inRange ? "fits" : "is outside") \(pick.name)'s range \(fmt(range.min))–\(fmt(range.max))")
            parts.append("\(configuration.strategy.rawValue) score \(fmt(value)) among \(ranked.count) candidate\(ranked.count == 1 ? "" : "s")")
        case .defaultModel:
            parts.append("\(head): no ranked candidate could serve; using the default model \(pick.name)")
        case .lastResort:
            parts.append("\(head): no candidate or default model could serve; using the last resort \(pick.name)")
        }
        if let i = traceIndex[pick.name] {
            parts.append(contentsOf: traces[i].notes)
            if let p = traces[i].prediction, p.counted {
                parts.append("predicted success \(fmt(p.predictedSuccess)) from \(fmt(p.outcomes)) outcomes (\(p.scope))")
            }
        }
        // Models ahead of the pick in the chain that a budget, quota or health filter removed.
        for entry in chain {
            if entry.model.name == pick.name { break }
            if let i = traceIndex[entry.model.name], let d = traces[i].exclusion {
                parts.append("skipped \(entry.model.name): \(d.stage.rawValue): \(d.detail)")
            }
        }
        parts.append(contentsOf: alerts.map { "\($0.code): \($0.message)" })
        return parts.joined(separator: "; ")
    }
}
