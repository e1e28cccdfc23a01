import FleetSupport
import Foundation
import Synchronization

/// The circuit breakers of every model and every provider.
///
/// A `final class` around a `Mutex`: every routing decision reads it, so the path is short and synchronous;
/// the business rules live in the pure ``CircuitBreaker``. A call needs both its model's and its provider's
/// breaker to let it through.
///
/// Which failure opens which breaker:
/// - 429 rate limited: the model's breaker opens at once for Retry-After (or the cooldown); the provider's counts a failure
///   (rate limits are usually per model, so the provider's other models stay usable).
/// - 529 overloaded: the provider's breaker opens at once for Retry-After (or the cooldown); the model's counts a failure.
/// - other failures count against both (model: `failureThreshold`, provider: `providerFailureThreshold`).
/// - a bad request counts against neither.
public final class HealthMonitor: Sendable {
    private struct Storage {
        var configuration: HealthConfiguration
        var models: [String: CircuitBreaker] = [:]
        var providers: [ProviderKind: CircuitBreaker] = [:]
        var modelProviders: [String: ProviderKind] = [:]
        /// The breaker-sharing hook: told of each model breaker a rate limit opened.
        var onRateLimit: (@Sendable (BreakerOpening) -> Void)?
    }

    private let storage: Mutex<Storage>
    private let clock: any WallClock

    public init(configuration: HealthConfiguration = HealthConfiguration(), clock: any WallClock = SystemWallClock()) {
        storage = Mutex(Storage(configuration: configuration))
        self.clock = clock
    }

    /// Applies new thresholds to every breaker, keeping their states.
    public func update(configuration: HealthConfiguration) {
        storage.withLock { s in
            s.configuration = configuration
            for key in s.models.keys { s.models[key]?.policy = Self.modelPolicy(configuration) }
            for key in s.providers.keys { s.providers[key]?.policy = Self.providerPolicy(configuration) }
        }
    }

    /// Whether a call to `model` (of `provider`) may go now, without taking a probe slot.
    public func availability(model: String, provider: ProviderKind) -> HealthVerdict {
        let now = clock.now
        return storage.withLock { s in
            Self.verdict(model: s.models[model], provider: s.providers[provider], modelName: model, providerKind: provider, now: now)
        }
    }

    /// Verdicts for many models at once, under one lock (for batch routing).
    public func availability(of models: [ModelConfiguration]) -> [String: HealthVerdict] {
        let now = clock.now
        return storage.withLock { s in
            var out: [String: HealthVerdict] = [:]
            for m in models {
                out[m.name] = Self.verdict(model: s.models[m.name], provider: s.providers[m.provider], modelName: m.name, providerKind: m.provider, now: now)
            }
            return out
        }
    }

    /// Lets one call to `model` through both breakers, taking probe slots where half-open.
    /// Returns false, changing nothing, when either breaker refuses.
    public func acquire(model: String, provider: ProviderKind) -> Bool {
        let now = clock.now
        return storage.withLock { s in
            var m = s.models[model] ?? CircuitBreaker(policy: Self.modelPolicy(s.configuration))
            var p = s.providers[provider] ?? CircuitBreaker(policy: Self.providerPolicy(s.configuration))
            if case .blocked = m.availability(at: now) { return false }
            if case .blocked = p.availability(at: now) { return false }
            _ = m.acquire(at: now)
            _ = p.acquire(at: now)
            s.models[model] = m
            s.providers[provider] = p
            s.modelProviders[model] = provider
            return true
        }
    }

    /// Gives back a probe slot taken for a call that was not made.
    public func release(model: String, provider: ProviderKind) {
        let now = clock.now
        storage.withLock { s in
            s.models[model]?.releaseProbe(at: now)
            s.providers[provider]?.releaseProbe(at: now)
        }
    }

    /// Records a successful call: both breakers close (unless they opened after the call began).
    public func recordSuccess(model: String, provider: ProviderKind, startedAt: Date? = nil) {
        let now = clock.now
        storage.withLock { s in
            s.modelProviders[model] = provider
            s.models[model, default: CircuitBreaker(policy: Self.modelPolicy(s.configuration))].recordSuccess(at: now, startedAt: startedAt)
            s.providers[provider, default: CircuitBreaker(policy: Self.providerPolicy(s.configuration))].recordSuccess(at: now, startedAt: startedAt)
        }
    }

    /// Sets the breaker-sharing hook: called (outside the lock) with each model breaker a 429
    /// opened here, so that other instances can hold the model out too (``holdOut(_:)``).
    public func onRateLimit(_ hook: @escaping @Sendable (BreakerOpening) -> Void) {
        storage.withLock { $0.onRateLimit = hook }
    }

    /// Opens a model's breaker until `opening.until` because another instance saw a rate limit;
    /// a breaker already open for longer keeps its time. Not passed to the hook again.
    public func holdOut(_ opening: BreakerOpening) {
        let now = clock.now
        guard opening.until > now else { return }
        storage.withLock { s in
            s.modelProviders[opening.model] = opening.provider
            var m = s.models[opening.model] ?? CircuitBreaker(policy: Self.modelPolicy(s.configuration))
            if m.state == .open, let current = m.openUntil, current >= opening.until { return }
            m.recordFailure(opening.reason, at: now, openFor: opening.until.timeIntervalSince(now))
            s.models[opening.model] = m
        }
    }

    /// Records a failed call (see the type's documentation for which breaker opens).
    public func recordFailure(model: String, provider: ProviderKind, failure: CallFailure) {
        let now = clock.now
        let opened: (BreakerOpening, @Sendable (BreakerOpening) -> Void)? = storage.withLock { s in
            s.modelProviders[model] = provider
            let cooldown = s.configuration.cooldownSeconds
            var m = s.models[model] ?? CircuitBreaker(policy: Self.modelPolicy(s.configuration))
            var p = s.providers[provider] ?? CircuitBreaker(policy: Self.providerPolicy(s.configuration))
            let text = failure.description
            switch failure {
            case .badRequest:
                m.noteError(text, at: now)
                p.noteError(text, at: now)
            case .rateLimited(let after):
                m.recordFailure(text, at: now, openFor: after ?? cooldown)
                p.recordFailure(text, at: now)
            case .overloaded(let after):
                m.recordFailure(text, at: now)
                p.recordFailure(text, at: now, openFor: after ?? cooldown)
            default:
                m.recordFailure(text, at: now)
                p.recordFailure(text, at: now)
            }
            s.models[model] = m
            s.providers[provider] = p
            guard case .rateLimited = failure, let hook = s.onRateLimit, m.state == .open, let until = m.openUntil else { return nil }
            return (BreakerOpening(model: model, provider: provider, until: until, reason: "shared: \(text)"), hook)
        }
        if let opened { opened.1(opened.0) }
    }

    /// The state of every breaker that has seen a call, for `GET /v1/models` and metrics.
    public func snapshot() -> HealthSnapshot {
        let now = clock.now
        return storage.withLock { s in
            HealthSnapshot(
                takenAt: now,
                models: s.models.map { BreakerSnapshot(name: $0.key, breaker: $0.value, now: now) }.sorted { $0.name < $1.name },
                providers: s.providers.map { BreakerSnapshot(name: $0.key.rawValue, breaker: $0.value, now: now) }.sorted { $0.name < $1.name }
            )
        }
    }

    private static func modelPolicy(_ c: HealthConfiguration) -> CircuitBreaker.Policy {
        .init(failureThreshold: c.failureThreshold, cooldown: c.cooldownSeconds, halfOpenProbes: c.halfOpenProbes, maxRetryAfter: c.maxRetryAfterSeconds)
    }

    private static func providerPolicy(_ c: HealthConfiguration) -> CircuitBreaker.Policy {
        .init(failureThreshold: c.providerFailureThreshold, cooldown: c.cooldownSeconds, halfOpenProbes: c.halfOpenProbes, maxRetryAfter: c.maxRetryAfterSeconds)
    }

    private static func verdict(model: CircuitBreaker?, provider: CircuitBreaker?, modelName: String, providerKind: ProviderKind, now: Date) -> HealthVerdict {
        let m = model?.availability(at: now) ?? .available
        let p = provider?.availability(at: now) ?? .available
        if case .blocked(let until) = m {
            return .blocked(until: until, detail: "model breaker open until \(until.iso8601)" + (model?.lastError.map { " after \($0)" } ?? ""))
        }
        if case .blocked(let until) = p {
            return .blocked(until: until, detail: "provider \(providerKind.rawValue) breaker open until \(until.iso8601)" + (provider?.lastError.map { " after \($0)" } ?? ""))
        }
        if case .probe = m { return .probe(detail: "model breaker half-open: this call is the probe") }
        if case .probe = p { return .probe(detail: "provider \(providerKind.rawValue) breaker half-open: this call is the probe") }
        return .available
    }
}

/// A model breaker opened by a rate limit, as shared between instances.
public struct BreakerOpening: Sendable, Codable, Hashable {
    public var model: String
    public var provider: ProviderKind
    public var until: Date
    public var reason: String

    public init(model: String, provider: ProviderKind, until: Date, reason: String) {
        self.model = model
        self.provider = provider
        self.until = until
        self.reason = reason
    }
}

/// The health of one model for routing.
public enum HealthVerdict: Sendable, Hashable {
    case available
    /// A probe may go (half-open); a healthy model ranks before it.
    case probe(detail: String)
    /// Refused until the date.
    case blocked(until: Date, detail: String)
}

extension Date {
    /// ISO 8601 in UTC with seconds, for messages.
    var iso8601: String { formatted(.iso8601) }
}
