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
/// stream"). The cost is one child task per request. It wraps the whole router (it is the
/// application's responder), so that the router's own frames and every middleware's run in the
/// child too: as the first middleware, the router's frames above it (about 2.5 KB, four slabs of
/// the task allocator) stayed in the connection's task.
///
/// The child prefers the connection's event loop (``EventLoopTaskExecutor``), and so does every
/// task it starts through ``ExecutorAffinity``: the whole request, its middlewares and the actors
/// it calls, runs on that loop's thread. Hummingbird runs a connection's task on Swift's global
/// pool; a child started from it without a preference ran there too, and each hop between the
/// pool and the loop woke a thread (docs/performance.md, "Tasks kept on their loop").
struct RequestPhaseResponder<Inner: HTTPResponder>: HTTPResponder where Inner.Context == FleetRequestContext {
    let inner: Inner

    func respond(to request: Request, context: FleetRequestContext) async throws -> Response {
        let executor = context.taskExecutor
        let inner = self.inner
        return try await withThrowingTaskGroup(of: Response.self) { group in
            group.addTask(executorPreference: executor) {
                try await ExecutorAffinity.$preferred.withValue(executor) { try await inner.respond(to: request, context: context) }
            }
            // The child returns a response or throws, so `next()` gives exactly one.
            return try await group.next()!
        }
    }
}
