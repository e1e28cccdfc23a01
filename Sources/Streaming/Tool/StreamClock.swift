import Synchronization

/// An `any Clock<Duration>` opened into plain functions, measuring from the moment it was made.
struct StreamClock: Sendable {
    /// Time since this value was made.
    let elapsed: @Sendable () -> Duration
    let sleep: @Sendable (Duration) async throws -> Void

    init(_ clock: some Clock<Duration>) {
        let origin = clock.now
        elapsed = { origin.duration(to: clock.now) }
        sleep = { try await clock.sleep(for: $0) }
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
/// It never sleeps longer than `maxSleep` (the idle timeout) at a time, so a deadline that moves
/// earlier (first chunk → idle) is still met exactly: a sleep that began before `arm(after: idle)`
/// ends no later than the new deadline. Re-arming costs no wake-up and no allocation.
final class StreamWatchdog: Sendable {
    private struct State {
        var deadline: Duration
        var kind: TimeoutKind = .firstChunk
        var paused = false
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

    /// Sleeps until a deadline passes; returns which one. Throws `CancellationError` when cancelled first.
    func run() async throws -> TimeoutKind {
        while true {
            let (deadline, kind, paused) = state.withLock { ($0.deadline, $0.kind, $0.paused) }
            let now = clock.elapsed()
            if now >= totalDeadline { return .total }
            if !paused, now >= deadline { return deadline >= totalDeadline ? .total : kind }
            let wake = paused ? totalDeadline : min(deadline, totalDeadline)
            try await clock.sleep(min(wake - now, maxSleep))
        }
    }
}
