import Agents
import Fleet
import FleetSupport
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import Routing
import Synchronization

/// `POST /v1/tasks` (one JSON result, or SSE events), `GET /v1/tasks/{id}`, `POST /v1/route`.
struct TaskRoutes {
    let manager: FleetManager
    let metrics: FleetMetrics
    /// `api.maxBodyBytes` and the rest of the live `api` section (a reload applies at once).
    let api: LiveSetting<APISection>

    func register(_ router: some RouterMethods<FleetRequestContext>) {
        router.post("v1/tasks") { request, context -> Response in
            try await task(request, context: context)
        }
        router.get("v1/tasks/:id") { request, context -> Response in
            let id = try context.parameters.require("id")
            return try jsonResponse(try await manager.visibleRecord(id, to: context.caller, tenant: request.uri.queryParameters["tenant"].map(String.init)))
        }
        router.post("v1/route") { request, context -> Response in
            var request = request
            let body = try TaskRequest(json: await JSONBody.decodeValue(from: &request, limit: api.value.maxBodyBytes))
            let task = try body.task().authorized(by: context.caller?.taskCaller)
            // An agent type or model the caller may not use is refused as `POST /v1/tasks` refuses it (403).
            if let refusal = await manager.callerRefusal(task) { throw APIError(task: refusal) }
            let selection: ModelSelection
            do throws(RouterError) {
                selection = try await manager.explainRoute(task)
            } catch {
                throw APIError(task: await manager.routeFailure(task, error))
            }
            return Response(status: .ok, headers: [.contentType: "application/json"],
                            body: .init(byteBuffer: ByteBuffer(string: try SelectionRenderer.json(selection, pretty: false))))
        }
    }

    /// `POST /v1/tasks`, on the connection's event loop (``RequestPhaseResponder`` runs every
    /// request there, and its unstructured tasks through ``ExecutorAffinity``).
    private func task(_ request: Request, context: FleetRequestContext) async throws -> Response {
        var request = request
        let body = try TaskRequest(json: await JSONBody.decodeValue(from: &request, limit: api.value.maxBodyBytes))
        var task = try body.task().authorized(by: context.caller?.taskCaller)
        let wantsSSE = request.headers[.accept]?.contains("text/event-stream") == true
        task.stream = task.stream || wantsSSE
        task.cachePolicy = CachePolicy(cacheControl: request.headers[.cacheControl])
        if task.stream, task.subtasks?.isEmpty ?? true {
            return try await stream(task, request: request, context: context)
        }
        let result: TaskResult
        do throws(TaskFailure) {
            result = try await context.disconnect.whileConnected { cancellation async throws(TaskFailure) in
                try await manager.execute(task, cancellation: cancellation)
            }
        } catch {
            metrics.taskFailed(code: error.code)
            throw APIError(task: error)
        }
        metrics.taskFinished(result)
        var response = jsonResponse(bytes: try TaskEventJSON.bytes(of: result))
        if let cache = result.cache { response.headers[HTTPField.Name("x-fleetd-cache")!] = cache }
        return response
    }

    /// SSE: `start`, `chunk`, `progress`, `error`, `complete`. Each awaited write is the client's
    /// backpressure: a slow reader slows the provider read. A client that goes away (seen by
    /// ``ClientDisconnect`` even while nothing is written, or by a failed write) cancels the run:
    /// the provider call stops and the cost reservation is released. The connection stays open
    /// for the client's next request.
    private func stream(_ task: AgentTask, request: Request, context: FleetRequestContext) async throws -> Response {
        let logger = context.logger
        let executor = context.taskExecutor
        let disconnect = context.disconnect
        let manager = self.manager
        let metrics = self.metrics
        let timeout = Duration.milliseconds(await manager.config.fleet.taskTimeout)
        // Waiting for an agent: a client that leaves meanwhile cancels the wait.
        let waiting = ExecutorAffinity.task { () async -> Result<FleetManager.Dispatched, TaskFailure> in
            do throws(TaskFailure) { return .success(try await manager.dispatch(task, timeLimit: timeout)) } catch { return .failure(error) }
        }
        let waitToken = disconnect?.onDisconnect { waiting.cancel() }
        let waited = await waiting.value
        if let waitToken { disconnect?.remove(waitToken) }
        let dispatched: FleetManager.Dispatched
        switch waited {
        case .success(let value):
            dispatched = value
        case .failure(let failure):
            metrics.taskFailed(code: failure.code)
            throw APIError(task: failure)
        }
        // The agent goes back exactly once: when the stream ends, or, should the response body
        // never run (the connection closed before it started), when the lease is dropped.
        let lease = AgentLease(dispatched)
        // Routing and the call's start happen here, in the request's task, whose frames are freed
        // before the body runs for the stream's whole life (``RequestPhaseResponder``).
        let handoff = RunHandoff(dispatched.run.makeAsyncIterator())
        await handoff.iterator.start()
        let stream = SSEStream(dispatched: dispatched, lease: lease, events: handoff, manager: manager, metrics: metrics,
                               timeout: timeout, disconnect: disconnect, executor: executor, logger: logger)
        let body = ResponseBody { writer in try await stream.write(to: &writer) }
        return Response(status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-cache"], body: body)
    }
}

/// A streamed task's response body: relays the run's events (``SSERelay``), ends it on
/// `fleet.taskTimeout` or when the client leaves, gives the agent back and records the task.
///
/// A class with one small async method, not a closure: the body runs in the connection's task for
/// as long as the stream is open, and a closure holding all of this took a 6 KB async frame
/// (docs/performance.md, "Memory per open stream").
final class SSEStream: Sendable {
    private let dispatched: FleetManager.Dispatched
    private let lease: AgentLease
    private let events: RunHandoff
    private let manager: FleetManager
    private let metrics: FleetMetrics
    private let timeout: Duration
    private let disconnect: ClientDisconnect?
    private let executor: EventLoopTaskExecutor?
    private let logger: Logger

    init(dispatched: FleetManager.Dispatched, lease: AgentLease, events: RunHandoff, manager: FleetManager, metrics: FleetMetrics,
         timeout: Duration, disconnect: ClientDisconnect?, executor: EventLoopTaskExecutor?, logger: Logger) {
        self.dispatched = dispatched
        self.lease = lease
        self.events = events
        self.manager = manager
        self.metrics = metrics
        self.timeout = timeout
        self.disconnect = disconnect
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
        let watch = opened()
        let relay = SSERelay(metrics: metrics)
        var clientLeft = false
        do {
            try await relay.run(events, to: &writer)
            if watch.timedOut.isSet {
                try await relay.timedOut(taskID: dispatched.run.task.id, after: timeout, to: &writer)
            } else if watch.cutByDrain.isSet {
                try await relay.cut(DrainDeadline.failure, to: &writer)
            }
            try await writer.finish(nil)
        } catch {
            clientLeft = true
        }
        closed(watch, clientLeft: clientLeft)
        await finish(relay)
    }

    @inline(never)
    private func opened() -> StreamWatch {
        metrics.live.streamOpened()
        return StreamWatch(timeout: timeout, dispatched: dispatched, disconnect: disconnect, drain: metrics.drain)
    }

    @inline(never)
    private func closed(_ watch: StreamWatch, clientLeft: Bool) {
        watch.end()
        metrics.live.streamClosed()
        if clientLeft {
            dispatched.cancel()
            // A stream the drain deadline cut is logged once for all (``DrainNoticeService``).
            if !watch.cutByDrain.isSet {
                logger.info("SSE client went away; the task is cancelled", metadata: ["task": "\(dispatched.run.task.id)"])
            }
        }
    }

    /// The agent goes back, the task is recorded and counted.
    @inline(never)
    private func finish(_ relay: SSERelay) async {
        await lease.finish()
        await manager.record(dispatched.run.task, relay.outcome)
        metrics.taskEnded(relay.outcome)
    }
}

/// What watches an open stream: the client's disconnect, `fleet.taskTimeout` and SIGTERM's drain
/// deadline, any of which cancels the run, until ``end()``.
final class StreamWatch: Sendable {
    let timedOut = TimeoutFlag()
    /// The drain deadline passed while the stream was open.
    let cutByDrain = TimeoutFlag()
    private let timer: LoopTimer
    private let disconnect: ClientDisconnect?
    private let token: Int?
    private let drain: DrainDeadline?
    private let drainToken: Int?

    init(timeout: Duration, dispatched: FleetManager.Dispatched, disconnect: ClientDisconnect?, drain: DrainDeadline? = nil) {
        let timedOut = self.timedOut
        // `fleet.taskTimeout` holds for streamed tasks as for JSON ones.
        timer = LoopTimer.after(timeout) {
            timedOut.set()
            dispatched.cancel()
        }
        self.disconnect = disconnect
        token = disconnect?.onDisconnect { dispatched.cancel() }
        self.drain = drain
        let cutByDrain = self.cutByDrain
        drainToken = drain?.register {
            cutByDrain.set()
            dispatched.cancel()
        }
    }

    func end() {
        timer.cancel()
        if let token { disconnect?.remove(token) }
        if let drainToken { drain?.remove(drainToken) }
    }
}

/// One SSE response's relay of a task's events: every event already produced goes out in one
/// write (the upstream often delivers several chunks in one read); waiting for the next one never
/// delays what is ready. Each awaited write is the client's backpressure.
///
/// A class with small async methods and the per-event work in a synchronous, non-inlined method:
/// an open stream holds its task's async frames for as long as it lasts (docs/performance.md,
/// "Memory per open stream"), so the encoding's temporaries are kept out of them (`run`'s frame
/// is 688 bytes).
final class SSERelay {
    private let metrics: FleetMetrics
    private let started = ContinuousClock.now
    private var sawFirstChunk = false
    /// The write being built. Let go once written (the next write starts a buffer of its own): kept
    /// and cleared, it held its capacity (512 bytes and more) beside every open stream while the
    /// next event was awaited, and clearing it while the channel still held the bytes copied it.
    private var pending = ByteBuffer()
    private var told = ToldOutcome()
    /// How the task ended, as the client was told (a client that left: cancelled).
    var outcome: Result<TaskResult, TaskFailure> {
        get { told.value }
        set { told.value = newValue }
    }

    init(metrics: FleetMetrics) {
        self.metrics = metrics
    }

    @inline(never)
    func run(_ events: RunHandoff, to writer: inout any ResponseBodyWriter) async throws {
        while let first = await events.iterator.next() {
            try append(first)
            while let ready = await events.iterator.nextIfReady() {
                try append(ready)
            }
            try await writer.write(pending)
            pending = ByteBuffer()
        }
    }

    /// Whether the run's own last event (`complete` or `error`) went out.
    private var ended = false

    /// The task ran past `fleet.taskTimeout`: the client gets a TASK_TIMEOUT error event, unless
    /// the run had ended already (the timer fired while its `complete` waited for the settlement):
    /// then the task stays what it was, and no second last event follows.
    @inline(never)
    func timedOut(taskID: String, after timeout: Duration, to writer: inout any ResponseBodyWriter) async throws {
        guard !ended else { return }
        let failure = TaskFailure.timedOut(taskId: taskID, after: timeout)
        outcome = .failure(failure)
        pending.clear()
        SSEEncoder.write(event: "error", data: try TaskEvent.error(failure).jsonBytes(), into: &pending)
        try await writer.write(pending)
    }

    /// SIGTERM's drain deadline cut the stream: the client gets `failure` as its last event,
    /// unless the run had ended already.
    @inline(never)
    func cut(_ failure: TaskFailure, to writer: inout any ResponseBodyWriter) async throws {
        guard !ended else { return }
        outcome = .failure(failure)
        pending.clear()
        SSEEncoder.write(event: "error", data: try TaskEvent.error(failure).jsonBytes(), into: &pending)
        try await writer.write(pending)
    }

    @inline(never)
    private func append(_ event: TaskEvent) throws {
        if case .chunk = event, !sawFirstChunk {
            sawFirstChunk = true
            metrics.timeToFirstChunk(ContinuousClock.now - started)
        }
        if let end = event.outcome {
            outcome = end
            ended = true
        }
        SSEEncoder.write(event: event.name, data: try event.jsonBytes(), into: &pending)
    }
}

/// How a streamed task ended, as its client was told; until told, cancelled (the client left).
/// Held by reference once set: a task's result is large, and inline it was part of every open
/// stream's relay (``SSERelay``, ``CompatRelay``).
struct ToldOutcome {
    static let clientLeft = TaskFailure(code: .taskCancelled, message: "the client went away")
    private var ending: Indirect<Result<TaskResult, TaskFailure>>?

    var value: Result<TaskResult, TaskFailure> {
        get { ending?.value ?? .failure(Self.clientLeft) }
        set { ending = Indirect(newValue) }
    }

    /// Whether the task's answer was told.
    var answered: Bool {
        if case .success? = ending?.value { return true }
        return false
    }
}

/// Every JSON body fleetd answers: ISO 8601 dates, members in declaration order, map keys sorted
/// (``FastJSONEncoder``, hand-written because Foundation's encoder cost too much CPU per task:
/// see docs/performance.md).
func jsonResponse(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
    jsonResponse(bytes: try FastJSONEncoder().encode(value), status: status)
}

/// A response of JSON already written.
func jsonResponse(bytes: [UInt8], status: HTTPResponse.Status = .ok) -> Response {
    Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
}

extension TaskEvent {
    /// The event's payload as one line of JSON.
    func jsonBytes() throws -> [UInt8] {
        let encoder = FastJSONEncoder()
        switch self {
        case .start(let start): return try TaskEventJSON.bytes(of: start)
        case .chunk(let chunk): return TaskEventJSON.chunk(chunk)
        case .thinking(let delta): return try encoder.encode(delta)
        case .progress(let progress): return try encoder.encode(progress)
        case .toolCall(let call): return try encoder.encode(call)
        case .toolResult(let result): return try encoder.encode(result)
        case .error(let failure): return try encoder.encode(failure)
        case .complete(let result): return try TaskEventJSON.bytes(of: result)
        }
    }
}

extension APIError {
    /// The HTTP status for a task failure's code.
    init(task failure: TaskFailure) {
        self.init(HTTPResponse.Status(code: failure.code.httpStatus), code: failure.code.rawValue, message: failure.message,
                  field: failure.code.field)
        if let seconds = failure.retryAfterSeconds {
            headers[.retryAfter] = String(seconds)
        }
    }
}

/// The agent a streamed task holds: given back once, by ``finish()`` or, if the response body
/// never ran, when the last reference goes.
final class AgentLease: Sendable {
    private let dispatched: FleetManager.Dispatched
    private let returned = Mutex(false)

    init(_ dispatched: FleetManager.Dispatched) {
        self.dispatched = dispatched
    }

    func finish() async {
        guard returned.withLock({ done in defer { done = true }; return !done }) else { return }
        await dispatched.finish()
    }

    deinit {
        guard !returned.withLock({ $0 }) else { return }
        let dispatched = self.dispatched
        dispatched.cancel()
        ExecutorAffinity.task { await dispatched.finish() }
    }
}

/// A task run's iterator, handed from the route handler (which starts the run, and for a
/// compatible endpoint reads up to the first text) to the response body (which relays the rest).
/// `@unchecked Sendable` because the iterator is not: the two never use it at once — the handler
/// is done with it before it returns the response whose body takes it over.
final class RunHandoff: @unchecked Sendable {
    var iterator: TaskRun.Iterator

    init(_ iterator: TaskRun.Iterator) {
        self.iterator = iterator
    }
}

/// Set once by the task-timeout timer, read by the stream's writer.
final class TimeoutFlag: Sendable {
    private let value = Mutex(false)
    func set() { value.withLock { $0 = true } }
    var isSet: Bool { value.withLock { $0 } }
}

extension CachePolicy {
    /// From a request's `cache-control`: `no-store` bypasses the response cache, `no-cache` asks
    /// the model and stores its answer, anything else (or none) uses it.
    /// Read without Foundation: trimming with its `CharacterSet`, on every task even with no
    /// header, was 0.5% of a JSON task's CPU in a profile of the shipped config (docs/performance.md).
    init(cacheControl: String?) {
        self = .use
        guard let cacheControl, !cacheControl.isEmpty else { return }
        for directive in cacheControl.split(separator: ",") {
            var name = directive
            while name.first?.isWhitespace == true { name = name.dropFirst() }
            while name.last?.isWhitespace == true { name = name.dropLast() }
            switch name.lowercased() {
            case "no-store": self = .bypass; return
            case "no-cache": self = .refresh
            default: continue
            }
        }
    }
}
