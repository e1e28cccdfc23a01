import Synchronization

/// A cancellation that comes from outside the task doing the work (an HTTP client that closed its
/// connection: Hummingbird does not cancel a handler then). Whoever does the work registers what
/// stops it; ``cancel()`` runs those actions once, and an action registered after it runs at once.
/// Cheaper than running the work in a task of its own only to have a handle to cancel.
public final class CancellationSignal: Sendable {
    private struct State {
        var cancelled = false
        var actions: [@Sendable () -> Void] = []
    }

    private let state = Mutex(State())

    public init() {}

    public var isCancelled: Bool { state.withLock { $0.cancelled } }

    /// Runs `action` on cancellation (at once if already cancelled).
    public func onCancel(_ action: @escaping @Sendable () -> Void) {
        let now = state.withLock { state -> Bool in
            if state.cancelled { return true }
            state.actions.append(action)
            return false
        }
        if now { action() }
    }

    public func cancel() {
        let actions = state.withLock { state -> [@Sendable () -> Void] in
            guard !state.cancelled else { return [] }
            state.cancelled = true
            defer { state.actions = [] }
            return state.actions
        }
        for action in actions { action() }
    }
}
