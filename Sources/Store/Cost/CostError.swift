import FleetSupport

/// A cost, budget or cost-configuration failure with a stable product code.
public struct CostError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Code: String, Sendable, Hashable, CaseIterable {
        /// ROUTER_002 BudgetExceeded: the budget has no room for this call under the policy.
        case budgetExceeded = "ROUTER_002"
        /// ROUTER_003 NoAffordableModel: no model fits the remaining budget.
        case noAffordableModel = "ROUTER_003"
        /// COST_001 CostCalculationFailed: usage or prices cannot give a cost.
        case costCalculationFailed = "COST_001"
        /// COST_002 BudgetAlertTriggered: a threshold was crossed (see ``CostAlert``).
        case budgetAlertTriggered = "COST_002"
        /// The cost configuration is invalid.
        case invalidConfiguration = "COST_CONFIG"
    }

    public var code: Code
    public var message: String

    /// The code in the product's vocabulary.
    public var errorCode: ErrorCode {
        switch code {
        case .budgetExceeded: .budgetExceeded
        case .noAffordableModel: .noAffordableModel
        case .costCalculationFailed: .costCalculationFailed
        case .budgetAlertTriggered: .budgetAlertTriggered
        case .invalidConfiguration: .costConfigurationInvalid
        }
    }
    /// For `.budgetExceeded`: the period that has no room.
    public var period: BudgetPeriod?

    public init(_ code: Code, _ message: String, period: BudgetPeriod? = nil) {
        self.code = code
        self.message = message
        self.period = period
    }

    /// A label fit for a metric dimension.
    public var shortDescription: String {
        switch code {
        case .budgetExceeded: "budget_exceeded"
        case .noAffordableModel: "no_affordable_model"
        case .costCalculationFailed: "cost_calculation_failed"
        case .budgetAlertTriggered: "budget_alert_triggered"
        case .invalidConfiguration: "invalid_configuration"
        }
    }

    public var description: String { "\(code.rawValue): \(message)" }
}
