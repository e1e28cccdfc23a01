import Agents
import DequeModule
import FleetSupport
import Foundation
import Logging
import Providers
import Routing
import Streaming
import ToolServers

/// Runs the fleet: owns the agents, resolves each task's flags, dispatches tasks to idle agents
/// of the right type through a bounded queue, enforces the task timeout, watches agents with
/// heartbeats, and applies a new configuration atomically (agents added or retired to match,
/// router, streaming and budgets updated; tasks already running keep the runtime they began with).
public actor FleetManager {
    /// A task handed to an agent. Iterate ``run`` to execute it, then call ``finish()``.
    public struct Dispatched: Sendable {
        public let run: TaskRun
        public let agent: Agent
        public let settings: TaskSettings
        let manager: FleetManager
        /// Its dispatch number: the manager keeps the tool servers it may call until it finishes.
        let number: Int

        /// Stops the run (its client left): the provider call is cancelled, the consumer sees the end.
        public func cancel() {
            run.cancel()
        }

        /// Returns the agent to the pool. Call exactly once, when the run ended or was abandoned.
        public func finish() async {
            await manager.finished(number, agent: agent)
        }
    }

    public nonisolated let dataPlane: DataPlane
    private let reloader: ConfigReloader
    let clients: ProviderClientFactory
    private let environmentName: String?
    let processEnvironment: [String: String]
    let logger: Logger
    private var pool = AgentPool()
    var snapshot: ConfigReloader.Snapshot
    var runtime: TaskRuntime
    /// The type of a task that names none (the config's first, else `default`).
    private var defaultAgentType: String { snapshot.config.defaultAgentType }
    /// The agent types' MCP tool servers, connected at start and on each reload.
    let toolHub: ToolServerHub
    /// Each agent type's tools as the current config gave them.
    var tools: [String: ToolExecutor] = [:]
    /// The tasks running now, by dispatch number, with when each was dispatched. A task calls the
    /// tools in force when it was dispatched until it ends, so a tool server a reload replaced
    /// stays up until the tasks dispatched before its replacement was installed have ended.
    var runningTasks: [Int: ContinuousClock.Instant] = [:]
    var dispatchCount = 0
    /// Tools installed whose replaced servers are not closed yet: the config generation and the
    /// number of the first task dispatched with them.
    var toolInstalls: [(generation: Int, firstTask: Int)] = []
    /// Tool lists gathered again after a server said its tools changed, and the number of the
    /// last one installed: one that ends after a later one is dropped.
    var toolRelistsStarted = 0
    var toolRelistInstalled = 0
    /// Told of every tool call as it ends (fleetd's metrics).
    let onToolCall: (@Sendable (ToolCallReport) -> Void)?
    /// By record key: `<tenant>/<id>` for an authenticated tenant's task, else `<id>`.
    private var tasks: [String: RememberedTask] = [:]
    /// Record keys in submission order, to forget the oldest beyond ``rememberedTasks`` in O(1).
    private var taskOrder = Deque<String>()
    private let rememberedTasks = 10_000

    /// A remembered task's record, by reference. A dictionary keeps its values inline in every
    /// bucket, empty ones too, and a ``TaskRecord`` (a ``TaskResult`` inside) is over 500 bytes:
    /// with 10,000 tasks remembered that was about 4 MB more held for good, and about half a KB
    /// more beside every open stream (docs/performance.md, "Memory per open stream, again").
    /// Never leaves the actor: readers get a copy of the record.
    private final class RememberedTask {
        var record: TaskRecord
        init(_ record: TaskRecord) { self.record = record }
    }

    /// What `GET /v1/tasks/{id}` shows.
    public struct TaskRecord: Sendable, Codable {
        public var id: String
        /// The authenticated tenant it ran for; task ids are unique per tenant.
        public var tenantId: String?
        public var status: String
        public var agentId: String?
        public var model: String?
        public var submittedAt: Date
        public var finishedAt: Date?
        public var result: TaskResult? {
            get { resultBox?.value }
            set { resultBox = newValue.map(Indirect.init) }
        }
        public var error: TaskFailure?
        /// The result by reference: the last 10,000 records are kept, a running task's among them,
        /// and a result inline (over 400 bytes, absent or not) was in every one of them.
        var resultBox: Indirect<TaskResult>?

        init(id: String, tenantId: String?, status: String, submittedAt: Date) {
            self.id = id
            self.tenantId = tenantId
            self.status = status
            self.submittedAt = submittedAt
        }

        private enum CodingKeys: String, CodingKey {
            case id, tenantId, status, agentId, model, submittedAt, finishedAt, error
            case resultBox = "result"
        }
    }

    public init(reloader: ConfigReloader, dataPlane: DataPlane, clients: ProviderClientFactory,
                environmentName: String?, processEnvironment: [String: String] = ProcessInfo.processInfo.environment,
                onToolCall: (@Sendable (ToolCallReport) -> Void)? = nil, logger: Logger = Logger(label: "fleetd")) async {
        self.reloader = reloader
        self.dataPlane = dataPlane
        self.clients = clients
        self.environmentName = environmentName
        self.processEnvironment = processEnvironment
        self.logger = logger
        self.onToolCall = onToolCall
        let snapshot = await reloader.snapshot
        self.snapshot = snapshot
        toolHub = ToolServerHub(httpClient: clients.httpClient, logger: Logger(label: "fleetd.tools"))
        self.runtime = Self.makeRuntime(snapshot, dataPlane: dataPlane, clients: clients, tools: [:], environment: processEnvironment, logger: logger)
        reconcileAgents()
        await toolHub.onToolsChanged { [weak self] in await self?.toolServerToolsChanged() }
        connectToolServers()
    }

    /// Follows the reloader: every new config is applied here, after the reloader has put it in
    /// force (for a manager whose reloader has no ``ConfigApplier``; fleetd's applier calls
    /// ``apply(_:)`` itself, before the reload answers). Returns when the stream ends.
    public func followConfigChanges() async {
        for await next in await reloader.updates() where next.generation > snapshot.generation {
            do {
                try await apply(next)
            } catch {
                logger.error("a new config could not be applied; the fleet keeps the one it runs", metadata: ["error": "\(error)"])
            }
        }
    }

    /// The config in force.
    public var config: FleetConfig { snapshot.config }
    public var generation: Int { snapshot.generation }

    // MARK: Dispatch

    /// Resolves the task's flags: the environment's override, then its agent type's, then global.
    public func settings(for task: AgentTask) -> TaskSettings {
        let context = FlagContext(agentType: task.agentType, environment: environmentName,
                                  properties: task.stickinessProperties)
        let flags = snapshot.config.effectiveFlags(in: context)
        let on = { (name: String) in flags.first { $0.name == name }?.enabled ?? false }
        return TaskSettings(useRouter: on("multiModelRouter"), useStreaming: on("streaming"), useCache: on("advancedCaching"),
                            useLearning: on("predictiveRouting"), useTools: on("mcpTools"))
    }

    /// The routing decision a task would get now, without running it: the same flags, agent type
    /// and role (its default task type) as ``dispatch(_:)``.
    public func explainRoute(_ task: AgentTask) async throws(RouterError) -> ModelSelection {
        let settings = self.settings(for: task)
        var routing = routingTask(for: task)
        // A key with its own budget sees that budget's figures, never the fleet's spend, in the
        // trace's budget line and in each model's budget stage, with a tenant or without (a
        // tenant's trace leaves the fleet's figures out in any case).
        if let caller = task.caller, let keyId = caller.keyId, let limits = caller.budget, limits.isLimited {
            let status = await dataPlane.costs.keyBudgetStatus(keyId: keyId, limits: limits)
            routing.callerBudget = CallerBudget(owner: caller.label, status: status)
        }
        return try await dataPlane.router.explain(routing, useRouter: settings.useRouter, useLearning: settings.useLearning)
    }

    /// What a routing failure of ``explainRoute(_:)`` answers, as running the task would: a task
    /// no model can serve only because of what it asks for (an image task and no model that takes
    /// images) is REQUEST_UNSUPPORTED (400), not ROUTER_001 (503).
    public func routeFailure(_ task: AgentTask, _ error: RouterError) -> TaskFailure {
        task.failure(routing: error, routingTask: routingTask(for: task))
    }

    /// The task as the router sees it, with its agent type's role (the default type's when it
    /// names none).
    private func routingTask(for task: AgentTask) -> RoutingTask {
        let type = task.agentType ?? defaultAgentType
        let role = snapshot.config.agents.first { $0.type == type }.map { AgentRole(config: $0.config) } ?? AgentRole()
        return task.routingTask(agentType: type, role: role)
    }

    /// What the task's caller (an API key, a token) may not ask for, else `nil`: AGENT_TYPE_NOT_ALLOWED
    /// (403) for an agent type outside its list, MODEL_NOT_ALLOWED (403) for a `preferredModel` it
    /// may not use. A model the caller names but may not use is refused, not quietly replaced by
    /// one it may: by ``dispatch(_:timeLimit:cancellation:)`` and, with the same answer, by
    /// `POST /v1/route` and MCP's `route`, which explain what the task would get.
    public func callerRefusal(_ task: AgentTask) -> TaskFailure? {
        let type = task.agentType ?? defaultAgentType
        if let caller = task.caller, !caller.mayUse(agentType: type) {
            return TaskFailure(code: .agentTypeNotAllowed,
                               message: "\(caller.label) may not run tasks on agent type '\(type)'; allowed: \((caller.allowedAgentTypes ?? []).joined(separator: ", "))")
        }
        guard let caller = task.caller, let preferred = task.preferredModel, let list = caller.allowList,
              let model = snapshot.config.routing.models.first(where: { $0.name == preferred }), let why = list.refusal(model) else {
            return nil
        }
        return TaskFailure(code: .modelNotAllowed, message: "\(caller.label) may not use model '\(preferred)': \(why)")
    }

    /// Waits for an idle agent of the task's type and hands it the task. A full queue refuses at
    /// once (`QUEUE_FULL`, retry after a few seconds) rather than growing.
    /// - Parameter timeLimit: the time the task may take from the moment an agent takes it (its
    ///   timeout); the run's model retries never wait past it.
    /// - Parameter cancellation: cancelled from outside (the client left): a wait for an agent ends.
    public func dispatch(_ task: AgentTask, timeLimit: Duration? = nil, cancellation: CancellationSignal? = nil) async throws(TaskFailure) -> Dispatched {
        var task = task
        let type = task.agentType ?? defaultAgentType
        guard pool.hasType(type) else {
            throw TaskFailure(code: .unknownAgentType, message: "no agent type '\(type)'; configured: \(pool.types.sorted().joined(separator: ", "))")
        }
        if let refusal = callerRefusal(task) { throw refusal }
        task.agentType = type
        // The id is taken from here on: a second task with it (for the same tenant) is refused,
        // never written over the first.
        let key = Self.recordKey(id: task.id, tenant: task.caller?.tenantId)
        guard tasks[key] == nil else {
            throw TaskFailure(code: .taskIdConflict, message: "a task with id '\(task.id)' already exists; task ids are unique (per tenant)")
        }
        remember(TaskRecord(id: task.id, tenantId: task.caller?.tenantId, status: "queued", submittedAt: Date()), key: key)
        let agent: Agent
        if let idle = pool.takeIdle(type) {
            agent = idle
        } else {
            guard pool.waitingCount < snapshot.config.api.maxQueuedTasks else {
                forget(key)
                throw TaskFailure(code: .queueFull, message: "all \(pool.count(of: type)) '\(type)' agents are busy and \(pool.waitingCount) tasks are waiting",
                                  retryAfterSeconds: 1)
            }
            let id = pool.newWaiterID()
            cancellation?.onCancel { Task { await self.cancelWaiter(id) } }
            do {
                agent = try await withTaskCancellationHandler {
                    try await withCheckedThrowingContinuation { continuation in
                        pool.enqueue(type, AgentPool.Waiter(id: id, continuation: continuation))
                    }
                } onCancel: {
                    Task { await self.cancelWaiter(id) }
                }
            } catch let failure as TaskFailure {
                forget(key)
                throw failure
            } catch {
                forget(key)
                throw TaskFailure(code: .taskCancelled, message: "the task was cancelled while waiting for an agent")
            }
        }
        tasks[key]?.record.status = "running"
        tasks[key]?.record.agentId = agent.id
        // Flags and runtime as they are when an agent takes the task: a reload while it waited
        // (a flag rolled back, cost tracking turned on) applies to it.
        let settings = self.settings(for: task)
        let runtime = self.runtime
        let deadline = timeLimit.map { ContinuousClock.now + $0 }
        let number = dispatchCount
        dispatchCount += 1
        runningTasks[number] = ContinuousClock.now
        return Dispatched(run: agent.run(task, settings: settings, runtime: runtime, deadline: deadline),
                          agent: agent, settings: settings, manager: self, number: number)
    }

    /// Runs a task to its result (the JSON API), with its subtasks in parallel and the task timeout.
    /// - Parameter cancellation: cancelled when the client leaves: the wait for an agent or the run
    ///   ends (what the provider accepted is billed), and the agent goes back at once.
    public func execute(_ task: AgentTask, cancellation: CancellationSignal? = nil) async throws(TaskFailure) -> TaskResult {
        let timeout = Duration.milliseconds(snapshot.config.fleet.taskTimeout)
        let dispatched = try await dispatch(task, timeLimit: timeout, cancellation: cancellation)
        cancellation?.onCancel { dispatched.cancel() } // instead of the wait's, now over
        let outcome: Result<TaskResult, TaskFailure> = await Self.withTimeout(timeout, taskId: task.id) { () async throws(TaskFailure) -> TaskResult in
            var result = try await dispatched.run.result()
            if let subtasks = task.subtasks, !subtasks.isEmpty {
                result.subtasks = await Self.runSubtasks(subtasks, parent: task, agent: dispatched.agent,
                                                         deadline: dispatched.run.deadline, manager: self)
            }
            return result
        }
        await dispatched.finish()
        record(task, outcome)
        return try outcome.get()
    }

    /// Remembers how a task ended (for `GET /v1/tasks/{id}`).
    public func record(_ task: AgentTask, _ outcome: Result<TaskResult, TaskFailure>) {
        record(key: Self.recordKey(id: task.id, tenant: task.caller?.tenantId), outcome)
    }

    private func record(key taskId: String, _ outcome: Result<TaskResult, TaskFailure>) {
        guard let remembered = tasks[taskId] else { return }
        remembered.record.finishedAt = Date()
        switch outcome {
        case .success(let result):
            remembered.record.status = "completed"
            remembered.record.model = result.model
            remembered.record.result = result
        case .failure(let failure):
            remembered.record.status = "failed"
            remembered.record.error = failure
        }
    }

    /// A task's record (running, completed or failed), while fleetd remembers it: the task
    /// submitted with that id for `tenant` (without a tenant: the task submitted without one).
    public func taskRecord(_ id: String, tenant: String? = nil) -> TaskRecord? {
        tasks[Self.recordKey(id: id, tenant: tenant)]?.record
    }

    /// Every remembered task with this id, whatever its tenant (for callers who see all tenants).
    public func taskRecords(id: String) -> [TaskRecord] {
        tasks.values.filter { $0.record.id == id }.map(\.record).sorted { $0.submittedAt < $1.submittedAt }
    }

    /// `<tenant>/<id>` for a tenant's task, else `<id>` (ids never contain `/`).
    static func recordKey(id: String, tenant: String?) -> String {
        tenant.map { "\($0)/\(id)" } ?? id
    }

    private func remember(_ record: TaskRecord, key: String) {
        tasks[key] = RememberedTask(record)
        taskOrder.append(key)
        while taskOrder.count > rememberedTasks, let oldest = taskOrder.popFirst() {
            tasks[oldest] = nil
        }
    }

    /// Gives an id back: its task never reached an agent.
    private func forget(_ key: String) {
        tasks[key] = nil
        if let index = taskOrder.lastIndex(of: key) { taskOrder.remove(at: index) }
    }

    private static func runSubtasks(_ subtasks: [AgentTask], parent: AgentTask, agent: Agent, deadline: ContinuousClock.Instant?,
                                    manager: FleetManager) async -> [SubtaskOutcome] {
        await withTaskGroup(of: (Int, SubtaskOutcome).self) { group in
            for (index, var subtask) in subtasks.enumerated() {
                if subtask.id.isEmpty { subtask.id = "\(parent.id).\(index + 1)" }
                subtask.agentType = subtask.agentType ?? parent.agentType
                // A subtask acts for the same caller: tenant, user and session (rollout stickiness,
                // and later budgets) come from the parent, and it is never less private than it.
                subtask.tenantId = subtask.tenantId ?? parent.tenantId
                subtask.userId = subtask.userId ?? parent.userId
                subtask.sessionId = subtask.sessionId ?? parent.sessionId
                if parent.privacy == .localOnly { subtask.privacy = .localOnly }
                // The authenticated caller's tenant, user, allow-lists and key budget hold for
                // every subtask, whatever the subtask's own fields say.
                if let caller = parent.caller { subtask = subtask.authorized(by: caller) }
                let child = subtask
                group.addTask {
                    let settings = await manager.settings(for: child)
                    let runtime = await manager.currentRuntime
                    do throws(TaskFailure) {
                        let result = try await agent.run(child, settings: settings, runtime: runtime, deadline: deadline).result()
                        return (index, SubtaskOutcome(taskId: child.id, succeeded: true, result: result, error: nil))
                    } catch {
                        return (index, SubtaskOutcome(taskId: child.id, succeeded: false, result: nil, error: error))
                    }
                }
            }
            var outcomes: [(Int, SubtaskOutcome)] = []
            for await outcome in group { outcomes.append(outcome) }
            return outcomes.sorted { $0.0 < $1.0 }.map(\.1)
        }
    }

    var currentRuntime: TaskRuntime { runtime }

    static func withTimeout(_ timeout: Duration, taskId: String,
                            _ body: @escaping @Sendable () async throws(TaskFailure) -> TaskResult) async -> Result<TaskResult, TaskFailure> {
        let (outcome, timedOut) = await withTimeLimit(timeout) { () async -> Result<TaskResult, TaskFailure> in
            do throws(TaskFailure) { return .success(try await body()) } catch { return .failure(error) }
        }
        if timedOut, case .failure = outcome {
            return .failure(.timedOut(taskId: taskId, after: timeout))
        }
        return outcome
    }

    /// A dispatched task ended: its agent goes back, and the tool servers only it still held stop.
    func finished(_ number: Int, agent: Agent) {
        runningTasks[number] = nil
        release(agent)
        closeReplacedToolServers()
    }

    func release(_ agent: Agent) {
        if let waiter = pool.release(agent) {
            waiter.continuation.resume(returning: agent)
        }
    }

    private func cancelWaiter(_ id: UInt64) {
        pool.removeWaiter(id)?.continuation.resume(throwing: CancellationError())
    }

    // MARK: Agents

    /// Tasks waiting in the queue for an idle agent now (what `api.maxQueuedTasks` bounds).
    public var waitingTasks: Int { pool.waitingCount }

    /// Every agent's status (answers their heartbeats).
    public func agentStatuses() async -> [AgentStatus] {
        var statuses: [AgentStatus] = []
        for agent in pool.agents.values { statuses.append(await agent.heartbeat()) }
        return statuses.sorted { $0.id < $1.id }
    }

    /// Heartbeat round: an agent busy far longer than the task timeout is taken as hung and
    /// replaced by a fresh one of the same type.
    public func checkAgents(now: Date = Date()) async {
        let limit = Double(snapshot.config.fleet.taskTimeout) / 1_000 * 2
        // A hung agent is replaced once: retired, it stays out of later rounds until it returns.
        for agent in pool.agents.values where !pool.isRetired(agent) {
            let status = await agent.heartbeat(now: now)
            if let since = status.busySince, now.timeIntervalSince(since) > limit {
                guard let replacement = pool.replace(agent) else { continue }
                logger.warning("agent hung; replaced", metadata: ["agent": "\(agent.id)", "replacement": "\(replacement.id)", "task": "\(status.currentTask ?? "-")"])
                release(replacement)
            }
        }
        closeReplacedToolServers() // those only hung tasks held
    }

    // MARK: Configuration

    /// Applies a new config: agents (counts, types, roles), router (models, strategy, weights,
    /// health, complexity weights), budgets (limits, thresholds, policy, time zone), quotas, memory
    /// TTLs and streaming. Tasks already running finish on the runtime they began with.
    /// - Throws: ``ConfigApplyError`` when the cost or quota settings are refused; then nothing
    ///   changed and the config in force stays.
    public func apply(_ next: ConfigReloader.Snapshot) async throws {
        let config = next.config
        do {
            // Both checked before either changes, so a refusal leaves both as they were.
            try config.cost.validate()
            try config.quotas.validate()
            try await dataPlane.costs.update(configuration: config.cost, memoryConfiguration: config.memory)
            try dataPlane.quotas.update(configuration: config.quotas)
        } catch {
            // Validation accepted the file, so this is not expected. Put the costs back should the
            // quotas alone have refused theirs.
            let current = snapshot.config
            try? await dataPlane.costs.update(configuration: current.cost, memoryConfiguration: current.memory)
            logger.error("cost or quota settings could not be applied; the config in force stays", metadata: [
                "generation": "\(next.generation)", "error": "\(error)",
            ])
            throw ConfigApplyError("the cost or quota settings could not be applied: \(error)")
        }
        snapshot = next
        // Until the new config's tool servers answer (connectToolServers), its tasks get the
        // tools of the servers that were already running.
        runtime = Self.makeRuntime(next, dataPlane: dataPlane, clients: clients, tools: tools, environment: processEnvironment, logger: logger)
        connectToolServers()
        reconcileAgents()
        logger.notice("configuration applied", metadata: [
            "generation": "\(next.generation)", "agents": "\(pool.agents.count)",
            "budget": "\(config.cost.enabled ? "\(config.cost.policy.rawValue), daily \(config.cost.budgetLimits.daily.map { "$\($0)" } ?? "none")" : "off")",
        ])
    }

    /// Spawns or retires agents so each type has its configured count, within `fleet.maxAgents`:
    /// when the counts pass it, each type with a count gets one agent before any gets a second
    /// (``FleetConfig/agentAllocation``).
    private func reconcileAgents() {
        let config = snapshot.config
        var specs = zip(config.agents, config.agentAllocation).map { ($0.type, $1.count, AgentRole(config: $0.config)) }
        if specs.isEmpty { specs = [(config.defaultAgentType, config.fleet.maxAgents, AgentRole())] }
        var wanted: Set<String> = []
        for (type, target, role) in specs {
            // A type left with no agents (count 0, or no room under maxAgents) serves no waiter.
            if target > 0 { wanted.insert(type) }
            pool.retire(type: type, keep: target)
            for agent in pool.agents.values where agent.type == type { agent.update(role: role) }
            for _ in pool.count(of: type)..<max(target, pool.count(of: type)) {
                release(pool.spawn(type: type, role: role))
            }
        }
        for type in pool.types where !wanted.contains(type) {
            pool.retire(type: type, keep: 0)
        }
        for waiter in pool.dropWaiters(notIn: wanted) {
            waiter.continuation.resume(throwing: TaskFailure(code: .unknownAgentType,
                                                             message: "a config reload left the task's agent type with no agents (removed, count 0, or no room under fleet.maxAgents)"))
        }
    }

    static func makeRuntime(_ snapshot: ConfigReloader.Snapshot, dataPlane: DataPlane, clients: ProviderClientFactory,
                                    tools: [String: ToolExecutor], environment: [String: String], logger: Logger) -> TaskRuntime {
        let config = snapshot.config
        let (routing, notes) = EffectiveModels.routing(for: config.routing, environment: environment)
        for note in notes { logger.notice("\(note)") }
        dataPlane.router.update(configuration: routing)
        dataPlane.router.update(scorer: ComplexityAnalyzer(weights: config.routing.complexity))
        dataPlane.memory.update(configuration: config.memory)
        let tool = StreamingTool(configuration: config.streaming, recorder: dataPlane.records, logger: Logger(label: "fleetd.streaming"))
        return TaskRuntime(generation: snapshot.generation, router: dataPlane.router, tool: tool, clients: clients,
                           costs: config.cost.enabled ? dataPlane.costs : nil, quotas: dataPlane.quotas,
                           cache: ResponseCache(store: dataPlane.memory, maxEntries: config.memory.responseCacheMaxEntries,
                                                maxTemperature: config.memory.responseCacheMaxTemperature),
                           tools: tools, logger: logger)
    }
}

extension AgentRole {
    /// A role from an agent type's free-form `config` (`systemPrompt`, `taskType`, `maxTokens`,
    /// and the `models` and `providers` its tasks may be routed to).
    public init(config: [String: ConfigValue]) {
        // No `maxTokens`: the answering model's own output limit, up to AgentRole.defaultOutputTokenCeiling.
        var maxTokens: Int?
        if case .int(let value)? = config["maxTokens"], value > 0 { maxTokens = value }
        self.init(systemPrompt: config["systemPrompt"]?.stringValue,
                  defaultTaskType: config["taskType"]?.stringValue.flatMap(TaskType.init),
                  maxTokens: maxTokens,
                  allowedModels: config["models"]?.stringList,
                  allowedProviders: config["providers"]?.stringList?.compactMap(ProviderKind.init(rawValue:)))
    }
}
