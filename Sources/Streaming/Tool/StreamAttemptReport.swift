import FleetSupport
import Providers

/// The outcome of one call to one model inside a ``StreamingTool`` run (a try, a retry, or a
/// synchronous fallback). The router feeds these to its breakers and routing history.
public struct StreamAttemptReport: Sendable {
    public var model: String
    public var provider: ProviderKind
    public var synchronous: Bool
    public var duration: Duration
    /// `nil` on success.
    public var error: (any Error)?

    public var succeeded: Bool { error == nil }
    /// The classified provider error, when the failure was one.
    public var providerError: ProviderError? { error as? ProviderError }
}
