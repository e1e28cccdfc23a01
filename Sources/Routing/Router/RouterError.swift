import FleetSupport

/// Why the router could not give a task a model: ROUTER_001, ROUTER_002 or ROUTER_003.
public struct RouterError: Error, Sendable, Codable, Hashable, CustomStringConvertible {
    /// The stable product error code.
    public enum Code: String, Sendable, Codable, Hashable {
        /// ModelSelectionFailed: no model can serve the task.
        case modelSelectionFailed = "ROUTER_001"
        /// BudgetExceeded: the budget is used up and its policy is `block`.
        case budgetExceeded = "ROUTER_002"
        /// NoAffordableModel: the budget is used up and no model is cheaper (policy `cheaper-only`).
        case noAffordableModel = "ROUTER_003"

        /// The code in the product's vocabulary.
        public var errorCode: ErrorCode {
            switch self {
            case .modelSelectionFailed: .modelSelectionFailed
            case .budgetExceeded: .budgetExceeded
            case .noAffordableModel: .noAffordableModel
            }
        }

        /// The product name of the code.
        public var name: String {
            switch self {
            case .modelSelectionFailed: "ModelSelectionFailed"
            case .budgetExceeded: "BudgetExceeded"
            case .noAffordableModel: "NoAffordableModel"
            }
        }
    }

    public var code: Code
    /// A sentence for people; names each model and why it was excluded. Never holds a key.
    public var message: String
    /// Each model considered and why it could not serve.
    public var exclusions: [ModelExclusion]
    /// The task it concerns.
    public var taskId: String?

    public init(code: Code, message: String, exclusions: [ModelExclusion] = [], taskId: String? = nil) {
        self.code = code
        self.message = message
        self.exclusions = exclusions
        self.taskId = taskId
    }

    /// A label fit for a metric, e.g. `model_selection_failed`.
    public var shortDescription: String {
        switch code {
        case .modelSelectionFailed: "model_selection_failed"
        case .budgetExceeded: "budget_exceeded"
        case .noAffordableModel: "no_affordable_model"
        }
    }

    public var description: String { "\(code.rawValue) \(code.name): \(message)" }
}

/// One model that could not serve a task, and why.
public struct ModelExclusion: Sendable, Codable, Hashable, CustomStringConvertible {
    public var model: String
    /// The filter that excluded it.
    public var stage: FilterStage
    public var reason: String

    public init(model: String, stage: FilterStage, reason: String) {
        self.model = model
        self.stage = stage
        self.reason = reason
    }

    public var description: String { "\(model): \(reason) [\(stage.rawValue)]" }
}
