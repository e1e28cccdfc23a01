import Foundation
import Synchronization

/// Learns from outcomes how likely each model is to serve a task type at a complexity band.
///
/// Kept small and explainable: a cell per (task type, complexity band, model), and one per tenant
/// as well, each holding a decayed count of outcomes and of successes. An estimate is the cell's
/// success rate smoothed towards a prior (as if it held ``priorOutcomes`` more outcomes at the
/// prior), and it counts only once the cell has ``LearningConfiguration/minOutcomes``; a tenant's
/// own cell is used once it has that many, else the fleet's. Updates are O(1) under a lock;
/// persistence is the caller's (``ModelRouter`` writes the cells it changed).
public final class OutcomeLearner: Sendable {
    /// Pseudo-outcomes at the prior in every estimate.
    public static let priorOutcomes = 2.0
    /// The prior success rate of a model with no outcomes (as ``ModelStats`` assumes).
    public static let priorSuccess = ModelStats.priorSuccessRate

    /// The cells of one task type and band (and tenant), by model: a selection reads one group.
    private struct Group: Hashable {
        var tenantId: String?
        var taskType: TaskType
        var band: Int
    }

    private let groups = Mutex<[Group: [String: LearnedCell]]>([:])

    public init(cells initial: [LearnedCell] = []) {
        load(initial)
    }

    /// Merges cells loaded from the store over what is in memory.
    public func load(_ loaded: [LearnedCell]) {
        groups.withLock { g in
            for cell in loaded { g[Group(tenantId: cell.tenantId, taskType: cell.taskType, band: cell.band), default: [:]][cell.model] = cell }
        }
    }

    /// Every cell, sorted by key.
    public func snapshot() -> [LearnedCell] {
        groups.withLock { $0.values.flatMap(\.values) }.sorted { $0.key < $1.key }
    }

    /// Adds an outcome to its fleet cell and, for a tenant's task, the tenant's cell; returns the
    /// cells it changed (to persist).
    @discardableResult
    public func record(_ outcome: RoutingOutcome, configuration: LearningConfiguration) -> [LearnedCell] {
        guard outcome.weight > 0 else { return [] }
        let band = configuration.band(of: outcome.complexity)
        let scopes: [String?] = outcome.tenantId.map { [nil, $0] } ?? [nil]
        return groups.withLock { g in
            scopes.map { tenant in
                let group = Group(tenantId: tenant, taskType: outcome.taskType, band: band)
                var cell = g[group]?[outcome.model] ?? LearnedCell(model: outcome.model, taskType: outcome.taskType, band: band, tenantId: tenant)
                cell.add(score: outcome.score, weight: outcome.weight, configuration: configuration, at: outcome.at)
                g[group, default: [:]][outcome.model] = cell
                return cell
            }
        }
    }

    /// The prediction for each model for a task of `taskType` at `complexity`, for `tenant`.
    public func predictions(models: [String], taskType: TaskType, complexity: Double, tenantId: String?,
                            configuration: LearningConfiguration) -> [String: SuccessPrediction] {
        let band = configuration.band(of: complexity)
        return groups.withLock { g in
            let fleetGroup = g[Group(tenantId: nil, taskType: taskType, band: band)]
            let ownGroup = tenantId.flatMap { g[Group(tenantId: $0, taskType: taskType, band: band)] }
            var out: [String: SuccessPrediction] = [:]
            out.reserveCapacity(models.count)
            for model in models {
                let fleet = fleetGroup?[model]
                let own = ownGroup?[model]
                let (cell, scope) = own.map { $0.observed >= configuration.minOutcomes ? ($0, "tenant") : (fleet, "fleet") } ?? (fleet, "fleet")
                let n = cell?.observed ?? 0
                out[model] = SuccessPrediction(predictedSuccess: cell?.successRate(prior: Self.priorSuccess) ?? Self.priorSuccess,
                                               outcomes: n, effectiveOutcomes: cell?.outcomes ?? 0, scope: scope,
                                               counted: n >= configuration.minOutcomes)
            }
            return out
        }
    }

    /// How likely a strong model is needed for a task (0…1): one minus the success rate of the
    /// models below `strong` quality in the task's cell, smoothed towards the complexity score.
    /// With no outcomes it is the complexity score itself (the cold start); each outcome moves it
    /// towards what was observed.
    public func predictedDifficulty(taskType: TaskType, complexity: Double, tenantId: String?, strongModels: Set<String>,
                                    configuration: LearningConfiguration) -> Double {
        let band = configuration.band(of: complexity)
        let prior = min(1, max(0, complexity.isFinite ? complexity : 0))
        let (n, s) = groups.withLock { g -> (Double, Double) in
            func sums(_ tenant: String?) -> (observed: Double, n: Double, s: Double) {
                var observed = 0.0, n = 0.0, s = 0.0
                for cell in (g[Group(tenantId: tenant, taskType: taskType, band: band)] ?? [:]).values where !strongModels.contains(cell.model) {
                    observed += cell.observed
                    n += cell.outcomes
                    s += cell.successes
                }
                return (observed, n, s)
            }
            if let tenantId {
                let own = sums(tenantId)
                if own.observed >= configuration.minOutcomes { return (own.n, own.s) }
            }
            let fleet = sums(nil)
            return (fleet.n, fleet.s)
        }
        // Failures of weak models, smoothed towards the complexity score (exactly it with no data).
        return (n - s + Self.priorOutcomes * prior) / (n + Self.priorOutcomes)
    }

    /// Whether a task explores: a stable hash of its id falls in the configured share.
    public static func explores(taskId: String, share: Double) -> Bool {
        guard share > 0 else { return false }
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325 // FNV-1a: stable across runs and machines
        for byte in taskId.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01b3
        }
        return Double(hash % 10_000) < min(0.5, share) * 10_000
    }
}
