import Foundation

/// One problem in a routing configuration, with the path of the offending field.
public struct RoutingConfigurationIssue: Error, Sendable, Codable, Hashable, CustomStringConvertible {
    /// What kind of problem it is; a stable code.
    public enum Code: String, Sendable, Codable, Hashable {
        case duplicateModel = "duplicate_model"
        case unknownModel = "unknown_model"
        case invalidRange = "invalid_range"
        case invalidValue = "invalid_value"
        case emptyName = "empty_name"
    }

    public var code: Code
    /// Where, as a config path such as `routing.models[2].complexityRange`.
    public var path: String
    public var message: String

    public init(code: Code, path: String, message: String) {
        self.code = code
        self.path = path
        self.message = message
    }

    public var description: String { "\(path): \(message)" }
    /// A label fit for a metric.
    public var shortDescription: String { code.rawValue }
}

/// A routing configuration that cannot be used, with every problem found.
public struct RoutingConfigurationError: Error, Sendable, CustomStringConvertible {
    public var issues: [RoutingConfigurationIssue]
    public init(issues: [RoutingConfigurationIssue]) { self.issues = issues }
    public var description: String { issues.map(\.description).joined(separator: "; ") }
    /// A label fit for a metric.
    public var shortDescription: String { "routing_configuration_invalid" }
}

extension RoutingConfiguration {
    /// Every problem in this configuration; empty when it is valid.
    ///
    /// The config loader should call this (or ``validate()``) and add file positions to the paths.
    public func issues() -> [RoutingConfigurationIssue] {
        var issues = ModelRegistry(models: models).issues
        let names = Set(models.map(\.name))
        for (i, model) in models.enumerated() {
            let path = "routing.models[\(i)]"
            if model.name.trimmingCharacters(in: .whitespaces).isEmpty {
                issues.append(.init(code: .emptyName, path: "\(path).name", message: "model name is empty"))
            }
            let range = model.complexityRange
            if !(0...1).contains(range.min) || !(0...1).contains(range.max) || range.min > range.max {
                issues.append(.init(code: .invalidRange, path: "\(path).complexityRange",
                                    message: "needs 0 <= min <= max <= 1, got min \(range.min) max \(range.max)"))
            }
            if model.capabilities.maxTokens <= 0 {
                issues.append(.init(code: .invalidValue, path: "\(path).capabilities.maxTokens", message: "must be > 0"))
            }
            let price = model.capabilities.costPer1kTokens
            if price.input < 0 || price.output < 0 || (price.cached ?? 0) < 0 {
                issues.append(.init(code: .invalidValue, path: "\(path).capabilities.costPer1kTokens", message: "prices must be >= 0"))
            }
            if let q = model.qualityScore, !(0...1).contains(q) {
                issues.append(.init(code: .invalidValue, path: "\(path).qualityScore", message: "must be in 0...1, got \(q)"))
            }
            if let l = model.typicalLatencyMs, !(l > 0) {
                issues.append(.init(code: .invalidValue, path: "\(path).typicalLatencyMs", message: "must be > 0, got \(l)"))
            }
        }
        for (field, name) in [("routing.defaultModel", defaultModel), ("routing.lastResort", lastResort)] {
            if let name, !names.contains(name) {
                issues.append(.init(code: .unknownModel, path: field, message: "'\(name)' is not one of routing.models"))
            }
        }
        let w = weights
        if [w.capability, w.cost, w.quality, w.latency, w.history].contains(where: { $0 < 0 || !$0.isFinite }) || !(w.total > 0) {
            issues.append(.init(code: .invalidValue, path: "routing.weights", message: "weights must be >= 0 with at least one > 0"))
        }
        if !(0...1).contains(quotaPreferenceThreshold) {
            issues.append(.init(code: .invalidValue, path: "routing.quotaPreferenceThreshold", message: "must be in 0...1, got \(quotaPreferenceThreshold)"))
        }
        if !(assumedLatencyMs > 0) {
            issues.append(.init(code: .invalidValue, path: "routing.assumedLatencyMs", message: "must be > 0"))
        }
        let h = health
        if h.failureThreshold < 1 { issues.append(.init(code: .invalidValue, path: "routing.health.failureThreshold", message: "must be >= 1")) }
        if h.providerFailureThreshold < 1 { issues.append(.init(code: .invalidValue, path: "routing.health.providerFailureThreshold", message: "must be >= 1")) }
        if !(h.cooldownSeconds > 0) { issues.append(.init(code: .invalidValue, path: "routing.health.cooldownSeconds", message: "must be > 0")) }
        if h.halfOpenProbes < 1 { issues.append(.init(code: .invalidValue, path: "routing.health.halfOpenProbes", message: "must be >= 1")) }
        if !(h.maxRetryAfterSeconds > 0) { issues.append(.init(code: .invalidValue, path: "routing.health.maxRetryAfterSeconds", message: "must be > 0")) }
        return issues
    }

    /// Throws ``RoutingConfigurationError`` listing every problem, if there is any.
    public func validate() throws(RoutingConfigurationError) {
        let found = issues()
        if !found.isEmpty { throw RoutingConfigurationError(issues: found) }
    }
}
