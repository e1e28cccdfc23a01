import FleetSupport
import Foundation

/// Where an outcome came from, and what it says by default.
public enum OutcomeSignal: String, Sendable, Codable, CaseIterable, Hashable {
    /// `POST /v1/tasks/{id}/feedback`: the caller's score.
    case feedback
    /// `fleetd feedback --jsonl`: an imported score.
    case imported
    /// The model answered in full.
    case completed
    /// The answer stopped at its token limit.
    case truncated
    /// The call failed (an error from the provider, or a broken stream); the task fell back or failed.
    case error
    /// The call timed out.
    case timeout
    /// The client went away before the answer was complete.
    case walkedAway

    /// The score an automatic signal stands for; `nil` for the ones that carry their own.
    public var automaticScore: Double? {
        switch self {
        case .feedback, .imported: nil
        case .completed: 1
        case .truncated: 0.5
        case .walkedAway: 0.25
        case .error, .timeout: 0
        }
    }
}

/// One outcome of one model on one task: what the learner learns from.
public struct RoutingOutcome: Sendable, Codable, Hashable {
    public var taskId: String
    /// The model that served (or failed) the call.
    public var model: String
    public var taskType: TaskType
    /// The task's complexity score (it picks the band).
    public var complexity: Double
    public var tenantId: String?
    /// 0 (failed) … 1 (succeeded).
    public var score: Double
    /// Its weight against other outcomes (explicit feedback 1, automatic signals less).
    public var weight: Double
    public var signal: OutcomeSignal
    /// The caller's label, e.g. "wrong-answer".
    public var label: String?
    public var at: Date

    public init(taskId: String, model: String, taskType: TaskType, complexity: Double, tenantId: String? = nil,
                score: Double, weight: Double = 1, signal: OutcomeSignal, label: String? = nil, at: Date = Date()) {
        self.taskId = taskId
        self.model = model
        self.taskType = taskType
        self.complexity = complexity
        self.tenantId = tenantId
        self.score = min(1, max(0, score.isFinite ? score : 0))
        self.weight = max(0, weight.isFinite ? weight : 0)
        self.signal = signal
        self.label = label
        self.at = at
    }
}

/// What a finished task left for later feedback: which model answered, in which cell.
/// Kept in `routing/outcomes/<tenant>/<taskId>` while `predictiveRouting` is on for the task.
public struct TaskOutcomeRecord: Sendable, Codable, Hashable {
    public var taskId: String
    public var model: String
    public var taskType: TaskType
    public var complexity: Double
    public var tenantId: String?
    /// The automatic signal the task ended with.
    public var signal: OutcomeSignal
    /// The explicit feedback given for it, once given.
    public var feedbackScore: Double?
    public var feedbackLabel: String?
    public var at: Date

    public init(taskId: String, model: String, taskType: TaskType, complexity: Double, tenantId: String?,
                signal: OutcomeSignal, feedbackScore: Double? = nil, feedbackLabel: String? = nil, at: Date) {
        self.taskId = taskId
        self.model = model
        self.taskType = taskType
        self.complexity = complexity
        self.tenantId = tenantId
        self.signal = signal
        self.feedbackScore = feedbackScore
        self.feedbackLabel = feedbackLabel
        self.at = at
    }

    /// Its key in `routing/outcomes`: `<tenant>/<taskId>`, or `<taskId>` without a tenant.
    public var recordKey: String { tenantId.map { "\($0)/\(taskId)" } ?? taskId }
    public static func recordKey(taskId: String, tenantId: String?) -> String { tenantId.map { "\($0)/\(taskId)" } ?? taskId }
}

/// Where the learner keeps its state: the cells (`routing/learning`) and the per-task records
/// feedback attaches to (`routing/outcomes`). Module Agents backs it with the memory store.
public protocol LearningStore: Sendable {
    func loadCells() async throws -> [LearnedCell]
    func saveCells(_ cells: [LearnedCell]) async throws
    func saveTaskOutcome(_ record: TaskOutcomeRecord) async throws
    func taskOutcome(taskId: String, tenantId: String?) async throws -> TaskOutcomeRecord?
    /// A store several fleetd instances share applies an outcome to the stored cells itself (each
    /// an atomic read-modify-write), so every instance's outcomes count, and returns the cells as
    /// stored. `nil`: the store is this process's own; the caller saves its cells (``saveCells(_:)``).
    /// - Parameter cells: the cells the outcome changed in memory (which cells to update).
    func apply(_ outcome: RoutingOutcome, to cells: [LearnedCell], configuration: LearningConfiguration) async throws -> [LearnedCell]?
    /// `true` for a store other processes may write too without it applying outcomes itself (this
    /// process's SQLite file, which `fleetd feedback --jsonl` and `fleetd mcp` also open): the router
    /// then keeps what it learned as changes and adds them to the stored cells at
    /// ``ModelRouter/syncLearning()`` (``syncCells(_:knownVersion:)``), never writing its cells over
    /// theirs. `false` (the default): the router saves its cells after each outcome (``saveCells(_:)``),
    /// or the store applies them (``apply(_:to:configuration:)``).
    var mergesChanges: Bool { get }
    /// Adds `changes` to the stored cells (a blank cell where none is stored), as one atomic step,
    /// and returns the merged cells; every stored cell when another writer changed the store since
    /// `knownVersion` (or it is `nil`), so the caller takes in what others learned.
    func syncCells(_ changes: [LearnedCellChange], knownVersion: Int?) async throws -> LearnedCellSync
}

extension LearningStore {
    /// Not shared: the caller saves its own cells.
    public func apply(_ outcome: RoutingOutcome, to cells: [LearnedCell], configuration: LearningConfiguration) async throws -> [LearnedCell]? {
        nil
    }

    /// The router saves its cells after each outcome.
    public var mergesChanges: Bool { false }

    /// Reads, adds and saves, in three steps (not atomic: for a store only this process writes), and
    /// answers with every cell.
    public func syncCells(_ changes: [LearnedCellChange], knownVersion: Int?) async throws -> LearnedCellSync {
        var stored: [String: LearnedCell] = [:]
        for cell in try await loadCells() { stored[cell.key] = cell }
        let merged = changes.map { $0.applied(to: stored[$0.key]) }
        try await saveCells(merged)
        for cell in merged { stored[cell.key] = cell }
        return LearnedCellSync(cells: Array(stored.values), complete: true, version: nil)
    }
}

/// A ``LearningStore`` in memory: for tests and for running without a data directory.
public actor InMemoryLearningStore: LearningStore {
    public private(set) var cells: [String: LearnedCell] = [:]
    public private(set) var records: [String: TaskOutcomeRecord] = [:]
    public init() {}
    public func loadCells() async throws -> [LearnedCell] { Array(cells.values) }
    public func saveCells(_ cells: [LearnedCell]) async throws { for c in cells { self.cells[c.key] = c } }
    public func saveTaskOutcome(_ record: TaskOutcomeRecord) async throws { records[record.recordKey] = record }
    public func taskOutcome(taskId: String, tenantId: String?) async throws -> TaskOutcomeRecord? {
        records[TaskOutcomeRecord.recordKey(taskId: taskId, tenantId: tenantId)]
    }
}
