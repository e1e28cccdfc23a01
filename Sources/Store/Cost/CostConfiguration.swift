import Foundation

/// Cost tracking and budgets (`routing.costTracking` in the config file).
public struct CostConfiguration: Sendable, Hashable, Codable {
    /// Budget limits in US dollars; `nil` means no limit for that period.
    public struct BudgetLimits: Sendable, Hashable, Codable {
        public var daily: Double?
        public var weekly: Double?
        public var monthly: Double?

        public init(daily: Double? = nil, weekly: Double? = nil, monthly: Double? = nil) {
            self.daily = daily
            self.weekly = weekly
            self.monthly = monthly
        }

        public func limit(for period: BudgetPeriod) -> Double? {
            switch period {
            case .day: daily
            case .week: weekly
            case .month: monthly
            }
        }
    }

    /// Percent of a period's limit at which COST_002 is raised (once per period); `nil` = none.
    /// 100% is always alerted once per period when a limit is set.
    public struct AlertThresholds: Sendable, Hashable, Codable {
        public var dailyPercent: Double?
        public var weeklyPercent: Double?
        public var monthlyPercent: Double?

        public init(dailyPercent: Double? = 80, weeklyPercent: Double? = nil, monthlyPercent: Double? = 90) {
            self.dailyPercent = dailyPercent
            self.weeklyPercent = weeklyPercent
            self.monthlyPercent = monthlyPercent
        }

        public func percent(for period: BudgetPeriod) -> Double? {
            switch period {
            case .day: dailyPercent
            case .week: weeklyPercent
            case .month: monthlyPercent
            }
        }
    }

    /// Track costs at all. When false nothing is written and nothing is enforced. Default true.
    public var enabled: Bool
    public var budgetLimits: BudgetLimits
    public var alertThresholds: AlertThresholds
    /// What happens at 100%. Default `block`.
    public var policy: BudgetPolicy
    /// IANA time zone for period boundaries. Default `UTC`.
    public var timeZone: String
    /// An http(s) URL that each COST_002 alert is POSTed to as JSON (retried; never delays a task).
    public var alertWebhook: String?

    public init(
        enabled: Bool = true,
        budgetLimits: BudgetLimits = BudgetLimits(),
        alertThresholds: AlertThresholds = AlertThresholds(),
        policy: BudgetPolicy = .block,
        timeZone: String = "UTC"
    ) {
        self.enabled = enabled
        self.budgetLimits = budgetLimits
        self.alertThresholds = alertThresholds
        self.policy = policy
        self.timeZone = timeZone
    }

    /// Checks ranges: limits finite and > 0; thresholds in (0, 100]; a known time zone.
    /// - Throws: ``CostError`` `.invalidConfiguration` naming the field.
    public func validate() throws {
        for period in BudgetPeriod.allCases {
            if let limit = budgetLimits.limit(for: period), !(limit.isFinite && limit > 0) {
                throw CostError(.invalidConfiguration, "budgetLimits.\(Self.fieldName(period)) must be a positive amount, got \(limit)")
            }
            if let percent = alertThresholds.percent(for: period), !(percent > 0 && percent <= 100) {
                throw CostError(.invalidConfiguration, "alertThresholds.\(Self.fieldName(period))Percent must be in (0, 100], got \(percent)")
            }
        }
        _ = try PeriodCalendar(timeZoneIdentifier: timeZone)
    }

    static func fieldName(_ period: BudgetPeriod) -> String {
        switch period {
        case .day: "daily"
        case .week: "weekly"
        case .month: "monthly"
        }
    }
}
