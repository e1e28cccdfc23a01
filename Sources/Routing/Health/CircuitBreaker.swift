import Foundation

/// A circuit breaker as a pure state machine: closed → open → half-open → closed.
///
/// It holds no clock and no lock: every transition takes `now`, so it is unit-tested with plain dates and
/// wrapped by ``HealthMonitor`` (a `Mutex`) in production.
///
/// - closed: calls pass; `failureThreshold` consecutive failures open it for the cooldown, and a
///   rate-limit / overload signal (when the owner says so) opens it at once for Retry-After or the cooldown.
/// - open: calls are refused until `openUntil`; after that the breaker is *due* for a probe.
/// - half-open: up to `halfOpenProbes` probe calls are let through (a probe not answered within the cooldown
///   frees its slot); a success closes the breaker, a failure opens it again.
public struct CircuitBreaker: Sendable, Hashable {
    public enum State: String, Sendable, Codable, Hashable {
        case closed
        case open
        case halfOpen = "half-open"
    }

    /// Whether a call may go to the protected model or provider now.
    public enum Availability: Sendable, Hashable {
        /// Closed: pass.
        case available
        /// Open past its time or half-open with a free probe slot: one probe call may go.
        case probe
        /// Open (or half-open with every probe slot taken) until the date.
        case blocked(until: Date)
    }

    public private(set) var state: State = .closed
    public private(set) var consecutiveFailures = 0
    public private(set) var openUntil: Date?
    /// When it last opened: a success of a call that started before then says nothing of now.
    public private(set) var openedAt: Date?
    public private(set) var lastError: String?
    public private(set) var lastFailureAt: Date?
    public private(set) var lastSuccessAt: Date?
    /// Probe calls let through while half-open and not yet answered, with the time each was let through.
    public private(set) var probesInFlight: [Date] = []

    /// The thresholds; may be replaced on a configuration reload without losing the state.
    public var policy: Policy

    /// A breaker's thresholds.
    public struct Policy: Sendable, Hashable {
        /// Consecutive failures that open a closed breaker (≥ 1).
        public var failureThreshold: Int
        /// How long it stays open without a Retry-After, and how long a probe holds its slot, in seconds.
        public var cooldown: TimeInterval
        /// Probe calls let through at once while half-open (≥ 1).
        public var halfOpenProbes: Int
        /// Upper bound on an open-for duration (a Retry-After), in seconds.
        public var maxRetryAfter: TimeInterval

        public init(failureThreshold: Int = 5, cooldown: TimeInterval = 30, halfOpenProbes: Int = 1, maxRetryAfter: TimeInterval = 3_600) {
            self.failureThreshold = max(1, failureThreshold)
            self.cooldown = max(0, cooldown)
            self.halfOpenProbes = max(1, halfOpenProbes)
            self.maxRetryAfter = max(0, maxRetryAfter)
        }
    }

    public init(policy: Policy = Policy()) {
        self.policy = policy
    }

    private var failureThreshold: Int { policy.failureThreshold }
    private var cooldown: TimeInterval { policy.cooldown }
    private var halfOpenProbes: Int { policy.halfOpenProbes }
    private var maxRetryAfter: TimeInterval { policy.maxRetryAfter }

    /// Whether a call may go now. Does not change the breaker.
    public func availability(at now: Date) -> Availability {
        switch state {
        case .closed:
            return .available
        case .open:
            guard let until = openUntil, now < until else { return .probe }
            return .blocked(until: until)
        case .halfOpen:
            let live = liveProbes(at: now)
            if live.count < halfOpenProbes { return .probe }
            // Every slot is taken: the earliest probe's lease ends after the cooldown.
            let earliest = live.min() ?? now
            return .blocked(until: earliest.addingTimeInterval(cooldown))
        }
    }

    /// Lets a call through: returns false when the breaker refuses it. A call through a closed breaker always
    /// passes; through an open-and-due or half-open breaker it takes a probe slot.
    public mutating func acquire(at now: Date) -> Bool {
        switch availability(at: now) {
        case .available:
            return true
        case .blocked:
            return false
        case .probe:
            state = .halfOpen
            probesInFlight = liveProbes(at: now) + [now]
            return true
        }
    }

    /// A call succeeded: the breaker closes, unless the call started before the breaker opened (a
    /// long stream begun before a 429 on another call): that success is older news than the
    /// failure, and only a call made since may close it.
    public mutating func recordSuccess(at now: Date, startedAt: Date? = nil) {
        lastSuccessAt = now
        if state != .closed, let startedAt, let openedAt, startedAt < openedAt { return }
        state = .closed
        consecutiveFailures = 0
        openUntil = nil
        probesInFlight = []
        lastSuccessAt = now
    }

    /// A call failed.
    /// - Parameters:
    ///   - description: the failure for snapshots (never a key).
    ///   - openFor: open at once for this long (a Retry-After, or the cooldown for a rate-limit signal);
    ///     `nil` counts the failure against the threshold instead.
    public mutating func recordFailure(_ description: String, at now: Date, openFor: TimeInterval? = nil) {
        consecutiveFailures += 1
        lastError = description
        lastFailureAt = now
        if let openFor {
            open(at: now, for: min(max(0, openFor), maxRetryAfter))
        } else if state == .halfOpen || consecutiveFailures >= failureThreshold {
            open(at: now, for: cooldown)
        }
    }

    /// A probe let through for a call that was not made: its slot is free again.
    public mutating func releaseProbe(at now: Date) {
        if state == .halfOpen { probesInFlight = Array(liveProbes(at: now).dropLast()) }
    }

    /// Records an error that says nothing about health (e.g. a bad request): kept as the last error only.
    public mutating func noteError(_ description: String, at now: Date) {
        lastError = description
        if state == .halfOpen { probesInFlight = Array(liveProbes(at: now).dropFirst()) }
    }

    private mutating func open(at now: Date, for duration: TimeInterval) {
        let until = now.addingTimeInterval(duration)
        // A breaker already open for longer keeps the later time.
        if state == .open, let current = openUntil, current > until {
            probesInFlight = []
            return
        }
        state = .open
        openUntil = until
        openedAt = now
        probesInFlight = []
    }

    private func liveProbes(at now: Date) -> [Date] {
        probesInFlight.filter { now.timeIntervalSince($0) < cooldown }
    }
}
