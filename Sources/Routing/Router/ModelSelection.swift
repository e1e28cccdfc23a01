import FleetSupport
import Foundation
import Store

/// The router's answer for one task: the pick, its config, the complexity, the reason and the
/// fallbacks, plus the estimated cost, the fallback chain and the trace (docs/routing.md).
public struct ModelSelection: Sendable, Codable, Hashable {
    /// The task it is for.
    public var taskId: String
    /// The model to call first.
    public var modelName: String
    public var modelConfig: ModelConfiguration
    /// The complexity score and its factors.
    public var complexity: ComplexityScore
    /// Why this model, in one line; each filter that changed the outcome leaves a clause.
    public var reason: String
    public var timestamp: Date
    /// The models to try next, in order (names of ``fallbackChain``).
    public var fallbackModels: [String]
    /// The fallback chain with why each entry is there.
    public var fallbackChain: [FallbackEntry]
    /// Estimated cost of the task on the picked model, in US dollars.
    public var estimatedCost: Double
    /// The strategy that ranked the candidates; `nil` when the router was off.
    public var strategy: RoutingStrategy?
    /// False when the router was off and the task went to the default model as in v1.0.4.
    public var routed: Bool
    /// Alerts raised while selecting (e.g. COST_002 under `allow-with-alert`).
    public var alerts: [RoutingAlert]
    /// Every model considered and each filter's decision.
    public var trace: SelectionTrace
    /// The authenticated tenant the task ran for, if any (see ``recordKey``).
    public var tenantId: String?
    /// With `predictiveRouting` on: how likely a strong model is needed (0…1), from outcomes of this
    /// task type and complexity band; the complexity score itself before any outcome.
    public var predictedDifficulty: Double?

    /// Where the selection is recorded in `routing/selections`: `<tenant>/<taskId>` for a
    /// tenant's task (task ids are unique per tenant only), else `<taskId>`.
    public var recordKey: String { tenantId.map { "\($0)/\(taskId)" } ?? taskId }

    public init(
        taskId: String, modelName: String, modelConfig: ModelConfiguration, complexity: ComplexityScore,
        reason: String, timestamp: Date, fallbackChain: [FallbackEntry], estimatedCost: Double,
        strategy: RoutingStrategy?, routed: Bool, alerts: [RoutingAlert], trace: SelectionTrace
    ) {
        self.taskId = taskId
        self.modelName = modelName
        self.modelConfig = modelConfig
        self.complexity = complexity
        self.reason = reason
        self.timestamp = timestamp
        self.fallbackModels = fallbackChain.map(\.modelName)
        self.fallbackChain = fallbackChain
        self.estimatedCost = estimatedCost
        self.strategy = strategy
        self.routed = routed
        self.alerts = alerts
        self.trace = trace
    }
}

/// One model in a fallback chain.
public struct FallbackEntry: Sendable, Codable, Hashable {
    /// Why a model is in the chain.
    public enum Role: String, Sendable, Codable, Hashable {
        /// A ranked candidate after the pick.
        case candidate
        /// The configured `defaultModel`.
        case defaultModel
        /// The configured `lastResort`.
        case lastResort
    }

    public var modelName: String
    public var role: Role
    /// Why it is there, e.g. "rank 2 of 3 (balanced score 0.61)".
    public var why: String

    public init(modelName: String, role: Role, why: String) {
        self.modelName = modelName
        self.role = role
        self.why = why
    }
}

/// An alert raised by a selection.
public struct RoutingAlert: Sendable, Codable, Hashable {
    /// A product code, e.g. `COST_002`.
    public var code: ErrorCode
    public var message: String

    public init(code: ErrorCode, message: String) {
        self.code = code
        self.message = message
    }
}

/// The filters a model passes through, in the order the router applies them.
public enum FilterStage: String, Sendable, Codable, CaseIterable, Hashable {
    /// `access`: the task's allow-lists (its API key's or token's, its agent type's).
    case registry, enabled, access, capabilities, privacy, constraints, complexityRange, budget, quota, health
}

/// What one filter decided about one model.
public struct FilterDecision: Sendable, Codable, Hashable {
    public var stage: FilterStage
    public var passed: Bool
    public var detail: String
    /// For a budget decision that let a model over the limit through: by which rule.
    public var admission: BudgetAdmission?

    public init(stage: FilterStage, passed: Bool, detail: String, admission: BudgetAdmission? = nil) {
        self.stage = stage
        self.passed = passed
        self.detail = detail
        self.admission = admission
    }
}

/// One model as the router saw it.
public struct CandidateTrace: Sendable, Codable, Hashable {
    public var modelName: String
    public var provider: String
    /// Why the model was considered.
    public var role: FallbackEntry.Role
    /// Each filter's decision, in order; stops at the first that excluded it.
    public var decisions: [FilterDecision]
    /// Estimated cost of the task on this model, in US dollars.
    public var estimatedCost: Double
    /// The ranking score (higher is better) when it was ranked.
    public var score: Double?
    /// Position in the final chain (1 is the pick), `nil` when excluded.
    public var position: Int?
    /// Notes that changed its rank without excluding it (quota pressure, half-open probe, preference).
    public var notes: [String]
    /// With `predictiveRouting` on: what learning predicts of it, and the data it rests on.
    public var prediction: SuccessPrediction?

    public init(modelName: String, provider: String, role: FallbackEntry.Role, decisions: [FilterDecision] = [],
                estimatedCost: Double, score: Double? = nil, position: Int? = nil, notes: [String] = []) {
        self.modelName = modelName
        self.provider = provider
        self.role = role
        self.decisions = decisions
        self.estimatedCost = estimatedCost
        self.score = score
        self.position = position
        self.notes = notes
    }

    /// The decision that excluded it, if any.
    public var exclusion: FilterDecision? { decisions.first { !$0.passed } }
}

/// Everything behind a selection, for `fleetd route`, logs and `routing/selections`.
public struct SelectionTrace: Sendable, Codable, Hashable {
    public var strategy: RoutingStrategy?
    /// Estimated input and output tokens used for capability and cost checks.
    public var estimatedInputTokens: Int
    public var estimatedOutputTokens: Int
    /// One line on the budget as seen before selecting.
    public var budget: String
    /// Every model considered, in the order they were considered.
    public var candidates: [CandidateTrace]

    public init(strategy: RoutingStrategy?, estimatedInputTokens: Int, estimatedOutputTokens: Int,
                budget: String, candidates: [CandidateTrace]) {
        self.strategy = strategy
        self.estimatedInputTokens = estimatedInputTokens
        self.estimatedOutputTokens = estimatedOutputTokens
        self.budget = budget
        self.candidates = candidates
    }
}
