import FleetSupport
import Hummingbird

/// Handles each request in a child task, so that the async frames its handling needed are freed
/// when the response is ready, before an SSE body starts.
///
/// Why: a Swift task keeps the memory its deepest chain of async calls ever needed until the task
/// ends (the task allocator keeps its slabs), and Hummingbird writes a response body in the
/// connection's task, which an SSE stream keeps for as long as it lasts. Handled in that task, a
/// streamed request's middlewares, decoding, routing and dispatch stayed allocated beside every
/// open stream: heaptrack put a 30 KB slab on each (docs/performance.md, "Memory per open
/// stream"). The cost is one child task per request. It goes first, so every middleware after it
/// runs in the child.
///
/// The child prefers the connection's event loop (``EventLoopTaskExecutor``), and so does every
/// task it starts through ``ExecutorAffinity``: the whole request, its middlewares and the actors
/// it calls, runs on that loop's thread. Hummingbird runs a connection's task on Swift's global
/// pool; a child started from it without a preference ran there too, and each hop between the
/// pool and the loop woke a thread (docs/performance.md, "Tasks kept on their loop").
struct RequestPhaseMiddleware: RouterMiddleware {
    typealias Context = FleetRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let executor = context.taskExecutor
        return try await withoutActuallyEscaping(next) { next in
            let call = NextResponder(next)
            return try await ExecutorAffinity.$preferred.withValue(executor) {
                try await withThrowingTaskGroup(of: Response.self) { group in
                    group.addTask(executorPreference: executor) { try await call.respond(request, context) }
                    // The child returns a response or throws, so `next()` gives exactly one.
                    return try await group.next()!
                }
            }
        }
    }
}

/// The rest of the middleware chain, handed to the child task.
///
/// `@unchecked Sendable`, and why that is safe: the closure is Hummingbird's `next`, which only
/// calls the chain's responders (all `Sendable`); it is called exactly once, by the one child
/// task, while the parent task does nothing but wait for that child; and the group is awaited
/// inside `withoutActuallyEscaping`, so the closure never outlives the call that lent it. No two
/// threads ever touch it at once, and it is never used after its scope.
private struct NextResponder<Context: RequestContext>: @unchecked Sendable {
    let respond: (Request, Context) async throws -> Response
    init(_ respond: @escaping (Request, Context) async throws -> Response) {
        self.respond = respond
    }
}
