import Synchronization

/// A cancellation that comes from outside the task doing the work: an HTTP client that closed its
/// connection (Hummingbird does not cancel a handler then), a task run's consumer that left. It is
/// set once; whoever does the work registers what stops the step it is in, each registration
/// replacing the one before (a wait for an agent, then the run; one tool round, then the next),
/// and an action registered after the cancellation runs at once. Cheaper than running the work
/// in a task of its own only to have a handle to cancel.
public final class CancellationSignal: Sendable {
    private struct State {
        var cancelled = false
        var action: (@Sendable () -> Void)?
    }

    private let state = Mutex(State())

    public init() {}

    public var isCancelled: Bool { state.withLock { $0.cancelled } }

    /// Runs `action` on cancellation instead of the action registered before, or now if the
    /// signal was cancelled already.
    public func onCancel(_ action: @escaping @Sendable () -> Void) {
        let now = state.withLock { state -> Bool in
            if state.cancelled { return true }
            state.action = action
            return false
        }
        if now { action() }
    }

    public func cancel() {
        let action = state.withLock { state -> (@Sendable () -> Void)? in
            state.cancelled = true
            defer { state.action = nil }
            return state.action
        }
        action?()
    }
}
