import NIOCore
import NIOPosix
import Synchronization

/// A one-shot timer on one of NIO's event loops, cancellable from anywhere.
///
/// Why not a child task that sleeps: on Linux every `Task.sleep` arms a Dispatch timer through
/// Dispatch's manager thread (a `write(2)` and a thread wake-up each), and racing it needs a task
/// group with a second child task. fleetd needs two per task (the task timeout and the stream
/// watchdog), so sleeping child tasks cost CPU on every task (see docs/performance.md). An event
/// loop keeps its timers in a heap and is awake anyway while fleetd is busy.
public struct LoopTimer: Sendable {
    /// `nil` when the loop was shutting down: the action then never runs, as a scheduled task's
    /// would not.
    private let callback: NIOScheduledCallback?

    /// Runs `action` on an event loop after `delay` unless cancelled first.
    ///
    /// A scheduled callback, not `scheduleTask`: a task scheduled on a loop also makes a promise
    /// and its future, and a stream keeps two timers (the task's timeout and its watchdog) for as
    /// long as it is open (docs/performance.md, "Memory per open stream").
    public static func after(_ delay: Duration, _ action: @escaping @Sendable () -> Void) -> LoopTimer {
        let amount = TimeAmount(max(.zero, delay)) // clamped to Int64.max nanoseconds; the deadline saturates
        let loop = MultiThreadedEventLoopGroup.singleton.any()
        return LoopTimer(callback: try? loop.scheduleCallback(in: amount, handler: Action(run: action)))
    }

    /// Stops the timer; harmless when it already fired.
    public func cancel() {
        callback?.cancel()
    }

    private struct Action: NIOScheduledCallbackHandler, Sendable {
        let run: @Sendable () -> Void
        func handleScheduledCallback(eventLoop: some EventLoop) { run() }
    }
}

/// Runs `body` in a task that is cancelled when `limit` passes first (or when the calling task
/// is cancelled). Returns the body's value and whether the limit cut it short.
///
/// The body still returns (cancellation is cooperative); `timedOut` says whether the timer fired
/// before it did.
public func withTimeLimit<Value: Sendable>(
    _ limit: Duration, _ body: @escaping @Sendable () async -> Value
) async -> (value: Value, timedOut: Bool) {
    let task = ExecutorAffinity.task { await body() }
    let fired = AtomicFlag()
    let timer = LoopTimer.after(limit) {
        fired.set()
        task.cancel()
    }
    let value = await withTaskCancellationHandler { await task.value } onCancel: { task.cancel() }
    timer.cancel()
    return (value, fired.isSet)
}

/// A flag set once from any thread (a timer's action) and read by the waiting task.
final class AtomicFlag: Sendable {
    private let value = Atomic<Bool>(false)
    func set() { value.store(true, ordering: .releasing) }
    var isSet: Bool { value.load(ordering: .acquiring) }
}
