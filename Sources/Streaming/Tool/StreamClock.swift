import FleetSupport
import Synchronization

/// An `any Clock<Duration>` opened into plain functions, measuring from the moment it was made.
/// A class: it is handed down the producer's chain of async frames, which an open stream keeps,
/// and a struct of three closures took 48 bytes in each frame that held it.
final class StreamClock: Sendable {
    /// Time since this value was made.
    let elapsed: @Sendable () -> Duration
    let sleep: @Sendable (Duration) async throws -> Void
    /// Runs an action after a delay unless the returned cancel function is called first: an
    /// event-loop timer (``LoopTimer``) on the real clock, a task sleeping on any other clock.
    let schedule: @Sendable (Duration, @escaping @Sendable () -> Void) -> @Sendable () -> Void

    init(_ clock: some Clock<Duration>) {
        let origin = clock.now
        elapsed = { origin.duration(to: clock.now) }
        sleep = { try await clock.sleep(for: $0) }
        if clock is ContinuousClock {
            schedule = { delay, action in
                let timer = LoopTimer.after(delay, action)
                return { timer.cancel() }
            }
        } else {
            schedule = { delay, action in
                let task = Task {
                    do { try await clock.sleep(for: delay) } catch { return }
                    action()
                }
                return { task.cancel() }
            }
        }
    }
}

/// Which timeout fired.
enum TimeoutKind: String, Sendable {
    case firstChunk = "no first chunk"
    case idle = "no chunk"
    case total = "the whole call"
}

/// Fires when the current deadline passes. The deadline is re-armed on every chunk (idle gap),
/// suspended while the consumer holds the producer back, and always capped by the total deadline.
///
/// One timer at a time checks the deadline; re-arming costs no timer and no allocation. The
/// timer never waits longer than `maxSleep` (the idle timeout), so a deadline that moves earlier
/// (first chunk → idle) is still met: a check armed before `arm(after: idle)` comes no later than
/// the new deadline, and it re-arms itself for whatever deadline is current.
final class StreamWatchdog: Sendable {
    private struct State {
        var deadline: Duration
        var kind: TimeoutKind = .firstChunk
        var paused = false
        var fired: TimeoutKind?
        var stopped = false
        var cancelTimer: (@Sendable () -> Void)?
    }

    private let state: Mutex<State>
    private let clock: StreamClock
    private let totalDeadline: Duration
    private let maxSleep: Duration

    init(clock: StreamClock, totalDeadline: Duration, maxSleep: Duration) {
        self.clock = clock
        self.totalDeadline = totalDeadline
        self.maxSleep = max(.milliseconds(1), maxSleep)
        self.state = Mutex(State(deadline: totalDeadline))
    }

    /// Sets the deadline to `clock.elapsed() + after` (capped by the total deadline) and resumes timing.
    func arm(after: Duration, kind: TimeoutKind) {
        let now = clock.elapsed()
        state.withLock {
            $0.deadline = now + after
            $0.kind = kind
            $0.paused = false
        }
    }

    /// Only the total deadline counts until the next `arm` (while waiting for the consumer).
    func pause() {
        state.withLock { $0.paused = true }
    }

    /// Which deadline passed, if one did.
    var fired: TimeoutKind? { state.withLock { $0.fired } }

    /// Starts watching: `onFire` runs once, on a timer's thread, when a deadline passes before ``stop()``.
    func start(onFire: @escaping @Sendable (TimeoutKind) -> Void) {
        check(onFire)
    }

    /// Stops watching: after this returns, ``fired`` no longer changes.
    func stop() {
        let cancel = state.withLock { state -> (@Sendable () -> Void)? in
            state.stopped = true
            defer { state.cancelTimer = nil }
            return state.cancelTimer
        }
        cancel?()
    }

    private func check(_ onFire: @escaping @Sendable (TimeoutKind) -> Void) {
        let now = clock.elapsed()
        enum Next { case fire(TimeoutKind), wait(Duration), done }
        let next: Next = state.withLock { state in
            if state.stopped || state.fired != nil { return .done }
            var expired: TimeoutKind?
            if now >= totalDeadline {
                expired = .total
            } else if !state.paused, now >= state.deadline {
                expired = state.deadline >= totalDeadline ? .total : state.kind
            }
            if let expired {
                state.fired = expired
                return .fire(expired)
            }
            let wake = state.paused ? totalDeadline : min(state.deadline, totalDeadline)
            return .wait(min(wake - now, maxSleep))
        }
        switch next {
        case .done:
            return
        case .fire(let kind):
            onFire(kind)
        case .wait(let delay):
            let cancel = clock.schedule(delay) { [weak self] in self?.check(onFire) }
            let stale = state.withLock { state -> Bool in
                if state.stopped { return true }
                state.cancelTimer = cancel
                return false
            }
            if stale { cancel() }
        }
    }
}
