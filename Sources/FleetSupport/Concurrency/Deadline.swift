import Synchronization

/// `body`'s result, or `timedOut()` thrown once `timeout` has passed, whichever comes first, even
/// when `body` does not end on cancellation.
///
/// Not a task group: a group waits for every child before it returns, so its deadline holds only
/// for a body that ends when cancelled. PostgresNIO's queries do not: a query on a connection to a
/// server that stopped answering (a network partition) waits for TCP to give up, many minutes,
/// and a group-based timeout waited with it. Here `body` runs as a task of its own; at the
/// deadline it is cancelled and left to end by itself, and the caller goes on at once.
///
/// Cancelling the caller cancels `body` but does not end the wait before the deadline: a body
/// that completes its work despite the cancellation (a PostgreSQL write already sent) reports it,
/// so the caller never takes done work for undone.
public func withDeadline<T: Sendable>(
    _ timeout: Duration,
    timedOut: @escaping @Sendable () -> any Error,
    _ body: @escaping @Sendable () async throws -> T
) async throws -> T {
    let race = FirstResult<T>()
    let work = Task {
        do { race.finish(.success(try await body())) } catch { race.finish(.failure(error)) }
    }
    let timer = Task {
        do { try await Task.sleep(for: timeout) } catch { return } // the body finished first
        // `timedOut` only when the deadline wins: it may act (close a connection, mark a server
        // silent), and a body that ended just before the timer woke must not set that off.
        if race.claim() { race.deliver(.failure(timedOut())) }
    }
    defer {
        work.cancel()
        timer.cancel()
    }
    return try await withTaskCancellationHandler {
        try await race.value()
    } onCancel: {
        work.cancel()
    }
}

/// The first of several results offered to one waiter; later ones are dropped. An offer is
/// claimed first and delivered after, so the winner can make its result outside the lock.
final class FirstResult<T: Sendable>: Sendable {
    private enum State {
        case empty
        case waiting(CheckedContinuation<T, any Error>)
        /// A result was claimed and is on its way; the waiter, if it came already.
        case claimed(CheckedContinuation<T, any Error>?)
        case done(Result<T, any Error>)
        case taken
    }

    private let state = Mutex(State.empty)

    /// Offers a result: the first one wakes the waiter (or waits for it); later ones are dropped.
    func finish(_ result: Result<T, any Error>) {
        if claim() { deliver(result) }
    }

    /// Whether this caller is the first to offer a result; if so, it must ``deliver(_:)`` one.
    func claim() -> Bool {
        state.withLock { state in
            switch state {
            case .empty:
                state = .claimed(nil)
                return true
            case .waiting(let continuation):
                state = .claimed(continuation)
                return true
            case .claimed, .done, .taken:
                return false
            }
        }
    }

    /// The claimed result, to the waiter (now, or when it comes).
    func deliver(_ result: Result<T, any Error>) {
        let waiter: CheckedContinuation<T, any Error>? = state.withLock { state in
            guard case .claimed(let continuation) = state else { preconditionFailure("FirstResult.deliver(_:) without a claim") }
            state = continuation == nil ? .done(result) : .taken
            return continuation
        }
        waiter?.resume(with: result)
    }

    /// The first result offered. Call once.
    func value() async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            let ready: Result<T, any Error>? = state.withLock { state in
                switch state {
                case .done(let result):
                    state = .taken
                    return result
                case .empty:
                    state = .waiting(continuation)
                    return nil
                case .claimed(nil):
                    state = .claimed(continuation)
                    return nil
                case .waiting, .claimed, .taken:
                    preconditionFailure("FirstResult.value() called twice")
                }
            }
            if let ready { continuation.resume(with: ready) }
        }
    }
}
