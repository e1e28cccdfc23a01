import Foundation

/// One breaker's state, as `GET /v1/models` shows it.
public struct BreakerSnapshot: Sendable, Codable, Hashable {
    /// The model or provider name.
    public var name: String
    public var state: CircuitBreaker.State
    /// Consecutive failures counted so far.
    public var consecutiveFailures: Int
    /// Until when it refuses calls, when open.
    public var openUntil: Date?
    /// The last failure, described without any key.
    public var lastError: String?
    public var lastFailureAt: Date?
    public var lastSuccessAt: Date?
    /// Whether a call may go now (closed, or a probe slot is free).
    public var acceptingCalls: Bool

    public init(name: String, breaker: CircuitBreaker, now: Date) {
        self.name = name
        state = breaker.state
        consecutiveFailures = breaker.consecutiveFailures
        openUntil = breaker.state == .open ? breaker.openUntil : nil
        lastError = breaker.lastError
        lastFailureAt = breaker.lastFailureAt
        lastSuccessAt = breaker.lastSuccessAt
        if case .blocked = breaker.availability(at: now) { acceptingCalls = false } else { acceptingCalls = true }
    }
}

/// Every breaker at one moment.
public struct HealthSnapshot: Sendable, Codable, Hashable {
    public var takenAt: Date
    public var models: [BreakerSnapshot]
    public var providers: [BreakerSnapshot]

    public init(takenAt: Date, models: [BreakerSnapshot], providers: [BreakerSnapshot]) {
        self.takenAt = takenAt
        self.models = models
        self.providers = providers
    }

    /// The snapshot of one model's breaker; `nil` when it has seen no call (closed).
    public func model(_ name: String) -> BreakerSnapshot? { models.first { $0.name == name } }
    /// The snapshot of one provider's breaker; `nil` when it has seen no call (closed).
    public func provider(_ name: String) -> BreakerSnapshot? { providers.first { $0.name == name } }
}
