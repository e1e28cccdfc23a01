import NIOCore
import Synchronization

/// Runs a request's tasks on the event loop of its connection.
///
/// Why: every `await` that resumes on another thread costs a wake-up (a context switch). A task
/// that runs on the global pool and calls a provider through AsyncHTTPClient crosses threads at
/// least twice per call (pool → loop to write, loop → pool when the answer arrives), and again
/// for every task it starts. Preferring the connection's event loop as the task executor
/// (SE-0417) keeps a request on one thread: AsyncHTTPClient picks a connection on the loop it is
/// called from, and its answer resumes the task right there. Actor-isolated code still runs on
/// its actor. The measured effect is in docs/performance.md.
public final class EventLoopTaskExecutor: TaskExecutor {
    public let eventLoop: any EventLoop

    public init(_ eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    /// The executor of `eventLoop`: one per loop for the life of the process (jobs refer to
    /// their executor unowned, so it must outlive them).
    public static func of(_ eventLoop: any EventLoop) -> EventLoopTaskExecutor {
        let id = ObjectIdentifier(eventLoop)
        return executors.withLock { executors in
            if let executor = executors[id] { return executor }
            let executor = EventLoopTaskExecutor(eventLoop)
            executors[id] = executor
            return executor
        }
    }

    private static let executors = Mutex<[ObjectIdentifier: EventLoopTaskExecutor]>([:])

    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        eventLoop.execute {
            job.runSynchronously(on: self.asUnownedTaskExecutor())
        }
    }

    public func asUnownedTaskExecutor() -> UnownedTaskExecutor {
        UnownedTaskExecutor(ordinary: self)
    }
}

/// The task executor preferred by the work in progress, so that tasks it starts without
/// structure (which do not inherit the preference) can ask for it too.
public enum ExecutorAffinity {
    @TaskLocal public static var preferred: EventLoopTaskExecutor?

    /// Runs `body` preferring `executor`, and tells tasks started inside to prefer it as well.
    public static func run<Value: Sendable>(on executor: EventLoopTaskExecutor?,
                                            _ body: () async throws -> Value) async rethrows -> Value {
        guard let executor else { return try await body() }
        return try await $preferred.withValue(executor) {
            try await withTaskExecutorPreference(executor) { try await body() }
        }
    }

    /// An unstructured task that prefers the current request's event loop, if there is one.
    ///
    /// A plain `Task {}` started on the request path (a settlement, a quota count, anything that
    /// must not be cancelled with its request) runs on Swift's global pool: starting it wakes a
    /// pool thread (a futex and a context switch), and its end wakes the loop again. Started here,
    /// it runs on the loop that started it, after the current job.
    @discardableResult
    public static func task<Value: Sendable>(_ body: sending @escaping @isolated(any) () async -> Value) -> Task<Value, Never> {
        Task(executorPreference: preferred, operation: body)
    }

    /// ``task(_:)`` for work that throws.
    @discardableResult
    public static func throwingTask<Value: Sendable>(_ body: sending @escaping @isolated(any) () async throws -> Value) -> Task<Value, any Error> {
        Task(executorPreference: preferred, operation: body)
    }
}
