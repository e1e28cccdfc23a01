import FleetSupport
import Foundation
import Logging
import Providers
import Routing
import Store
import Streaming
import Synchronization

/// One task's execution as a sequence of ``TaskEvent``s (README.md, "How a task runs").
///
/// Iterating it selects the model (the router when `useRouter`, else the default model as v1.0.4
/// did) and calls it through the ``StreamingTool`` (streamed when `useStreaming` and the model
/// supports it, else one synchronous call; fallbacks in the selection's order). Around every call
/// to a model, ``TaskBilling`` reserves its upper bound and then bills what the provider accepted.
/// Events come as the consumer asks for them, so a slow consumer slows the provider read
/// (backpressure end to end). A consumer that stops iterating cancels the provider call, which is
/// still billed for what it used.
public struct TaskRun: AsyncSequence, Sendable {
    public typealias Element = TaskEvent
    let task: AgentTask
    let settings: TaskSettings
    let runtime: TaskRuntime
    let agent: Agent
    /// When the task must be done by (its `fleet.taskTimeout`), if it has such a limit: no retry
    /// of the model waits past it.
    public let deadline: ContinuousClock.Instant?
    let cancellation = RunCancellation()

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
        case finished
    }

    struct Running {
        var selection: ModelSelection
        var billing: TaskBilling?
        var streaming: Bool
        var started: ContinuousClock.Instant
        /// Where the answer goes in the response cache, when the task may use it.
        var cacheKey: String?
        /// What the learner hears of this task (`predictiveRouting` on).
        var learning: TaskLearning?
    }

    private let run: TaskRun
    private var state: State = .initial

    init(run: TaskRun) {
        self.run = run
    }

    deinit {
        // Dropped while running (its consumer stopped reading): the agent's task ended all the same.
        if case .running = state {
            let agent = run.agent
            Task { await agent.ended(success: false) }
        }
    }

    private var runtime: TaskRuntime { run.runtime }
    private var task: AgentTask { run.task }

    func next() async -> TaskEvent? {
        switch state {
        case .finished:
            return nil
        case .initial:
            return await start()
        case .running(var iterator, let running):
            let event = await iterator.next()
            state = .running(iterator, running)
            return await handle(event, running)
        case .replaying(var events):
            guard !events.isEmpty, !run.cancellation.isCancelled else {
                state = .finished
                return nil
            }
            let event = events.removeFirst()
            state = events.isEmpty ? .finished : .replaying(events)
            return event
        }
    }

    func nextIfReady() async -> TaskEvent? {
        guard case .running(var iterator, let running) = state, !run.cancellation.isCancelled,
              let event = iterator.nextIfBuffered() else { return nil }
        state = .running(iterator, running)
        return await handle(event, running)
    }

    private func start() async -> TaskEvent? {
        if run.cancellation.isCancelled {
            state = .finished
            return nil
        }
        await run.agent.began(task.id)
        let routingTask = task.routingTask(agentType: run.agent.type, role: run.agent.role)
        let selection: ModelSelection
        do {
            selection = try await runtime.router.select(routingTask, useRouter: run.settings.useRouter,
                                                        useLearning: run.settings.useLearning)
        } catch {
            return await fail(task.failure(routing: error))
        }
        if let problem = task.conversationProblem(selection, routingTask: routingTask) { return await fail(problem) }
        let streaming = run.settings.useStreaming && task.stream
        let targets: [StreamTarget]
        do {
            targets = try runtime.targets(for: selection, streaming: streaming, privacy: task.privacy)
        } catch {
            return await fail(error)
        }
        let request = task.providerRequest(model: selection.modelConfig, role: run.agent.role)
        let cacheKey = cacheKey(selection: selection, request: request)
        if let cacheKey, task.cachePolicy ?? .use == .use, let cache = runtime.cache, let answer = await cache.lookup(cacheKey) {
            return await replay(answer, selection: selection)
        }
        let timeLimit = run.deadline.map { ContinuousClock.now.duration(to: $0) }
        let billing = runtime.costs.map { costs in
            TaskBilling(costs: costs, registry: runtime.router.registry,
                        estimatedInputTokens: selection.complexity.estimatedInputTokens,
                        inputTokenBound: request.inputTokenBound, cheaperAlternative: selection.isCheaperAlternative ? selection.modelName : nil,
                        keyLimits: task.caller?.budget, logger: runtime.logger,
                        call: { [task, agent = run.agent] model in
                            CostCall(model: model.name, provider: model.provider.rawValue, taskId: task.id, agentId: agent.id,
                                     taskType: selection.complexity.taskType.rawValue, keyId: task.caller?.keyId, tenantId: task.tenantId)
                        },
                        outputLimit: { [task, role = run.agent.role] model in task.outputTokenLimit(role: role, model: model) })
        }
        let learning = run.settings.useLearning && selection.routed
            ? TaskLearning(router: runtime.router, selection: selection, tenantId: task.tenantId) : nil
        let hooks = CallHooks.combining(billing?.hooks, learning?.hooks)
        let session = runtime.tool.executeStreaming(request, targets: targets, timeLimit: timeLimit, hooks: hooks)
        let running = Running(selection: selection, billing: billing, streaming: streaming, started: .now, cacheKey: cacheKey,
                              learning: learning)
        var iterator = session.makeAsyncIterator()
        run.cancellation.onCancel(iterator.canceller)
        let first = await iterator.next()
        state = .running(iterator, running)
        return await handle(first, running)
    }

    private func handle(_ event: StreamEvent?, _ running: Running) async -> TaskEvent? {
        guard let event else {
            // The session ended without a result: the consumer went away. The call it cut short
            // is billed by its hooks, in tasks of their own.
            await run.agent.ended(success: false)
            state = .finished
            return nil
        }
        switch event {
        case .start(let meta):
            let selection = running.selection
            return .start(TaskStart(
                taskId: task.id, agentId: run.agent.id, agentType: run.agent.type, model: meta.model, provider: meta.provider,
                streaming: running.streaming, routed: selection.routed, reason: selection.reason,
                fallbackModels: selection.fallbackModels, complexity: selection.complexity.overall,
                localDefault: meta.provider == .builtin))
        case .chunk(let chunk):
            return .chunk(chunk)
        case .progress(let progress):
            return .progress(progress)
        case .error(let failure) where !failure.terminal:
            return .error(TaskFailure(code: failure.code, message: failure.message, terminal: false, model: failure.model))
        case .error(let failure):
            await running.billing?.settled() // the calls it made are billed before the failure is told
            return await fail(TaskFailure(code: failure.code, message: failure.message, model: failure.model,
                                          retryAfterSeconds: failure.retryAfter.map(Self.wholeSeconds)))
        case .complete(let result):
            return await complete(result, running)
        }
    }

    private func complete(_ result: StreamResult, _ running: Running) async -> TaskEvent {
        let registry = runtime.router.registry
        let model = registry.model(named: result.metadata.model) ?? running.selection.modelConfig
        let reported = result.usage
        let usage = CostUsage.fromProviderReport(model.provider, inputTokens: reported?.inputTokens ?? 0,
                                                 outputTokens: reported?.outputTokens ?? 0,
                                                 cacheReadTokens: reported?.cachedInputTokens ?? 0)
        // With cost tracking on, the task costs what was billed for every call it made
        // (fallbacks and cut attempts included); off, what the answering call's usage costs.
        var cost = (try? usage.cost(pricing: model.capabilities.costPer1kTokens)) ?? 0
        if let billing = running.billing { cost = await billing.settled() }
        if let key = running.cacheKey, let cache = runtime.cache, task.cachePolicy != .bypass, result.toolCalls.isEmpty, !result.text.isEmpty {
            await cache.save(ResponseCache.Answer(text: result.text, model: model.name, provider: model.provider, usage: usage, cost: cost,
                                                  finishReason: result.finishReason, storedAt: Date()), key: key)
        }
        await running.learning?.completed(model: model.name, finishReason: result.finishReason)
        await run.agent.ended(success: true)
        state = .finished
        let elapsed = ContinuousClock.now - running.started
        var outcome = TaskResult(
            taskId: task.id, status: "completed", output: result.text, model: model.name, provider: model.provider,
            agentId: run.agent.id, usage: usage, cost: cost, streamed: running.streaming && !result.metadata.synchronousFallback,
            synchronousFallback: result.metadata.synchronousFallback, attempts: result.metadata.attempts,
            durationMs: Double(elapsed.components.seconds) * 1_000 + Double(elapsed.components.attoseconds) / 1e15,
            localDefault: model.provider == .builtin, backpressureEvents: result.metadata.backpressureEvents,
            selection: SelectionSummary(running.selection), subtasks: nil,
            toolCalls: result.toolCalls.isEmpty ? nil : result.toolCalls, finishReason: result.finishReason)
        if running.cacheKey != nil { outcome.cache = "miss" }
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
    private func replay(_ answer: ResponseCache.Answer, selection: ModelSelection) async -> TaskEvent? {
        if let costs = runtime.costs {
            let call = CostCall(model: answer.model, provider: answer.provider.rawValue, taskId: task.id, agentId: run.agent.id,
                                taskType: selection.complexity.taskType.rawValue)
            let id = "cache-\(task.id)-\(LocalID.text(length: 8))"
            do {
                _ = try await Task { try await costs.record(call, usage: CostUsage(inputTokens: 0, outputTokens: 0), pricing: ModelPricing(),
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
            selection: SelectionSummary(selection), subtasks: nil)
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

    private func fail(_ failure: TaskFailure) async -> TaskEvent {
        await run.agent.ended(success: false)
        state = .finished
        runtime.logger.warning("task failed", metadata: ["task": "\(task.id)", "code": "\(failure.code.rawValue)", "error": "\(failure.message)"])
        return .error(failure)
    }
}

extension ModelSelection {
    /// Whether the budget let the pick through as cheaper than routing's first choice
    /// (policy `cheaper-only`): the cost tracker's reservation admits it by the same rule.
    var isCheaperAlternative: Bool {
        trace.candidates.first { $0.modelName == modelName }?.decisions
            .contains { $0.stage == .budget && $0.admission == .cheaperThanPick } ?? false
    }
}

/// The outside handle on a ``TaskRun``: set once; runs the session's cancel when it is (or was) set.
final class RunCancellation: Sendable {
    private struct State {
        var cancelled = false
        var action: (@Sendable () -> Void)?
    }

    private let state = Mutex(State())

    var isCancelled: Bool { state.withLock { $0.cancelled } }

    func cancel() {
        let action = state.withLock { state -> (@Sendable () -> Void)? in
            state.cancelled = true
            defer { state.action = nil }
            return state.action
        }
        action?()
    }

    /// Runs `action` on cancellation, or now if the run was cancelled already.
    func onCancel(_ action: @escaping @Sendable () -> Void) {
        let now = state.withLock { state -> Bool in
            if state.cancelled { return true }
            state.action = action
            return false
        }
        if now { action() }
    }
}

extension AgentTask {
    /// The answer's token limit: the task's `maxTokens`, else its agent type's default, and never
    /// more than the model's `maxOutputTokens` when the model lists one.
    func outputTokenLimit(role: AgentRole, model: ModelConfiguration) -> Int {
        let wanted = maxTokens ?? role.maxTokens
        return model.capabilities.maxOutputTokens.map { min(wanted, $0) } ?? wanted
    }
}

extension ProviderRequest {
    /// More input tokens than any provider counts for this request: no tokenizer makes more
    /// tokens than the text has UTF-8 bytes, plus a few per message for the roles and framing.
    var inputTokenBound: Int {
        let text = (system ?? "").utf8.count + messages.reduce(0) { $0 + $1.content.utf8.count }
        return text + 8 * (messages.count + 1) + 16
    }
}
