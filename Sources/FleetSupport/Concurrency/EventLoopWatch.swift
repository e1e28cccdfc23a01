import Foundation
import NIOCore
import ServiceLifecycle
import Synchronization

/// Notices an event loop whose thread has stopped running its queue: a thread blocked on a lock,
/// a long synchronous call, a deadlock. Every `interval` it queues a small job on each loop that
/// has none waiting, and a loop whose job has waited `stallAfter` or longer is stalled (a watcher
/// that is itself late only checks late; it never sees a stall that is not there); `/readyz` then reports it (every
/// connection on that loop hangs, so the process should be taken out and restarted), and the
/// stall is logged once when seen and once when it ends.
///
/// Why: a deadlocked loop (docs/performance.md, "An event loop that deadlocked") left fleetd
/// half alive: requests that landed on the other loop were served, the rest hung, and nothing said
/// why.
public final class EventLoopWatch: Service, Sendable {
    private let loops: [any EventLoop]
    private let interval: Duration
    private let stallAfter: Duration
    private let onChange: @Sendable (_ loop: Int, _ stalledFor: Duration?) -> Void
    /// Per loop: since when its job has waited to run; nil when none waits.
    private let state: Mutex<[ContinuousClock.Instant?]>
    private let reported = Mutex<Set<Int>>([])

    /// - Parameter onChange: called when a loop is first seen stalled (with how long) and when it
    ///   runs again (nil).
    public init(group: any EventLoopGroup, interval: Duration = .seconds(1), stallAfter: Duration = .seconds(5),
                onChange: @escaping @Sendable (_ loop: Int, _ stalledFor: Duration?) -> Void = { _, _ in }) {
        var loops: [any EventLoop] = []
        for loop in group.makeIterator() { loops.append(loop) }
        self.loops = loops
        self.interval = interval
        self.stallAfter = stallAfter
        self.onChange = onChange
        self.state = Mutex(Array(repeating: nil, count: loops.count))
    }

    public func run() async throws {
        await runPeriodically(every: interval, tickFirst: true) { self.check() }
    }

    /// Queues a job on every loop that has none waiting, and reports changes in which loops are stalled.
    public func check() {
        let now = ContinuousClock.now
        for (index, loop) in loops.enumerated() {
            let queue = state.withLock { pending -> Bool in
                guard pending[index] == nil else { return false }
                pending[index] = now
                return true
            }
            if queue { loop.execute { self.state.withLock { $0[index] = nil } } }
        }
        let stalled = self.stalled()
        let changes: [(Int, Duration?)] = reported.withLock { reported in
            var changes: [(Int, Duration?)] = []
            for (index, age) in stalled where !reported.contains(index) { changes.append((index, age)) }
            for index in reported where stalled[index] == nil { changes.append((index, nil)) }
            reported = Set(stalled.keys)
            return changes
        }
        for (index, age) in changes { onChange(index, age) }
    }

    /// The loops (by index in the group) whose job has waited `stallAfter` or longer, with how long.
    public func stalled() -> [Int: Duration] {
        let now = ContinuousClock.now
        let pending = state.withLock { $0 }
        var stalled: [Int: Duration] = [:]
        for (index, since) in pending.enumerated() {
            if let since, now - since >= stallAfter { stalled[index] = now - since }
        }
        return stalled
    }

    /// One line per stalled loop, for `/readyz`.
    public func problems() -> [String] {
        stalled().sorted { $0.key < $1.key }.map { index, age in
            "event loop \(index) has not run for \(Int(age.components.seconds)) s (a blocked thread): connections on it hang; restart fleetd"
        }
    }
}
