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

/// Fires when the current deadline passes without being moved. The deadline is re-armed on
/// every chunk (idle gap), paused while the consumer holds the producer back, and always capped
/// by the total deadline.
final class StreamWatchdog: Sendable {
    private struct State {
        var deadline: Duration?
        var kind: TimeoutKind = .firstChunk
        var generation = 0
    }

    private let state = Mutex(State())
    private let clock: StreamClock
    private let totalDeadline: Duration

    init(clock: StreamClock, totalDeadline: Duration) {
        self.clock = clock
        self.totalDeadline = totalDeadline
    }

    /// Sets the deadline to `clock.elapsed() + after` (capped by the total deadline).
    func arm(after: Duration, kind: TimeoutKind) {
        let now = clock.elapsed()
        state.withLock {
            if now + after < totalDeadline {
                $0.deadline = now + after
                $0.kind = kind
            } else {
                $0.deadline = totalDeadline
                $0.kind = .total
            }
            $0.generation += 1
        }
    }

    /// No deadline but the total one (while waiting for the consumer).
    func pause() {
        state.withLock {
            $0.deadline = totalDeadline
            $0.kind = .total
            $0.generation += 1
        }
    }

    /// Sleeps until the deadline passes unmoved; returns which timeout fired.
    /// Throws `CancellationError` when cancelled first.
    func run() async throws -> TimeoutKind {
        while true {
            let (deadline, kind, generation) = state.withLock { ($0.deadline ?? totalDeadline, $0.kind, $0.generation) }
            let now = clock.elapsed()
            if now >= deadline {
                let unchanged = state.withLock { $0.generation == generation }
                if unchanged { return kind }
                continue
            }
            try await clock.sleep(deadline - now)
            let unchanged = state.withLock { $0.generation == generation }
            if unchanged, clock.elapsed() >= deadline { return kind }
        }
    }
}
