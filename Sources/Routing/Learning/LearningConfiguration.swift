import Foundation

/// How `predictiveRouting` learns from outcomes: `routing.learning` in the config file
/// (docs/routing.md, "Predictive routing").
///
/// The learner keeps, per task type and complexity band (and per tenant once a tenant has enough
/// data), a decayed count of outcomes and of successes for each model. Every field has a default.
public struct LearningConfiguration: Sendable, Codable, Hashable {
    /// Outcomes (decayed, weighted) a cell needs before its estimate counts; below it the router
    /// ranks that model as it would without learning. Default 5.
    public var minOutcomes: Double
    /// Share of live routed tasks (0…0.5) sent to a candidate with too few outcomes, or when every
    /// candidate has enough, to one ranked below the top, to keep learning about it. Default 0.05.
    public var exploration: Double
    /// The memory of a cell, in outcomes: each new outcome weighs old ones down by `1 - 1/window`,
    /// so a model that got better or worse is noticed within about this many. Default 50.
    public var window: Double
    /// Complexity bands (equal widths over 0…1). Default 5.
    public var bands: Int
    /// Models of at least this quality count as "strong" for ``OutcomeLearner/predictedDifficulty``.
    /// Default 0.85.
    public var strongQuality: Double
    /// Weight of an automatic signal (completion, error, timeout, truncation, walk-away) against
    /// explicit feedback (weight 1). Default 0.5.
    public var automaticWeight: Double

    public init(minOutcomes: Double = 5, exploration: Double = 0.05, window: Double = 50, bands: Int = 5,
                strongQuality: Double = 0.85, automaticWeight: Double = 0.5) {
        self.minOutcomes = minOutcomes
        self.exploration = exploration
        self.window = window
        self.bands = bands
        self.strongQuality = strongQuality
        self.automaticWeight = automaticWeight
    }

    /// The band of a complexity score, 0 ..< ``bands``.
    public func band(of complexity: Double) -> Int {
        let n = max(1, bands)
        guard complexity.isFinite else { return 0 }
        return min(n - 1, max(0, Int(complexity * Double(n))))
    }

    /// How much older outcomes keep of their weight when one of weight `weight` arrives.
    func decay(for weight: Double) -> Double {
        window > 1 ? pow(1 - 1 / window, weight) : 0
    }
}
