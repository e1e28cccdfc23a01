import FleetSupport
import Foundation
import Logging
import Providers
import Routing
import Store
import Streaming

/// One task's execution as a sequence of ``TaskEvent``s (README.md, "How a task runs").
///
/// Iterating it selects the model (the router when `useRouter`, else the default model as v1.0.4
/// did) and calls it through the ``StreamingTool`` (streamed when `useStreaming` and the model
/// supports it, else one synchronous call; fallbacks in the selection's order). Around every call
/// to a model, ``TaskBilling`` reserves its upper bound and then bills what the provider accepted.
/// Events come as the consumer asks for them, so a slow consumer slows the provider read
/// (backpressure end to end). A consumer that stops iterating cancels the provider call, which is
/// still billed for what it used.
///
/// A class: a streamed task's run is held by its iterator, its agent lease and its response body
/// for as long as the stream is open, and each copy of a struct carried the whole task
/// (docs/performance.md, "Memory per open stream").
public final class TaskRun: AsyncSequence, Sendable {
    public typealias Element = TaskEvent
    public let task: AgentTask
    let settings: TaskSettings
    let runtime: TaskRuntime
    let agent: Agent
    /// When the task must be done by (its `fleet.taskTimeout`), if it has such a limit: no retry
    /// of the model waits past it.
    public let deadline: ContinuousClock.Instant?
    /// The outside handle on the run: each step registers how to stop its provider call.
    let cancellation = CancellationSignal()

    init(task: AgentTask, settings: TaskSettings, runtime: TaskRuntime, agent: Agent, deadline: ContinuousClock.Instant?) {
        self.task = task
        self.settings = settings
        self.runtime = runtime
        self.agent = agent
        self.deadline = deadline
    }

    /// Stops the run from outside its consumer (a client that left): the provider call is
    /// cancelled and the consumer's next event is the end. Harmless after the run ended.
    public func cancel() {
        cancellation.cancel()
    }

    public func makeAsyncIterator() -> Iterator {
        Iterator(driver: TaskDriver(run: self))
    }

    public struct Iterator: AsyncIteratorProtocol {
        let driver: TaskDriver
        public mutating func next() async -> TaskEvent? { await driver.next() }

        /// Does now what the first ``next()`` would: selects the model, looks in the response
        /// cache and starts the call. Its events, a failure to start among them, still come
        /// through ``next()``. A streaming handler calls it before returning its response, in
        /// the request's own task, so that the async frames routing takes are freed before the
        /// stream's long life begins (docs/performance.md, "Memory per open stream").
        public mutating func start() async { await driver.startIfNeeded() }

        /// The next event if it is ready now (already produced); `nil` when the next one is not
        /// there yet (call ``next()`` to wait for it). A relay gathers ready events into one write.
        public mutating func nextIfReady() async -> TaskEvent? { await driver.nextIfReady() }
    }

    /// Runs the task to the end and returns its result, or throws its terminal failure.
    public func result() async throws(TaskFailure) -> TaskResult {
        var iterator = makeAsyncIterator()
        while let event = await iterator.next() {
            switch event {
            case .complete(let result): return result
            case .error(let failure) where failure.terminal: throw failure
            default: continue
            }
        }
        throw TaskFailure(code: .taskCancelled, message: "the task was cancelled before it finished")
    }
}

/// The state behind one ``TaskRun`` iteration. Used by one consumer at a time, so it is not
/// Sendable. Dropped before the end, it drops the streaming session, which cancels the call;
/// ``TaskBilling`` still bills or releases it.
final class TaskDriver {
    private enum State {
        case initial
        case running(StreamingSession.AsyncIterator, Running)
        /// A cached answer being told: its events, in order.
        case replaying([TaskEvent])
        /// The model asked for tools: their `tool_call` events being told, then the calls run.
        case callingTools([TaskEvent], ToolRound)
        /// The tools answered: their `tool_result` events being told, then the model is called again.
        case toolsAnswered([TaskEvent], Running)
        case finished
    }

    /// A class, not a struct: the state is held across every `await` of a running task (for as
    /// long as a stream is open), and a kilobyte copied into each async frame that touches it
    /// added up to tens of KB per stream (docs/performance.md, "Memory"). Each state owns its own
    /// instance: a step that changes it replaces the state it came from.
    final class Running {
        /// The selection without its per-candidate trace, its budget line and its fallback chain's
        /// entries (the names stay in `fallbackModels`): the router recorded them, and a running
        /// task never reads them again, so they are not kept beside every open stream.
        var selection: ModelSelection
        /// The selection's models the budget let through as cheaper than the pick, read off the
        /// trace before it was dropped: each tool round's billing needs them again.
        let cheaperAlternatives: Set<String>
        /// The current model call's billing; the earlier rounds' are in ``earlierBillings``.
        var billing: TaskBilling?
        var streaming: Bool
        var started: ContinuousClock.Instant
        /// Where the answer goes in the response cache, when the task may use it.
        var cacheKey: String?
        /// What the learner hears of this task (`predictiveRouting` on).
        var learning: TaskLearning?
        /// What the model is sent; grows by the tool calls and results of each round.
        var request: ProviderRequest {
            get { requestBox.value }
            set { requestBox = Indirect(newValue) }
        }
        /// The request by reference, shared with the call's streaming run: two copies inline (352
        /// bytes each) were part of every open stream's memory.
        private(set) var requestBox: Indirect<ProviderRequest>
        var targets: [StreamTarget]
        /// The agent type's tools, when `mcpTools` is on for the task and the type has servers.
        var tools: ToolExecutor?
        /// Tool rounds done so far (0 during the first model call).
        var round = 0
        var earlierBillings: [TaskBilling] = []
        /// Usage, attempts and pauses of the earlier rounds' model calls.
        var earlierUsage = TokenUsage()
        var earlierAttempts = 0
        var earlierBackpressure = 0
        /// The earlier rounds' answer text, in order: the client was streamed it, so the task's
        /// output begins with it.
        var earlierText = ""
        /// Chunks the earlier rounds' calls sent. Each call numbers its own from 0; the task's
        /// `sequence` (and `progress` count) runs on across rounds.
        var earlierChunks = 0
        /// The earlier rounds' answers as blocks, their thinking and text in order (the thinking
        /// blocks' count numbers this round's on).
        var earlierBlocks: [ContentBlock] = []
        var earlierThinkingCount: Int { earlierBlocks.count { $0.isThinking } }
        var toolReports: [ToolCallReport] = []

        /// Every round's billing, the current one last.
        var billings: [TaskBilling] { earlierBillings + (billing.map { [$0] } ?? []) }

        init(selection: ModelSelection, cheaperAlternatives: Set<String>, billing: TaskBilling?, streaming: Bool,
             started: ContinuousClock.Instant, cacheKey: String?, learning: TaskLearning?, request: ProviderRequest,
             targets: [StreamTarget], tools: ToolExecutor?) {
            self.cheaperAlternatives = cheaperAlternatives
            var kept = selection
            kept.trace.candidates = []
            kept.trace.budget = ""
            kept.fallbackChain = [] // its names stay in `fallbackModels`
            self.selection = kept
            self.billing = billing
            self.streaming = streaming
            self.started = started
            self.cacheKey = cacheKey
            self.learning = learning
            self.requestBox = Indirect(request)
            self.targets = targets
            self.tools = tools
        }
    }

    /// The tool calls of one model answer, waiting to run.
    struct ToolRound {
        var running: Running
        var calls: [(use: ToolUse, valid: Bool)]
        /// The model's answer as a message of the conversation (its text and tool calls).
        var assistant: ProviderMessage
    }

    private let run: TaskRun
    private var state: State = .initial

    /// What ``start()`` left: the model call running (its events come through ``next()``), or an
    /// early end with the event to tell (a failure, a cached answer's first event, or none).
    private enum Started {
        case running
        case ended(TaskEvent?)
    }

    init(run: TaskRun) {
        self.run = run
    }

    deinit {
        // Dropped while running (its consumer stopped reading): the agent's task ended all the same.
        if case .running = state {
            let agent = run.agent
            ExecutorAffinity.task { await agent.ended(success: false) }
        }
    }

    private var runtime: TaskRuntime { run.runtime }
    private var task: AgentTask { run.task }

    /// The model call's events are the path an open stream waits on, so it is kept apart, with a
    /// small frame: an open stream holds its task's deepest frames for as long as it lasts
    /// (docs/performance.md, "Memory per open stream"). Every other state is in ``nextInOtherStates()``.
    func next() async -> TaskEvent? {
        // An early end's event waits in the state (``startIfNeeded()``): a result here would take
        // a slot in this frame.
        if case .initial = state { await startIfNeeded() }
        guard case .running(var iterator, let running) = state else { return await nextInOtherStates() }
        let event = await iterator.next()
        state = .running(iterator, running)
        return await handle(event, running)
    }

    @inline(never)
    private func nextInOtherStates() async -> TaskEvent? {
        switch state {
        case .finished, .initial, .running:
            return nil
        case .replaying(var events):
            guard !events.isEmpty, !run.cancellation.isCancelled else {
                state = .finished
                return nil
            }
            let event = events.removeFirst()
            state = events.isEmpty ? .finished : .replaying(events)
            return event
        case .callingTools(var events, let round):
            guard !run.cancellation.isCancelled else { return await abandon(round.running) }
            if !events.isEmpty {
                let event = events.removeFirst()
                state = .callingTools(events, round)
                return event
            }
            return await runTools(round)
        case .toolsAnswered(var events, let running):
            guard !run.cancellation.isCancelled else { return await abandon(running) }
            if !events.isEmpty {
                let event = events.removeFirst()
                state = .toolsAnswered(events, running)
                return event
            }
            return await callModelAgain(running)
        }
    }

    @inline(never)
    func startIfNeeded() async {
        guard case .initial = state, case .ended(let event) = await start() else { return }
        // An early end: its event is told first, then whatever the start left.
        guard let event else { return }
        switch state {
        case .replaying(let rest): state = .replaying([event] + rest)
        default: state = .replaying([event])
        }
    }

    func nextIfReady() async -> TaskEvent? {
        guard case .running(var iterator, let running) = state, !run.cancellation.isCancelled,
              let event = iterator.nextIfBuffered() else { return nil }
        state = .running(iterator, running)
        return await handle(event, running)
    }

    @inline(never) // keeps its locals out of next()'s async frame while a stream waits (docs/performance.md, "Memory")
    private func start() async -> Started {
        if run.cancellation.isCancelled {
            state = .finished
            return .ended(nil)
        }
        await run.agent.began(task.id)
        // The synchronous work is in out-of-line functions, and what crosses an `await` is a
        // reference: the frames of a task's deepest path stay allocated while its stream is open
        // (docs/performance.md, "Memory").
        let plan = routingPlan()
        let selection: ModelSelection
        do {
            selection = try await runtime.router.select(plan.routingTask, useRouter: run.settings.useRouter,
                                                        useLearning: run.settings.useLearning)
        } catch {
            return .ended(await fail(task.failure(routing: error, routingTask: plan.routingTask)))
        }
        let call: PreparedCall
        switch prepare(selection, plan: plan) {
        case .failure(let failure): return .ended(await fail(failure))
        case .success(let prepared): call = prepared
        }
        if let cacheKey = call.cacheKey, task.cachePolicy ?? .use == .use, let cache = runtime.cache, let answer = await cache.lookup(cacheKey) {
            // No call is made: the probe slot a half-open breaker gave the selection goes back.
            runtime.router.endAttempt(model: call.selection.modelName)
            return .ended(await replay(answer, selection: call.selection))
        }
        launch(call)
        return .running
    }

    /// What the router is asked, with the agent type's tools.
    private final class RoutingPlan {
        var routingTask: RoutingTask
        let tools: ToolExecutor?
        init(routingTask: RoutingTask, tools: ToolExecutor?) {
            self.routingTask = routingTask
            self.tools = tools
        }
    }

    /// A selected model's call, ready to start (or to be answered from the cache).
    private final class PreparedCall {
        let selection: ModelSelection
        let streaming: Bool
        let targets: [StreamTarget]
        let request: ProviderRequest
        let cacheKey: String?
        let tools: ToolExecutor?
        init(selection: ModelSelection, streaming: Bool, targets: [StreamTarget], request: ProviderRequest, cacheKey: String?, tools: ToolExecutor?) {
            self.selection = selection
            self.streaming = streaming
            self.targets = targets
            self.request = request
            self.cacheKey = cacheKey
            self.tools = tools
        }
    }

    @inline(never)
    private func routingPlan() -> RoutingPlan {
        var routingTask = task.routingTask(agentType: run.agent.type, role: run.agent.role)
        // The agent type's MCP tools, unless the client brought tools of its own (those calls go
        // back to the client, as a compatible endpoint promises).
        let tools = run.settings.useTools && !(task.conversation?.usesTools ?? false) ? runtime.tools[run.agent.type] : nil
        if let tools, !tools.invoker.definitions.isEmpty { routingTask.needsTools = true }
        return RoutingPlan(routingTask: routingTask, tools: tools)
    }

    @inline(never)
    private func prepare(_ selection: ModelSelection, plan: RoutingPlan) -> Result<PreparedCall, TaskFailure> {
        if let problem = task.conversationProblem(selection, routingTask: plan.routingTask) { return .failure(problem) }
        if let problem = task.compatibleStandInFailure(selection) { return .failure(problem) }
        let streaming = run.settings.useStreaming && task.stream
        let standIn = task.builtinStandInReason(selection)
        let selected: [StreamTarget]
        do {
            selected = try runtime.targets(for: selection, streaming: streaming, privacy: task.privacy)
        } catch {
            return .failure(error)
        }
        let targets = task.callTargets(selected, standIn: standIn)
        var request = task.providerRequest(model: selection.modelConfig, role: run.agent.role)
        if let tools = plan.tools { request.tools = tools.invoker.definitions }
        // A stand-in's answer says why the models could not be used now: not one to keep.
        let cacheKey = plan.tools == nil && standIn == nil ? cacheKey(selection: selection, request: request) : nil
        return .success(PreparedCall(selection: selection, streaming: streaming, targets: targets, request: request, cacheKey: cacheKey, tools: plan.tools))
    }

    /// Starts the model call; its events come through ``next()``.
    @inline(never)
    private func launch(_ call: PreparedCall) {
        let selection = call.selection
        let timeLimit = run.deadline.map { ContinuousClock.now.duration(to: $0) }
        let cheaperAlternatives = selection.cheaperAlternatives
        let billing = makeBilling(selection: selection, cheaperAlternatives: cheaperAlternatives, request: call.request,
                                  estimatedInputTokens: selection.complexity.estimatedInputTokens)
        let learning = run.settings.useLearning && selection.routed
            ? TaskLearning(router: runtime.router, selection: selection, tenantId: task.learningTenantId) : nil
        let hooks = CallHooks.combining(billing?.hooks, learning?.hooks)
        let running = Running(selection: selection, cheaperAlternatives: cheaperAlternatives, billing: billing, streaming: call.streaming,
                              started: .now, cacheKey: call.cacheKey, learning: learning, request: call.request, targets: call.targets,
                              tools: call.tools)
        let session = runtime.tool.executeStreaming(running.requestBox, targets: call.targets, timeLimit: timeLimit, hooks: hooks)
        let iterator = session.makeAsyncIterator()
        run.cancellation.onCancel(iterator.canceller)
        state = .running(iterator, running)
    }

    /// The billing of one model call of this task (`nil` with cost tracking off): its reservation
    /// bound is this request's size, so each tool round reserves for the longer conversation.
    private func makeBilling(selection: ModelSelection, cheaperAlternatives: Set<String>, request: ProviderRequest,
                             estimatedInputTokens: Int) -> TaskBilling? {
        // The closures capture the run, not copies of the task and the selection: a billing lives
        // as long as its task, and those copies were part of every open stream's memory.
        let taskType = selection.complexity.taskType.rawValue
        return runtime.costs.map { [run] costs in
            TaskBilling(costs: costs, registry: runtime.router.registry,
                        estimatedInputTokens: estimatedInputTokens,
                        inputTokenBound: request.inputTokenBound, promptCacheWrites: request.promptCacheWrites,
                        cheaperAlternatives: cheaperAlternatives,
                        keyLimits: task.caller?.budget, logger: runtime.logger,
                        call: { model in
                            let task = run.task
                            return CostCall(model: model.name, provider: model.provider.rawValue, taskId: task.id, agentId: run.agent.id,
                                            taskType: taskType, keyId: task.caller?.keyId, tenantId: task.tenantId)
                        },
                        // The role as the request was built with it: a reload may change the agent's.
                        outputLimit: { [role = run.agent.role] model in run.task.outputTokenLimit(role: role, model: model) })
        }
    }

    /// One event of the model call, as the task tells it. What a stream relays (its start, chunks,
    /// progress, non-terminal errors) is translated without a suspension; only an end goes on to
    /// ``finish(_:_:)`` (whose frame is large: settlement, tools, the cache). Out of line: inlined,
    /// its results took slots in ``next()``'s frame, which an open stream's connection keeps.
    @inline(never)
    private func handle(_ event: StreamEvent?, _ running: Running) async -> TaskEvent? {
        if let event, let told = relayed(event, running) { return told }
        return await finish(event, running)
    }

    @inline(never)
    private func relayed(_ event: StreamEvent, _ running: Running) -> TaskEvent? {
        switch event {
        case .start where running.round > 0:
            return nil
        case .start(let meta):
            let selection = running.selection
            return .start(TaskStart(
                taskId: task.id, agentId: run.agent.id, agentType: run.agent.type, model: meta.model, provider: meta.provider,
                streaming: running.streaming, routed: selection.routed, reason: selection.reason,
                fallbackModels: selection.fallbackModels, complexity: selection.complexity.overall,
                localDefault: meta.provider == .builtin))
        case .chunk(var chunk):
            chunk.sequence += running.earlierChunks
            return .chunk(chunk)
        case .thinking(var delta):
            delta.index += running.earlierThinkingCount
            return .thinking(delta)
        case .progress(var progress):
            progress.chunks += running.earlierChunks
            return .progress(progress)
        case .error(let failure) where !failure.terminal:
            return .error(TaskFailure(code: failure.code, message: failure.message, terminal: false, model: failure.model))
        case .error, .complete:
            return nil
        }
    }

    /// The end of the model call (or of its consumer), and a tool round's `start`, which is not told.
    @inline(never)
    private func finish(_ event: StreamEvent?, _ running: Running) async -> TaskEvent? {
        guard let event else {
            // The session ended without a result: the consumer went away. The call it cut short
            // is billed by its hooks, in tasks of their own.
            await run.agent.ended(success: false)
            state = .finished
            return nil
        }
        switch event {
        case .error(let failure) where failure.terminal:
            for billing in running.billings { await billing.settled() } // the calls it made are billed before the failure is told
            return await fail(TaskFailure(code: failure.code, message: failure.message, model: failure.model,
                                          retryAfterSeconds: failure.retryAfter.map(Self.wholeSeconds)))
        case .complete(let result):
            if let tools = running.tools, !result.toolCalls.isEmpty, running.round < tools.limits.maxRounds {
                return await beginTools(result, running, tools: tools)
            }
            return await complete(result, running)
        default:
            // A tool round's `start` (one `start` per task: the round's call continues it); every
            // other event was told by ``relayed(_:_:)``.
            return await next()
        }
    }

    // MARK: Tool rounds

    /// The model asked for tools: tells each call (`tool_call`), then ``runTools(_:)`` runs them.
    @inline(never)
    private func beginTools(_ result: StreamResult, _ running: Running, tools: ToolExecutor) async -> TaskEvent? {
        running.earlierUsage = running.earlierUsage.adding(result.usage)
        running.earlierAttempts += result.metadata.attempts
        running.earlierBackpressure += result.metadata.backpressureEvents
        running.earlierText += result.text
        running.earlierChunks += result.metadata.totalChunks
        running.earlierBlocks += result.answerBlocks
        if let billing = running.billing { running.earlierBillings.append(billing) }
        running.billing = nil
        // The next round starts with the model that answered this one (a fallback, when the pick
        // failed): the answer goes on in one voice, and a failing model is not tried again first.
        if let index = running.targets.firstIndex(where: { $0.endpoint.name == result.metadata.model }), index > 0 {
            let answering = running.targets.remove(at: index)
            running.targets.insert(answering, at: 0)
        }
        let round = running.round + 1
        let calls = ToolExecutor.toolUses(result.toolCalls, round: round)
        // Thinking and text as they came: Anthropic requires a tool loop's assistant turn to
        // begin with its thinking blocks, and them unchanged and in their place.
        let blocks = result.answerBlocks + calls.map { ContentBlock.toolUse($0.use) }
        var events = calls.map { call in
            TaskEvent.toolCall(TaskToolCall(taskId: task.id, round: round, callId: call.use.id, server: tools.invoker.server(of: call.use.name),
                                            tool: call.use.name, arguments: call.use.input))
        }
        let first = events.removeFirst()
        state = .callingTools(events, ToolRound(running: running, calls: calls, assistant: ProviderMessage(role: .assistant, blocks: blocks)))
        return first
    }

    /// Runs a round's tool calls (cancelled with the run), then tells each result (`tool_result`).
    @inline(never)
    private func runTools(_ round: ToolRound) async -> TaskEvent? {
        guard let tools = round.running.tools else { return await abandon(round.running) }
        let number = round.running.round + 1
        let work = ExecutorAffinity.task { [task, deadline = run.deadline, calls = round.calls] in
            await tools.run(calls, taskId: task.id, round: number, deadline: deadline)
        }
        run.cancellation.onCancel { work.cancel() }
        let outcomes = await work.value
        let running = round.running
        running.round = number
        running.toolReports += outcomes.map(\.report)
        if run.cancellation.isCancelled { return await abandon(running) }
        running.request.messages.append(round.assistant)
        running.request.messages.append(ProviderMessage(role: .user, blocks: outcomes.map { .toolResult($0.result) }))
        var events = outcomes.map { outcome in
            TaskEvent.toolResult(TaskToolResult(
                taskId: task.id, round: number, callId: outcome.report.callId, server: outcome.report.server, tool: outcome.report.tool,
                outcome: outcome.report.outcome, isError: outcome.result.isError, durationMs: outcome.report.durationMs,
                text: outcome.result.content.compactMap(\.text).joined(separator: "\n"), truncated: outcome.report.truncated))
        }
        let first = events.removeFirst()
        state = .toolsAnswered(events, running)
        return first
    }

    /// The next model call of a tool loop: the conversation with the tools' results, to the same
    /// targets, billed as a call of its own.
    @inline(never)
    private func callModelAgain(_ running: Running) async -> TaskEvent? {
        var timeLimit: Duration?
        if let deadline = run.deadline {
            let left = ContinuousClock.now.duration(to: deadline)
            guard left > .zero else {
                for billing in running.billings { await billing.settled() }
                return await fail(TaskFailure(code: .taskTimeout, message: "task \(task.id) ran out of time after \(running.round) tool round(s)"))
            }
            timeLimit = left
        }
        running.billing = makeBilling(selection: running.selection, cheaperAlternatives: running.cheaperAlternatives, request: running.request,
                                      estimatedInputTokens: max(running.selection.complexity.estimatedInputTokens,
                                                                running.request.approximateInputTokens))
        let hooks = CallHooks.combining(running.billing?.hooks, running.learning?.hooks)
        let session = runtime.tool.executeStreaming(running.requestBox, targets: running.targets, timeLimit: timeLimit, hooks: hooks)
        var iterator = session.makeAsyncIterator()
        run.cancellation.onCancel(iterator.canceller)
        let first = await iterator.next()
        state = .running(iterator, running)
        return await handle(first, running)
    }

    /// The run stopped between model calls (its client left, or its timeout): the calls made
    /// are billed (by their hooks), the agent is free, the consumer sees the end.
    @inline(never)
    private func abandon(_ running: Running) async -> TaskEvent? {
        for billing in running.billings { await billing.settled() }
        await run.agent.ended(success: false)
        state = .finished
        return nil
    }

    @inline(never)
    private func complete(_ result: StreamResult, _ running: Running) async -> TaskEvent {
        let registry = runtime.router.registry
        let model = registry.model(named: result.metadata.model) ?? running.selection.modelConfig
        let reported = running.round > 0 ? running.earlierUsage.adding(result.usage) : result.usage
        let usage = CostUsage.reported(model.provider, promptTokens: reported?.inputTokens ?? 0,
                                       outputTokens: reported?.outputTokens ?? 0,
                                       cacheReadTokens: reported?.cachedInputTokens ?? 0,
                                       cacheWriteTokens: reported?.cacheWriteInputTokens ?? 0,
                                       cacheWriteHourTokens: reported?.cacheWriteHourInputTokens ?? 0)
        // With cost tracking on, the task costs what was billed for every call it made
        // (fallbacks, cut attempts and tool rounds included); off, what its calls' usage costs.
        var cost = (try? usage.cost(pricing: model.capabilities.costPer1kTokens)) ?? 0
        if !running.billings.isEmpty {
            cost = 0
            for billing in running.billings { cost += await billing.settled() }
        }
        // Cached only when the model the key names answered (a fallback's answer, the built-in
        // responder's above all, must not stand in for it once it is back), nothing was dropped,
        // and it is no refusal or filtered answer (one such turn must not answer every later one).
        if let key = running.cacheKey, let cache = runtime.cache, task.cachePolicy != .bypass, result.toolCalls.isEmpty, !result.text.isEmpty,
           result.content.isEmpty, running.earlierThinkingCount == 0,
           model.name == running.selection.modelName, result.metadata.discardedChunks == 0,
           !StopReason(providerReason: result.finishReason, hasToolCalls: false).isWithheld {
            await cache.save(ResponseCache.Answer(text: result.text, model: model.name, provider: model.provider, usage: usage, cost: cost,
                                                  finishReason: result.finishReason, storedAt: Date()), key: key)
        }
        await running.learning?.completed(model: model.name, finishReason: result.finishReason)
        await run.agent.ended(success: true)
        state = .finished
        let elapsed = ContinuousClock.now - running.started
        var outcome = TaskResult(
            taskId: task.id, status: "completed", output: running.earlierText + result.text, model: model.name, provider: model.provider,
            agentId: run.agent.id, usage: usage, cost: cost, streamed: running.streaming && !result.metadata.synchronous,
            synchronousFallback: result.metadata.synchronousFallback, attempts: result.metadata.attempts + running.earlierAttempts,
            durationMs: Double(elapsed.components.seconds) * 1_000 + Double(elapsed.components.attoseconds) / 1e15,
            localDefault: model.provider == .builtin, backpressureEvents: result.metadata.backpressureEvents + running.earlierBackpressure,
            selection: SelectionSummary(running.selection), subtasks: nil,
            toolCalls: result.toolCalls.isEmpty ? nil : result.toolCalls, finishReason: result.finishReason)
        if running.cacheKey != nil { outcome.cache = "miss" }
        if !result.content.isEmpty || running.earlierThinkingCount > 0 { outcome.content = running.earlierBlocks + result.answerBlocks }
        if running.tools != nil, running.round > 0 || !result.toolCalls.isEmpty {
            let exhausted = !result.toolCalls.isEmpty
            if exhausted {
                runtime.logger.notice("the model still asked for tools after maxToolRounds; its last answer is the result",
                                      metadata: ["task": "\(task.id)", "rounds": "\(running.round)"])
            }
            outcome.toolUse = ToolUseSummary(rounds: running.round, calls: running.toolReports, exhausted: exhausted)
        }
        return .complete(outcome)
    }

    /// The key of this task's answer in the response cache, when `advancedCaching` is on for it
    /// and its `cache-control` lets the cache be used at all.
    private func cacheKey(selection: ModelSelection, request: ProviderRequest) -> String? {
        guard run.settings.useCache, let cache = runtime.cache, cache.admits(request), task.cachePolicy != .bypass,
              task.subtasks?.isEmpty ?? true else { return nil }
        return ResponseCache.key(task: task, model: selection.modelName, request: request)
    }

    /// Tells a cached answer as the original was told: `start`, the text, `complete`. No model is
    /// called; the ledger gets a zero-cost `cache` row under the model that first answered.
    @inline(never)
    private func replay(_ answer: ResponseCache.Answer, selection: ModelSelection) async -> TaskEvent? {
        if let costs = runtime.costs {
            let call = CostCall(model: answer.model, provider: answer.provider.rawValue, taskId: task.id, agentId: run.agent.id,
                                taskType: selection.complexity.taskType.rawValue, keyId: task.caller?.keyId, tenantId: task.tenantId)
            let id = "cache-\(task.id)-\(LocalID.text(length: 8))"
            do {
                _ = try await ExecutorAffinity.throwingTask { try await costs.record(call, usage: CostUsage(inputTokens: 0, outputTokens: 0), pricing: ModelPricing(),
                                                            entryId: id, basis: .cache) }.value
            } catch {
                runtime.logger.warning("the cache hit's ledger row could not be written", metadata: ["task": "\(task.id)", "error": "\(error)"])
            }
        }
        await run.agent.ended(success: true)
        let streamId = "cache-\(task.id)"
        var result = TaskResult(
            taskId: task.id, status: "completed", output: answer.text, model: answer.model, provider: answer.provider,
            agentId: run.agent.id, usage: answer.usage, cost: 0, streamed: false, synchronousFallback: false, attempts: 0,
            durationMs: 0, localDefault: answer.provider == .builtin, backpressureEvents: 0,
            selection: SelectionSummary(selection), subtasks: nil, finishReason: answer.finishReason)
        result.cache = "hit"
        result.cacheSavedUSD = answer.cost
        let start = TaskEvent.start(TaskStart(
            taskId: task.id, agentId: run.agent.id, agentType: run.agent.type, model: answer.model, provider: answer.provider,
            streaming: task.stream, routed: selection.routed, reason: "answered from the response cache (advancedCaching)",
            fallbackModels: [], complexity: selection.complexity.overall, localDefault: answer.provider == .builtin))
        state = .replaying([.chunk(StreamChunk(streamId: streamId, sequence: 0, text: answer.text)), .complete(result)])
        return start
    }

    /// A Retry-After in whole seconds, rounded up (HTTP's `Retry-After` takes seconds).
    static func wholeSeconds(_ duration: Duration) -> Int {
        let seconds = Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
        return max(0, Int(seconds.rounded(.up)))
    }

    @inline(never)
    private func fail(_ failure: TaskFailure) async -> TaskEvent {
        await run.agent.ended(success: false)
        state = .finished
        runtime.logger.warning("task failed", metadata: ["task": "\(task.id)", "code": "\(failure.code.rawValue)", "error": "\(failure.message)"])
        return .error(failure)
    }
}

extension ModelSelection {
    /// Every model of the selection (the pick and its fallbacks) the budget let through as cheaper
    /// than routing's first choice (policy `cheaper-only`): the cost tracker's reservation admits
    /// each by the same rule.
    var cheaperAlternatives: Set<String> {
        Set(trace.candidates.filter { candidate in
            candidate.decisions.contains { $0.stage == .budget && $0.admission == .cheaperThanPick }
        }.map(\.modelName))
    }
}

extension AgentTask {
    /// The answer's token limit on `model`: ``requestedOutputTokens(role:)`` (the task's
    /// `maxTokens`, else its agent type's, else ``AgentRole/defaultOutputTokenCeiling``), and never
    /// more than the model's `maxOutputTokens` when the model lists one. What the call reserves,
    /// what the model is sent (``StreamRun``'s per-target cut), what the router's context-window
    /// check counts.
    func outputTokenLimit(role: AgentRole, model: ModelConfiguration) -> Int {
        let wanted = requestedOutputTokens(role: role)
        return model.capabilities.maxOutputTokens.map { min(wanted, $0) } ?? wanted
    }
}

extension TokenUsage {
    /// This usage plus another call's (nil adds nothing).
    func adding(_ other: TokenUsage?) -> TokenUsage {
        guard let other else { return self }
        return TokenUsage(inputTokens: inputTokens + other.inputTokens, outputTokens: outputTokens + other.outputTokens,
                          cachedInputTokens: cachedInputTokens + other.cachedInputTokens,
                          reasoningTokens: reasoningTokens + other.reasoningTokens,
                          cacheWriteInputTokens: cacheWriteInputTokens + other.cacheWriteInputTokens,
                          cacheWriteHourInputTokens: cacheWriteHourInputTokens + other.cacheWriteHourInputTokens)
    }
}

extension ProviderRequest {
    /// More tokens than one PDF page is counted as: a dense page of text and twice an image.
    static let pdfPageBound = 3_000 + 2 * approximateTokensPerImage

    /// More input tokens than any provider counts for this request: no tokenizer makes more
    /// tokens than the text has UTF-8 bytes (texts, tool calls' arguments and tools' results, the
    /// tool definitions), plus a few per message and block for roles and framing, and twice
    /// fleetd's per-image figure for each image.
    var inputTokenBound: Int {
        var bytes = (system ?? "").utf8.count
        var pieces = messages.count + 1
        // Only the thinking a provider counts (``ProviderRequest/firstCountedThinkingMessage``).
        var countsThinking = false
        func count(_ block: ContentBlock) {
            pieces += 1
            switch block {
            case .text(let text): bytes += text.utf8.count
            case .image: bytes += 2 * ProviderRequest.approximateTokensPerImage
            case .toolUse(let use):
                bytes += use.id.utf8.count + use.name.utf8.count + ((try? FastJSONEncoder().encode(use.input))?.count ?? 0)
            case .toolResult(let result):
                bytes += result.toolUseId.utf8.count
                result.content.forEach(count)
            case .thinking(let text, let signature): if countsThinking { bytes += text.utf8.count + signature.utf8.count }
            case .redactedThinking(let data): if countsThinking { bytes += data.utf8.count }
            case .document(let document):
                switch document.source {
                case .text(let text): bytes += text.utf8.count + (document.title?.utf8.count ?? 0) + (document.context?.utf8.count ?? 0)
                // A page is read as its text and as an image: per page, a page of text's tokens and
                // twice the figure for an image; pages as if each took 2 KB of the file (a page
                // takes more), at most the 100 Anthropic reads. A PDF by URL, of unknown size, as 100.
                case .base64(_, let data): bytes += Self.pdfPageBound * min(100, max(1, data.utf8.count * 3 / 4 / 2_000))
                case .url: bytes += Self.pdfPageBound * 100
                }
            }
        }
        let firstThinking = firstCountedThinkingMessage
        for (index, message) in messages.enumerated() {
            countsThinking = index >= firstThinking
            message.blocks.forEach(count)
        }
        for tool in tools {
            pieces += 1
            bytes += tool.name.utf8.count + (tool.description?.utf8.count ?? 0) + ((try? FastJSONEncoder().encode(tool.parameters))?.count ?? 0)
        }
        return bytes + 8 * pieces + 16
    }
}
