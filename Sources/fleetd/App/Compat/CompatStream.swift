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
/// The status is held until the answer's first output (text or thinking), its end, or its failure is known: a
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
    /// Keeps a completed answer (a Responses API answer made with `store`) before its end is told.
    var keep: (@Sendable (TaskResult) async -> Void)? = nil

    func respond(_ task: AgentTask, call: CompatCall, context: FleetRequestContext) async throws -> Response {
        let timeout = Duration.milliseconds(await manager.config.fleet.taskTimeout)
        let dispatched = try await dispatch(task, timeLimit: timeout, disconnect: context.disconnect)
        let lease = AgentLease(dispatched)
        let watch = StreamWatch(timeout: timeout, dispatched: dispatched, disconnect: context.disconnect, drain: metrics.drain)
        let handoff = RunHandoff(dispatched.run.makeAsyncIterator())
        let started = ContinuousClock.now

        // Until the first text, the end, or a failure: the status depends on it. This runs in
        // the request's task, whose frames are freed before the body runs (``RequestPhaseResponder``).
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
            case .chunk, .thinking, .complete:
                head.append(event)
                break reading
            }
        }
        if head.isEmpty {
            watch.end()
            let ended = failure ?? (watch.timedOut.isSet ? .timedOut(taskId: task.id, after: timeout)
                                    : watch.cutByDrain.isSet ? DrainDeadline.failure
                                    : ToldOutcome.clientLeft)
            await lease.finish()
            await manager.record(task, .failure(ended))
            metrics.taskFailed(code: ended.code)
            var error = CompatError(dialect, failure: ended, defaultRetryAfter: defaultRetryAfter)
            error.headers[HTTPField.Name("x-fleetd-task-id")!] = task.id
            throw error
        }
        if head.contains(where: { if case .complete = $0 { return false } else { return true } }) {
            metrics.timeToFirstChunk(ContinuousClock.now - started)
        }

        let facts = CompatFacts(taskId: task.id, start: start)
        let writer: any CompatStreamWriter = switch dialect {
        case .openAI: OpenAIChatResponse.Stream(taskId: task.id, created: Int(Date().timeIntervalSince1970), model: facts.model,
                                                includeUsage: call.includeUsage)
        case .anthropic: AnthropicMessagesResponse.Stream(taskId: task.id, model: facts.model,
                                                          estimatedInputTokens: call.request.approximateInputTokens)
        case .responses: ResponsesResponse.Stream(taskId: task.id, created: Int(Date().timeIntervalSince1970), model: facts.model,
                                                  echo: call.echo)
        }
        let stream = CompatSSEStream(dispatched: dispatched, lease: lease, watch: watch, head: head, events: handoff, writer: writer,
                                     end: CompatSSEStream.Ending(dialect: dialect, defaultRetryAfter: defaultRetryAfter, timeout: timeout),
                                     keep: keep, manager: manager, metrics: metrics, executor: context.taskExecutor, logger: context.logger)
        var headers: HTTPFields = [.contentType: "text/event-stream", .cacheControl: "no-cache"]
        for (name, value) in facts.headers { headers[HTTPField.Name(name)!] = value }
        return Response(status: .ok, headers: headers, body: ResponseBody { writer in try await stream.write(to: &writer) })
    }

    /// Waits for an agent; a client that leaves meanwhile cancels the wait. The run gets the
    /// task's time limit, as `POST /v1/tasks`' runs do: no retry waits past it, tool rounds stop
    /// at it.
    private func dispatch(_ task: AgentTask, timeLimit: Duration, disconnect: ClientDisconnect?) async throws -> FleetManager.Dispatched {
        let manager = self.manager
        let waiting = ExecutorAffinity.task { () async -> Result<FleetManager.Dispatched, TaskFailure> in
            do throws(TaskFailure) { return .success(try await manager.dispatch(task, timeLimit: timeLimit)) } catch { return .failure(error) }
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

/// A compatible endpoint's streamed body once its head is known: relays the run's events in the
/// dialect (``CompatRelay``), ends it on `fleet.taskTimeout` or when the client leaves, gives the
/// agent back and records the task.
///
/// A class with one small async method, as ``SSEStream`` is for `POST /v1/tasks`: the body runs
/// in the connection's task for as long as the stream is open, and the closure it replaces held
/// all of this in its async frame (docs/performance.md, "Memory per open stream").
final class CompatSSEStream: Sendable {
    /// How a failure is told in the dialect, and the task's time limit.
    struct Ending: Sendable {
        let dialect: CompatDialect
        let defaultRetryAfter: Int
        let timeout: Duration

        func error(_ failure: TaskFailure) -> CompatError {
            CompatError(dialect, failure: failure, defaultRetryAfter: defaultRetryAfter)
        }
    }

    private let dispatched: FleetManager.Dispatched
    private let lease: AgentLease
    private let watch: StreamWatch
    private let opening: Opening
    private let events: RunHandoff
    private let end: Ending
    private let keep: (@Sendable (TaskResult) async -> Void)?
    private let manager: FleetManager
    private let metrics: FleetMetrics
    private let executor: EventLoopTaskExecutor?
    private let logger: Logger

    init(dispatched: FleetManager.Dispatched, lease: AgentLease, watch: StreamWatch, head: [TaskEvent], events: RunHandoff,
         writer: any CompatStreamWriter, end: Ending, keep: (@Sendable (TaskResult) async -> Void)?, manager: FleetManager,
         metrics: FleetMetrics, executor: EventLoopTaskExecutor?, logger: Logger) {
        self.dispatched = dispatched
        self.lease = lease
        self.watch = watch
        self.opening = Opening(writer: writer, head: head)
        self.events = events
        self.end = end
        self.keep = keep
        self.manager = manager
        self.metrics = metrics
        self.executor = executor
        self.logger = logger
    }

    @inline(never)
    func write(to writer: inout any ResponseBodyWriter) async throws {
        try await ExecutorAffinity.run(on: executor) { try await relay(to: &writer) }
    }

    /// The stream's whole life is spent in here, so its frame holds only what crosses an `await`
    /// and the rest is out of line.
    @inline(never)
    private func relay(to writer: inout any ResponseBodyWriter) async throws {
        let relay = opened()
        var clientLeft = false
        do {
            try await relay.run(events, to: &writer)
            if watch.timedOut.isSet {
                try await relay.timedOut(taskId: dispatched.run.task.id, to: &writer)
            } else if watch.cutByDrain.isSet {
                try await relay.cut(DrainDeadline.failure, to: &writer)
            }
            try await writer.finish(nil)
        } catch {
            clientLeft = true
        }
        closed(clientLeft: clientLeft)
        await finish(relay)
    }

    @inline(never)
    private func opened() -> CompatRelay {
        metrics.live.streamOpened()
        let (writer, head) = opening.take()
        let relay = CompatRelay(writer, end: end, keep: keep)
        relay.begin(head)
        return relay
    }

    /// The dialect's writer and the events the handler read before answering, until the body
    /// takes them (once) into its relay: let go then, so an open stream keeps one writer, the
    /// relay's, and not the head events.
    ///
    /// `@unchecked Sendable`, and why that is safe: as for ``RunHandoff``, the handler builds it and
    /// is done with it before it returns the response whose body takes its parts, once; the two
    /// never touch it at the same time.
    final class Opening: @unchecked Sendable {
        private var parts: (writer: any CompatStreamWriter, head: [TaskEvent])?

        init(writer: any CompatStreamWriter, head: [TaskEvent]) {
            parts = (writer, head)
        }

        func take() -> (writer: any CompatStreamWriter, head: [TaskEvent]) {
            defer { parts = nil }
            return parts!
        }
    }

    /// The agent goes back, the task is recorded and counted.
    @inline(never)
    private func finish(_ relay: CompatRelay) async {
        await lease.finish()
        await manager.record(dispatched.run.task, relay.outcome)
        metrics.taskEnded(relay.outcome)
    }

    @inline(never)
    private func closed(clientLeft: Bool) {
        watch.end()
        metrics.live.streamClosed()
        if clientLeft {
            dispatched.cancel()
            if !watch.cutByDrain.isSet {
                logger.info("compatible stream's client went away; the task is cancelled", metadata: ["task": "\(dispatched.run.task.id)"])
            }
        }
    }
}

/// One compatible SSE response's relay: each batch of ready events goes out in one write, in the
/// dialect's events (``CompatStreamWriter``); each awaited write is the client's backpressure.
final class CompatRelay {
    private var stream: any CompatStreamWriter
    private let end: CompatSSEStream.Ending
    private let keep: (@Sendable (TaskResult) async -> Void)?
    private var kept = false
    /// The write being built; let go once written, as ``SSERelay``'s is.
    private var pending = ByteBuffer()
    /// How the task ended, as the client was told (a client that left: cancelled).
    var outcome: Result<TaskResult, TaskFailure> {
        get { told.value }
        set { told.value = newValue }
    }
    private var told = ToldOutcome()

    init(_ stream: any CompatStreamWriter, end: CompatSSEStream.Ending, keep: (@Sendable (TaskResult) async -> Void)? = nil) {
        self.stream = stream
        self.end = end
        self.keep = keep
    }

    /// The rest of the run, after ``begin(_:)``.
    @inline(never)
    func run(_ events: RunHandoff, to writer: inout any ResponseBodyWriter) async throws {
        while true {
            while let ready = await events.iterator.nextIfReady() {
                append(ready)
            }
            if pending.readableBytes > 0 {
                // A kept answer is kept before its end is told: the client may continue it at once.
                if keep != nil, !kept, answered { await keepAnswer() }
                try await writer.write(pending)
                pending = ByteBuffer()
            }
            guard let next = await events.iterator.next() else { return }
            append(next)
        }
    }

    /// Whether the task's answer is in (read out of line: the result is large, and matching it
    /// here copied it into the frame).
    private var answered: Bool {
        @inline(never) get {
            told.answered
        }
    }

    /// Keeps the answer (`/v1/responses`' `store`). Out of line: a task's result is large, and
    /// in ``run(head:then:to:)`` its copies made a 2 KB frame that an open stream kept.
    @inline(never)
    private func keepAnswer() async {
        guard let keep, !kept, case .success(let result) = outcome else { return }
        kept = true
        await keep(result)
    }

    /// The task ran past `fleet.taskTimeout` before it ended: the client gets the dialect's error.
    @inline(never)
    func timedOut(taskId: String, to writer: inout any ResponseBodyWriter) async throws {
        guard case .failure = outcome else { return }
        let failure = TaskFailure.timedOut(taskId: taskId, after: end.timeout)
        outcome = .failure(failure)
        pending.clear()
        stream.fail(end.error(failure), into: &pending)
        try await writer.write(pending)
    }

    /// SIGTERM's drain deadline cut the stream before it ended: the client gets the dialect's error.
    @inline(never)
    func cut(_ failure: TaskFailure, to writer: inout any ResponseBodyWriter) async throws {
        guard case .failure = outcome else { return }
        outcome = .failure(failure)
        pending.clear()
        stream.fail(end.error(failure), into: &pending)
        try await writer.write(pending)
    }

    /// The dialect's opening and the head the route read.
    @inline(never)
    func begin(_ head: [TaskEvent]) {
        stream.begin(into: &pending)
        for event in head { append(event) }
    }

    @inline(never)
    private func append(_ event: TaskEvent) {
        switch event {
        case .chunk(let chunk):
            stream.text(chunk.text, into: &pending)
        case .thinking(let delta):
            stream.thinking(delta, into: &pending)
        case .complete(let result):
            outcome = .success(result)
            stream.finish(CompatAnswer(result), into: &pending)
        case .error(let failure) where failure.terminal:
            outcome = .failure(failure)
            stream.fail(end.error(failure), into: &pending)
        case .start, .progress, .toolCall, .toolResult, .error:
            break
        }
    }
}
