import Agents
import Fleet
import FleetSupport
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import Providers

/// A compatible endpoint's streamed answer, relayed in the client's dialect.
///
/// The status is held until the answer's first text (or its end, or its failure) is known: a
/// failure before any output (a provider's 429 when no fallback could serve, a budget refusal)
/// is answered with the dialect's error status, so the client's SDK raises its own exception
/// type, exactly as for an unstreamed request. Retries and fallbacks all happen before output,
/// so this costs no time the client would not wait anyway. From then on it is `POST /v1/tasks`'
/// relay: each awaited write is the client's backpressure, a client that leaves cancels the run
/// (the provider call stops, the cost reservation is released), `fleet.taskTimeout` holds, and
/// the task is recorded and counted in the metrics.
struct CompatStream {
    let manager: FleetManager
    let metrics: FleetMetrics
    let dialect: CompatDialect
    let defaultRetryAfter: Int

    func respond(_ task: AgentTask, call: CompatCall, context: FleetRequestContext) async throws -> Response {
        let logger = context.logger
        let disconnect = context.disconnect
        let manager = self.manager, metrics = self.metrics
        let dispatched = try await dispatch(task, disconnect: disconnect)
        let lease = AgentLease(dispatched)
        let timeout = Duration.milliseconds(await manager.config.fleet.taskTimeout)
        let timedOut = TimeoutFlag()
        let timer = LoopTimer.after(timeout) {
            timedOut.set()
            dispatched.cancel()
        }
        let token = disconnect?.onDisconnect { dispatched.cancel() }
        let handoff = RunHandoff(dispatched.run.makeAsyncIterator())
        let started = ContinuousClock.now

        // Until the first text, the end, or a failure: the status depends on it.
        var head: [TaskEvent] = []
        var start: TaskStart?
        var failure: TaskFailure?
        reading: while let event = await handoff.iterator.next() {
            switch event {
            case .start(let value): start = value
            case .progress, .toolCall, .toolResult: continue // fleetd's own tool rounds stay inside the answer
            case .error(let value) where !value.terminal: continue
            case .error(let value):
                failure = value
                break reading
            case .chunk, .complete:
                head.append(event)
                break reading
            }
        }
        if head.isEmpty {
            timer.cancel()
            if let token { disconnect?.remove(token) }
            let ended = failure ?? (timedOut.isSet
                ? TaskFailure(code: .taskTimeout, message: "task \(task.id) ran longer than fleet.taskTimeout (\(timeout))")
                : TaskFailure(code: .taskCancelled, message: "the client went away"))
            await lease.finish()
            await manager.record(task.id, .failure(ended))
            metrics.taskFailed(code: ended.code)
            var error = CompatError(dialect, failure: ended, defaultRetryAfter: defaultRetryAfter)
            error.headers[HTTPField.Name("x-fleetd-task-id")!] = task.id
            throw error
        }
        if head.contains(where: { if case .chunk = $0 { return true } else { return false } }) {
            metrics.timeToFirstChunk(ContinuousClock.now - started)
        }

        let facts = CompatFacts(taskId: task.id, start: start)
        let firstEvents = head
        let created = Int(Date().timeIntervalSince1970)
        let dialect = self.dialect, defaultRetryAfter = self.defaultRetryAfter
        let executor = context.taskExecutor
        let body = ResponseBody { writer in try await ExecutorAffinity.run(on: executor) {
            metrics.live.streamOpened()
            defer { metrics.live.streamClosed() }
            var stream: any CompatStreamWriter = switch dialect {
            case .openAI: OpenAIChatResponse.Stream(taskId: task.id, created: created, model: facts.model, includeUsage: call.includeUsage)
            case .anthropic: AnthropicMessagesResponse.Stream(taskId: task.id, model: facts.model,
                                                              estimatedInputTokens: call.request.approximateInputTokens)
            }
            var outcome: Result<TaskResult, TaskFailure> = .failure(TaskFailure(code: .taskCancelled, message: "the client went away"))
            defer {
                timer.cancel()
                if let token { disconnect?.remove(token) }
            }
            do {
                var pending = ByteBuffer()
                stream.begin(into: &pending)
                var queued = firstEvents[...]
                while true {
                    var event: TaskEvent
                    if let next = queued.popFirst() {
                        event = next
                    } else if let next = await handoff.iterator.next() {
                        event = next
                    } else {
                        break
                    }
                    while true {
                        switch event {
                        case .chunk(let chunk): stream.text(chunk.text, into: &pending)
                        case .complete(let result):
                            outcome = .success(result)
                            stream.finish(CompatAnswer(result), into: &pending)
                        case .error(let failure) where failure.terminal:
                            outcome = .failure(failure)
                            stream.fail(CompatError(dialect, failure: failure, defaultRetryAfter: defaultRetryAfter), into: &pending)
                        case .start, .progress, .toolCall, .toolResult, .error: break
                        }
                        if let next = queued.popFirst() {
                            event = next
                        } else if let ready = await handoff.iterator.nextIfReady() {
                            event = ready
                        } else {
                            break
                        }
                    }
                    try await writer.write(pending)
                    pending.clear()
                }
                if timedOut.isSet, case .failure = outcome {
                    let failure = TaskFailure(code: .taskTimeout, message: "task \(task.id) ran longer than fleet.taskTimeout (\(timeout))")
                    outcome = .failure(failure)
                    stream.fail(CompatError(dialect, failure: failure, defaultRetryAfter: defaultRetryAfter), into: &pending)
                    try await writer.write(pending)
                }
                try await writer.finish(nil)
            } catch {
                dispatched.cancel()
                logger.info("compatible stream's client went away; the task is cancelled", metadata: ["task": "\(task.id)"])
            }
            await lease.finish()
            await manager.record(task.id, outcome)
            switch outcome {
            case .success(let result): metrics.taskFinished(result)
            case .failure(let failure): metrics.taskFailed(code: failure.code)
            }
        } }
        var headers: HTTPFields = [.contentType: "text/event-stream", .cacheControl: "no-cache"]
        for (name, value) in facts.headers { headers[HTTPField.Name(name)!] = value }
        return Response(status: .ok, headers: headers, body: body)
    }

    /// Waits for an agent; a client that leaves meanwhile cancels the wait.
    private func dispatch(_ task: AgentTask, disconnect: ClientDisconnect?) async throws -> FleetManager.Dispatched {
        let manager = self.manager
        let waiting = Task { () async -> Result<FleetManager.Dispatched, TaskFailure> in
            do throws(TaskFailure) { return .success(try await manager.dispatch(task)) } catch { return .failure(error) }
        }
        let waitToken = disconnect?.onDisconnect { waiting.cancel() }
        let waited = await waiting.value
        if let waitToken { disconnect?.remove(waitToken) }
        switch waited {
        case .success(let dispatched):
            return dispatched
        case .failure(let failure):
            metrics.taskFailed(code: failure.code)
            var error = CompatError(dialect, failure: failure, defaultRetryAfter: defaultRetryAfter)
            error.headers[HTTPField.Name("x-fleetd-task-id")!] = task.id
            throw error
        }
    }
}

