import Agents
import FleetSupport
import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// SIGTERM's drain deadline (`api.drainTimeoutSeconds`) for the streams still open, and the count
/// of requests in flight the drain waits for.
///
/// When the service group's deadline passes it cancels the server, and a stream cut that way
/// ends with no last event (curl exits 18, the OpenAI SDK raises APIConnectionError). So the
/// deadline is kept here, ``margin`` earlier: every open stream's run is cancelled, and its
/// relay sends its last `error` event (TASK_CANCELLED, "fleetd is shutting down") before it ends.
final class DrainDeadline: Sendable {
    private struct State {
        var cuts: [Int: @Sendable () -> Void] = [:]
        var nextToken = 0
        var passed = false
    }

    private let state = Mutex(State())
    /// Requests whose handler runs now (``RequestLogMiddleware``): JSON tasks, streams until their
    /// response begins, everything else. A stream's body, which runs after its handler returned,
    /// is counted in ``openStreams`` instead.
    private let handling = Atomic<Int>(0)

    /// How long before the service group's own deadline the streams are cut.
    static let margin = Duration.milliseconds(500)

    /// What a stream cut by the deadline tells its client.
    static let failure = TaskFailure(code: .taskCancelled,
                                     message: "fleetd is shutting down: the drain deadline (api.drainTimeoutSeconds) passed before the task ended")

    /// Streams open now.
    var openStreams: Int { state.withLock { $0.cuts.count } }

    /// Requests in flight now, each counted once: those being handled plus the open streams, and
    /// how many of them are streams.
    var inFlight: (requests: Int, streams: Int) {
        let streams = openStreams
        return (handling.load(ordering: .relaxed) + streams, streams)
    }

    /// A request's handler starts; ``requestEnded()`` when it returns or throws.
    func requestStarted() {
        handling.wrappingAdd(1, ordering: .relaxed)
    }

    func requestEnded() {
        handling.wrappingSubtract(1, ordering: .relaxed)
    }

    /// Runs `cut` when the deadline passes (at once if it has). Returns a token for ``remove(_:)``.
    func register(_ cut: @escaping @Sendable () -> Void) -> Int? {
        let token = state.withLock { state -> Int? in
            if state.passed { return nil }
            state.nextToken += 1
            state.cuts[state.nextToken] = cut
            return state.nextToken
        }
        if token == nil { cut() }
        return token
    }

    func remove(_ token: Int) {
        _ = state.withLock { $0.cuts.removeValue(forKey: token) }
    }

    /// The deadline passed: cuts every open stream; returns how many.
    @discardableResult
    func pass() -> Int {
        let cuts = state.withLock { state -> [@Sendable () -> Void] in
            state.passed = true
            defer { state.cuts.removeAll() }
            return Array(state.cuts.values)
        }
        for cut in cuts { cut() }
        return cuts.count
    }
}

/// Last in `fleetd serve`'s service group, so the first told of a graceful shutdown: logs that the
/// drain starts and arms ``DrainDeadline``, then returns so the server's drain goes on.
struct DrainNoticeService: Service {
    let drain: DrainDeadline
    let timeout: Duration
    let logger: Logger

    func run() async throws {
        do {
            try await gracefulShutdown()
        } catch {
            return // cancelled: no drain
        }
        let drain = self.drain
        let logger = self.logger
        // Every request the drain waits for: JSON tasks and other requests as much as open streams.
        let (requests, streams) = drain.inFlight
        logger.notice("draining: \(requests) requests in flight (\(streams) streams), up to \(timeout.components.seconds)s")
        _ = LoopTimer.after(timeout - DrainDeadline.margin) {
            let cut = drain.pass()
            if cut > 0 { logger.warning("drain deadline passed: \(cut) streams cut") }
        }
    }
}
