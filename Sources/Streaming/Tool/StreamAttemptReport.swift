import FleetSupport
import Providers

/// The outcome of one call to one model inside a ``StreamingTool`` run (a try, a retry, or a
/// synchronous fallback). The router feeds these to its breakers and routing history; the task
/// bills each call the provider accepted from them.
public struct StreamAttemptReport: Sendable {
    public var model: String
    public var provider: ProviderKind
    public var synchronous: Bool
    public var duration: Duration
    /// `nil` on success.
    public var error: (any Error)?
    /// The call was cut short because its consumer went away (or the run was cancelled): it says
    /// nothing about the provider's health, but it may still have been billed.
    public var cancelled: Bool
    /// The provider accepted the call (a success status came back): from then on it bills.
    public var accepted: Bool
    /// Usage the provider reported during this call, if any (complete, or so far).
    public var usage: TokenUsage?
    /// Output received during this call, in approximate tokens (text and tool-call arguments).
    public var outputTokensSeen: Int
    /// A synchronous call cut (a deadline, or its caller gone) while the provider was producing an
    /// answer fleetd never received: accepted, with its output unknown up to the answer's limit.
    public var answerUnseen = false

    public init(model: String, provider: ProviderKind, synchronous: Bool, duration: Duration, error: (any Error)?,
                cancelled: Bool = false, accepted: Bool = false, usage: TokenUsage? = nil, outputTokensSeen: Int = 0) {
        self.model = model
        self.provider = provider
        self.synchronous = synchronous
        self.duration = duration
        self.error = error
        self.cancelled = cancelled
        self.accepted = accepted
        self.usage = usage
        self.outputTokensSeen = outputTokensSeen
    }

    /// The call completed.
    public var succeeded: Bool { error == nil && !cancelled }
    /// The classified provider error, when the failure was one.
    public var providerError: ProviderError? { error as? ProviderError }
}

/// What one caller of ``StreamingTool/executeStreaming(_:targets:timeLimit:hooks:)`` does around
/// each call to a model: a task reserves its budget before the call and bills it after.
public struct CallHooks: Sendable {
    /// Before each call to a target: `nil` lets it go; a failure skips the target (the run goes on
    /// to the next one, or ends with that failure when none is left).
    public var beforeAttempt: @Sendable (StreamTarget) async -> StreamFailure?
    /// After each call, cancelled ones included, with what the provider reported.
    public var afterAttempt: @Sendable (StreamAttemptReport) async -> Void

    public init(beforeAttempt: @escaping @Sendable (StreamTarget) async -> StreamFailure?,
                afterAttempt: @escaping @Sendable (StreamAttemptReport) async -> Void) {
        self.beforeAttempt = beforeAttempt
        self.afterAttempt = afterAttempt
    }
}

/// A call the caller's ``CallHooks/beforeAttempt`` refused (its budget has no room).
struct AttemptRefused: Error {
    var failure: StreamFailure
}
