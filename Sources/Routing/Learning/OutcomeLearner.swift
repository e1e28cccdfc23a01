import Foundation
import Synchronization

/// Learns from outcomes how likely each model is to serve a task type at a complexity band.
///
/// Kept small and explainable: a cell per (task type, complexity band, model), and one per tenant
/// as well, each holding a decayed count of outcomes and of successes. An estimate is the cell's
/// success rate smoothed towards a prior (as if it held ``priorOutcomes`` more outcomes at the
/// prior), and it counts only once the cell has ``LearningConfiguration/minOutcomes``; a tenant's
/// own cell is used once it has that many, else the fleet's. Updates are O(1) under a lock;
/// persistence is the caller's (``ModelRouter`` writes the cells it changed, or, for a store other
/// processes write too, syncs the changes it kept: ``takeUnsynced()``, ``reconcile(with:complete:)``).
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

    private struct State {
        var groups: [Group: [String: LearnedCell]] = [:]
        /// What outcomes did to each cell since the last sync, by cell key (kept only when recorded
        /// with `trackingChanges`).
        var unsynced: [String: LearnedCellChange] = [:]
    }

    private let state = Mutex(State())

    public init(cells initial: [LearnedCell] = []) {
        load(initial)
    }

    /// Merges cells loaded from the store over what is in memory.
    public func load(_ loaded: [LearnedCell]) {
        state.withLock { s in
            for cell in loaded { s.groups[Group(tenantId: cell.tenantId, taskType: cell.taskType, band: cell.band), default: [:]][cell.model] = cell }
        }
    }

    /// Every cell, sorted by key.
    public func snapshot() -> [LearnedCell] {
        state.withLock { $0.groups.values.flatMap(\.values) }.sorted { $0.key < $1.key }
    }

    /// Adds an outcome to its fleet cell and, for a tenant's task, the tenant's cell; returns the
    /// cells it changed (to persist).
    /// - Parameter trackingChanges: also keep what it did to each cell until the next
    ///   ``takeUnsynced()`` (for a store that merges: ``LearningStore/mergesChanges``).
    @discardableResult
    public func record(_ outcome: RoutingOutcome, configuration: LearningConfiguration, trackingChanges: Bool = false) -> [LearnedCell] {
        guard outcome.weight > 0 else { return [] }
        let band = configuration.band(of: outcome.complexity)
        let scopes: [String?] = outcome.tenantId.map { [nil, $0] } ?? [nil]
        return state.withLock { s in
            scopes.map { tenant in
                let group = Group(tenantId: tenant, taskType: outcome.taskType, band: band)
                var cell = s.groups[group]?[outcome.model] ?? LearnedCell(model: outcome.model, taskType: outcome.taskType, band: band, tenantId: tenant)
                cell.add(score: outcome.score, weight: outcome.weight, configuration: configuration, at: outcome.at)
                s.groups[group, default: [:]][outcome.model] = cell
                if trackingChanges {
                    var change = s.unsynced[cell.key] ?? LearnedCellChange(model: cell.model, taskType: cell.taskType, band: band, tenantId: tenant)
                    change.add(score: outcome.score, weight: outcome.weight, configuration: configuration, at: outcome.at)
                    s.unsynced[cell.key] = change
                }
                return cell
            }
        }
    }

    /// Hands over what outcomes did to each cell since the last sync, and forgets it: the store adds
    /// it to the stored cells (``LearningStore/syncCells(_:knownVersion:)``).
    public func takeUnsynced() -> [LearnedCellChange] {
        state.withLock { s in
            let changes = Array(s.unsynced.values)
            s.unsynced.removeAll()
            return changes
        }
    }

    /// Puts back the changes a failed sync took, before those recorded since.
    public func restoreUnsynced(_ changes: [LearnedCellChange]) {
        state.withLock { s in
            for change in changes {
                s.unsynced[change.key] = s.unsynced[change.key].map { change.followed(by: $0) } ?? change
            }
        }
    }

    /// Takes in the cells as stored after a sync: each becomes the stored cell plus what was recorded
    /// since the sync took the changes (still unsynced). With `complete`, `stored` is every stored
    /// cell, and a cell it lacks is kept only for what was recorded since.
    public func reconcile(with stored: [LearnedCell], complete: Bool) {
        state.withLock { s in
            if complete { s.groups.removeAll(keepingCapacity: true) }
            var seen = Set<String>()
            for cell in stored {
                let key = cell.key
                seen.insert(key)
                let current = s.unsynced[key].map { $0.applied(to: cell) } ?? cell
                s.groups[Group(tenantId: cell.tenantId, taskType: cell.taskType, band: cell.band), default: [:]][cell.model] = current
            }
            guard complete else { return }
            for (key, change) in s.unsynced where !seen.contains(key) {
                s.groups[Group(tenantId: change.tenantId, taskType: change.taskType, band: change.band), default: [:]][change.model] = change.applied(to: nil)
            }
        }
    }

    /// The prediction for each model for a task of `taskType` at `complexity`, for `tenant`.
    public func predictions(models: [String], taskType: TaskType, complexity: Double, tenantId: String?,
                            configuration: LearningConfiguration) -> [String: SuccessPrediction] {
        let band = configuration.band(of: complexity)
        return state.withLock { s in
            let g = s.groups
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
        let (n, s) = state.withLock { locked -> (Double, Double) in
            let g = locked.groups
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
        return Double(stableHash(taskId) % 10_000) < min(0.5, share) * 10_000
    }

    /// Which candidate an exploring task tries when none is short of outcomes
    /// (``LearningInputs/explorationSeed``): the digits of the task id's hash above those
    /// ``explores(taskId:share:)`` reads, so the choice does not depend on whether it explores.
    public static func explorationSeed(taskId: String) -> UInt64 {
        stableHash(taskId) / 10_000
    }

    /// FNV-1a of a task id: stable across runs and machines.
    static func stableHash(_ taskId: String) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in taskId.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01b3
        }
        return hash
    }
}
