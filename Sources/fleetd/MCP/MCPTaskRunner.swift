import Agents
import Fleet
import Foundation
import FleetSupport
import Synchronization

/// Runs one task for an MCP `run_task` call: the same dispatch, timeout and bookkeeping as an SSE
/// `POST /v1/tasks`, with each chunk handed to `onChunk` (which sends it as a progress
/// notification). Cancelling the calling Swift task (MCP `notifications/cancelled`) cancels the
/// run and its provider call; what the provider accepted is still billed.
struct MCPTaskRunner {
    let manager: FleetManager
    let metrics: FleetMetrics
    /// The session's running calls: ending the session cancels this run too.
    var running: MCPRunningCalls? = nil

    func run(_ task: AgentTask, onChunk: @Sendable (_ text: String, _ sequence: Int) async -> Void) async throws -> Result<TaskResult, TaskFailure> {
        let timeout = Duration.milliseconds(await manager.config.fleet.taskTimeout)
        let dispatched: FleetManager.Dispatched
        do {
            dispatched = try await manager.dispatch(task, timeLimit: timeout)
        } catch {
            metrics.taskFailed(code: error.code)
            return .failure(error)
        }
        let lease = AgentLease(dispatched)
        let registration = running?.add { dispatched.cancel() }
        defer { if let registration { running?.remove(registration) } }
        let timedOut = TimeoutFlag()
        let timer = LoopTimer.after(timeout) {
            timedOut.set()
            dispatched.cancel()
        }
        defer { timer.cancel() }
        var outcome: Result<TaskResult, TaskFailure> = .failure(TaskFailure(code: .taskCancelled, message: "the MCP client cancelled the task"))
        await withTaskCancellationHandler {
            var sequence = 0
            for await event in dispatched.run {
                if case .chunk(let chunk) = event {
                    await onChunk(chunk.text, sequence)
                    sequence += 1
                }
                if let end = event.outcome { outcome = end }
            }
        } onCancel: {
            dispatched.cancel()
        }
        if timedOut.isSet {
            outcome = .failure(.timedOut(taskId: task.id, after: timeout))
        }
        await lease.finish()
        await manager.record(task, outcome)
        metrics.taskEnded(outcome)
        if Task.isCancelled { throw CancellationError() }
        return outcome
    }
}

/// The tasks an MCP session's tool calls are running. A session that ends (the client's
/// `DELETE`, an hour idle, stdin closed) cancels them: a task nobody can receive any more stops
/// its provider call and gives its agent back, rather than running to `fleet.taskTimeout`.
/// (The MCP SDK runs each request in a task of its own that stopping the server does not cancel.)
final class MCPRunningCalls: Sendable {
    private struct State {
        var cancels: [Int: @Sendable () -> Void] = [:]
        var next = 0
        var ended = false
    }

    private let state = Mutex(State())

    /// Registers a run's cancel; called at once when the session has already ended.
    func add(_ cancel: @escaping @Sendable () -> Void) -> Int {
        let (token, ended) = state.withLock { state -> (Int, Bool) in
            state.next += 1
            if !state.ended { state.cancels[state.next] = cancel }
            return (state.next, state.ended)
        }
        if ended { cancel() }
        return token
    }

    func remove(_ token: Int) {
        state.withLock { _ = $0.cancels.removeValue(forKey: token) }
    }

    /// Ends the session's runs, and any that start later.
    func cancelAll() {
        let cancels = state.withLock { state -> [@Sendable () -> Void] in
            state.ended = true
            defer { state.cancels = [:] }
            return Array(state.cancels.values)
        }
        for cancel in cancels { cancel() }
    }

    var count: Int { state.withLock { $0.cancels.count } }
}
