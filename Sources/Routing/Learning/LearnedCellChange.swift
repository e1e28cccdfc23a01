import Foundation

/// What one process's outcomes did to one cell since it last synced with the store, kept so that
/// it can be added to whatever the stored cell holds by then.
///
/// Each outcome weighs what a cell held down by a factor and adds its own weight
/// (``LearnedCell/add(score:weight:configuration:at:)``), so any run of outcomes is one such step:
/// keep ``keep`` of what was there, then add ``outcomes`` and ``successes`` (and ``observed`` to the
/// undecayed total). Applied to the stored cell, it adds this process's outcomes to those another
/// process on the same file stored meanwhile (`fleetd feedback --jsonl`, `fleetd mcp` beside
/// `fleetd serve`) instead of writing over them; applied to the cell the process started from, it
/// gives the cell the process holds.
public struct LearnedCellChange: Sendable, Hashable {
    public var model: String
    public var taskType: TaskType
    public var band: Int
    /// `nil` for the fleet-wide cell.
    public var tenantId: String?
    /// The share of what the cell held that these outcomes leave (1 before any).
    public var keep: Double
    /// Weights added to ``LearnedCell/observed``.
    public var observed: Double
    /// Added to ``LearnedCell/outcomes`` after the decay.
    public var outcomes: Double
    /// Added to ``LearnedCell/successes`` after the decay.
    public var successes: Double
    /// The last outcome's time.
    public var updatedAt: Date

    /// No outcome yet: applying it changes nothing.
    public init(model: String, taskType: TaskType, band: Int, tenantId: String?) {
        self.model = model
        self.taskType = taskType
        self.band = band
        self.tenantId = tenantId
        self.keep = 1
        self.observed = 0
        self.outcomes = 0
        self.successes = 0
        self.updatedAt = Date(timeIntervalSince1970: 0)
    }

    /// The key of the cell it changes (``LearnedCell/key``).
    public var key: String { LearnedCell.key(model: model, taskType: taskType, band: band, tenantId: tenantId) }

    /// Adds one outcome, as ``LearnedCell/add(score:weight:configuration:at:)`` does to a cell.
    public mutating func add(score: Double, weight: Double, configuration: LearningConfiguration, at now: Date) {
        let k = configuration.decay(for: weight)
        keep *= k
        observed += weight
        outcomes = outcomes * k + weight
        successes = successes * k + weight * score
        updatedAt = now
    }

    /// The cell after these outcomes: `cell` (a blank one when `nil`), decayed, plus what they add.
    public func applied(to cell: LearnedCell?) -> LearnedCell {
        var next = cell ?? LearnedCell(model: model, taskType: taskType, band: band, tenantId: tenantId)
        guard observed > 0 else { return next }
        next.observed += observed
        next.outcomes = next.outcomes * keep + outcomes
        next.successes = next.successes * keep + successes
        next.updatedAt = updatedAt
        return next
    }

    /// This change, then `later` (of the same cell).
    public func followed(by later: LearnedCellChange) -> LearnedCellChange {
        guard later.observed > 0 else { return self }
        var next = self
        next.keep = keep * later.keep
        next.observed = observed + later.observed
        next.outcomes = outcomes * later.keep + later.outcomes
        next.successes = successes * later.keep + later.successes
        next.updatedAt = later.updatedAt
        return next
    }
}

/// What ``LearningStore/syncCells(_:knownVersion:)`` answers: the cells as stored after the merge.
public struct LearnedCellSync: Sendable {
    /// The merged cells; when ``complete``, every stored cell.
    public var cells: [LearnedCell]
    /// Whether ``cells`` is everything stored (another process wrote since the last sync, or it is
    /// the first): cells missing from it are gone. Otherwise only the merged cells changed.
    public var complete: Bool
    /// The store's version, to pass to the next sync (`nil`: always answer in full).
    public var version: Int?

    public init(cells: [LearnedCell], complete: Bool, version: Int?) {
        self.cells = cells
        self.complete = complete
        self.version = version
    }
}
