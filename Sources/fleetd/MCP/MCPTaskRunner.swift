import Agents
import Fleet
import Foundation
import FleetSupport

/// Runs one task for an MCP `run_task` call: the same dispatch, timeout and bookkeeping as an SSE
/// `POST /v1/tasks`, with each chunk handed to `onChunk` (which sends it as a progress
/// notification). Cancelling the calling Swift task (MCP `notifications/cancelled`) cancels the
/// run and its provider call; what the provider accepted is still billed.
struct MCPTaskRunner {
    let manager: FleetManager
    let metrics: FleetMetrics

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
