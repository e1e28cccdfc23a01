import Foundation

/// What the learner knows of one model in one cell: a task type, a complexity band and, for a
/// tenant's own cell, the tenant. Counts decay (``LearningConfiguration/window``), so they are
/// effective counts, not totals. Kept in `routing/learning/<key>`.
public struct LearnedCell: Sendable, Codable, Hashable {
    public var model: String
    public var taskType: TaskType
    public var band: Int
    /// `nil` for the fleet-wide cell.
    public var tenantId: String?
    /// Outcomes ever seen (their weights, not decayed): what the minimum is checked against.
    public var observed: Double
    /// Effective number of outcomes (weights, decayed).
    public var outcomes: Double
    /// Effective sum of scores (weights × scores, decayed).
    public var successes: Double
    public var updatedAt: Date

    public init(model: String, taskType: TaskType, band: Int, tenantId: String?, observed: Double = 0, outcomes: Double = 0,
                successes: Double = 0, updatedAt: Date = Date(timeIntervalSince1970: 0)) {
        self.observed = observed
        self.model = model
        self.taskType = taskType
        self.band = band
        self.tenantId = tenantId
        self.outcomes = outcomes
        self.successes = successes
        self.updatedAt = updatedAt
    }

    /// Its key: `<type>/<band>/<model>`, under `t/<tenant>/` for a tenant's cell.
    public var key: String { Self.key(model: model, taskType: taskType, band: band, tenantId: tenantId) }

    static func key(model: String, taskType: TaskType, band: Int, tenantId: String?) -> String {
        let base = "\(taskType.rawValue)/\(band)/\(model)"
        return tenantId.map { "t/\($0)/\(base)" } ?? base
    }

    /// Adds one outcome, weighing the earlier ones down first.
    public mutating func add(score: Double, weight: Double, configuration: LearningConfiguration, at now: Date) {
        let keep = configuration.decay(for: weight)
        observed += weight
        outcomes = outcomes * keep + weight
        successes = successes * keep + weight * score
        updatedAt = now
    }

    /// The smoothed success rate: as if the cell also held ``OutcomeLearner/priorOutcomes`` outcomes
    /// at `prior`.
    func successRate(prior: Double) -> Double {
        (successes + OutcomeLearner.priorOutcomes * prior) / (outcomes + OutcomeLearner.priorOutcomes)
    }
}

/// What learning says of one candidate for one task (`predictedSuccess` in a selection's trace).
public struct SuccessPrediction: Sendable, Codable, Hashable {
    /// Estimated probability that the model serves this task well, 0…1.
    public var predictedSuccess: Double
    /// The outcomes it rests on (their weights; automatic signals weigh less than feedback).
    public var outcomes: Double
    /// The same, decayed: how much of it is recent (at most about ``LearningConfiguration/window``).
    public var effectiveOutcomes: Double
    /// `tenant` when the tenant's own cell had enough outcomes, else `fleet`.
    public var scope: String
    /// Whether it had enough outcomes to change the ranking (``LearningConfiguration/minOutcomes``).
    public var counted: Bool

    public init(predictedSuccess: Double, outcomes: Double, effectiveOutcomes: Double, scope: String, counted: Bool) {
        self.predictedSuccess = predictedSuccess
        self.outcomes = outcomes
        self.effectiveOutcomes = effectiveOutcomes
        self.scope = scope
        self.counted = counted
    }
}

/// Learning's part in one routing decision, handed to the pure ``RoutingEngine``.
public struct LearningInputs: Sendable, Hashable {
    /// Per model name.
    public var predictions: [String: SuccessPrediction]
    /// This task explores: a candidate with too few outcomes goes first, else another candidate
    /// below the top (``explorationSeed`` picks which).
    public var explore: Bool
    public var minOutcomes: Double
    /// Stable per task (``OutcomeLearner/explorationSeed(taskId:)``): which of the candidates below
    /// the top an exploring task tries when none is short of outcomes.
    public var explorationSeed: UInt64

    public init(predictions: [String: SuccessPrediction], explore: Bool = false, minOutcomes: Double = 5, explorationSeed: UInt64 = 0) {
        self.predictions = predictions
        self.explore = explore
        self.minOutcomes = minOutcomes
        self.explorationSeed = explorationSeed
    }
}
