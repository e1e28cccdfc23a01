import FleetSupport
import Foundation
import Logging
import Providers
import Routing
import Store
import Streaming
import Synchronization

/// The services tasks run with under one configuration generation. A task keeps the runtime it
/// started with, so a reload never changes a task half way.
///
/// A class: every task's run holds its runtime for as long as the task lasts, and as a struct
/// (584 bytes: the streaming tool's settings and hooks, the router, the stores) each open stream
/// carried its own copy (docs/performance.md, "Memory per open stream").
public final class TaskRuntime: Sendable {
    public let generation: Int
    public let router: ModelRouter
    public let tool: StreamingTool
    public let clients: ProviderClientFactory
    /// `nil` when cost tracking is off.
    public let costs: (any CostAccounting)?
    public let quotas: (any ProviderQuotaAccounting)?
    /// The response cache for tasks with `advancedCaching` on.
    public let cache: ResponseCache?
    /// Each agent type's MCP tools (`agents[].config.mcpServers`), by agent type.
    public let tools: [String: ToolExecutor]
    /// Call targets already built under this runtime (client and key lookup per model).
    private let targetCache = TargetCache()
    public let logger: Logger

    /// Wires the tool's attempt reports into the router's breakers and history (not for calls
    /// cut short by a client that left: that says nothing of the provider), and counts every call
    /// made, cancelled ones too, against the provider's request quota, with the tokens it used.
    public init(generation: Int, router: ModelRouter, tool: StreamingTool, clients: ProviderClientFactory,
                costs: (any CostAccounting)?, quotas: (any ProviderQuotaAccounting)?, cache: ResponseCache? = nil,
                tools: [String: ToolExecutor] = [:], logger: Logger = Logger(label: "fleetd.agent")) {
        var tool = tool
        tool.onAttempt = { [router, quotas] report in
            if !report.cancelled {
                await router.recordOutcome(model: report.model, success: report.succeeded, latency: report.duration,
                                           error: report.error.map(CallFailure.init))
            }
            if let quotas, quotas.tracks(provider: report.provider.rawValue) {
                // Input tokens count the cache's already.
                let tokens = report.accepted
                    ? report.usage.map { $0.inputTokens + max($0.outputTokens, report.outputTokensSeen) } ?? report.outputTokensSeen
                    : 0
                // Counted already when a shared quota admitted the call.
                let requests = quotas.countsRequestsOnAdmission ? 0 : 1
                // Its own task: a cancelled run must still count the call it made.
                _ = await ExecutorAffinity.task { try? await quotas.record(provider: report.provider.rawValue, requests: requests, tokens: tokens) }.value
            }
        }
        // A fallback whose breaker opened since the selection (a 429 on another task) is skipped,
        // and a half-open one takes its probe slot, so one task at a time probes it.
        tool.admitFallback = { [router] target in router.beginAttempt(model: target.endpoint.name) }
        if let quotas, quotas.countsRequestsOnAdmission {
            // A quota shared by several instances admits each call before it is made; a refusal
            // skips the model (the next target is tried).
            tool.admitAttempt = { target in
                let provider = target.endpoint.provider.rawValue
                guard quotas.tracks(provider: provider), let refusal = await quotas.admit(provider: provider) else { return nil }
                // The reason says which: a limit reached fleet-wide, or a store that did not answer.
                return StreamFailure(code: .modelSelectionFailed, message: refusal.reason ?? "provider \(provider)'s quota refused the call",
                                     shortDescription: "quota_refused", terminal: true, retryable: true, model: target.endpoint.name)
            }
        }
        self.generation = generation
        self.router = router
        self.tool = tool
        self.clients = clients
        self.costs = costs
        self.quotas = quotas
        self.cache = cache
        self.tools = tools
        self.logger = logger
    }

    /// How the streaming tool reaches a configured model.
    public static func endpoint(for model: ModelConfiguration, streaming: Bool) -> ModelEndpoint {
        ModelEndpoint(name: model.name, provider: model.provider, model: model.model,
                      baseURL: model.credentials?.endpoint, apiKeyVariable: model.credentials?.apiKeyEnv,
                      supportsStreaming: streaming && model.capabilities.supportsStreaming,
                      maxOutputTokens: model.capabilities.maxOutputTokens)
    }

    /// The selection's model and then its fallbacks, as call targets. A model whose client cannot
    /// be made (its key is missing) is skipped with a log line; none left is a failure. A
    /// `local-only` task gets local targets only, whatever the selection says: the router already
    /// filters by privacy, and this keeps the promise should any path hand over a cloud model.
    func targets(for selection: ModelSelection, streaming: Bool, privacy: RoutingPrivacy) throws(TaskFailure) -> [StreamTarget] {
        let registry = router.registry
        var models = [selection.modelConfig] + selection.fallbackModels.compactMap { registry.model(named: $0) }
        if privacy == .localOnly {
            let cloud = models.filter { !$0.provider.isLocal }.map(\.name)
            if !cloud.isEmpty {
                logger.error("cloud models removed from a local-only task's targets", metadata: ["task": "\(selection.taskId)", "models": "\(cloud)"])
            }
            models.removeAll { !$0.provider.isLocal }
        }
        var targets: [StreamTarget] = []
        var skipped: [String] = []
        for model in models {
            switch targetCache.target(model: model.name, streaming: streaming, make: {
                try StreamTarget(endpoint: Self.endpoint(for: model, streaming: streaming), factory: clients)
            }) {
            case .success(let target): targets.append(target)
            case .failure(let problem): skipped.append("\(model.name): \(problem.description)")
            }
        }
        if !skipped.isEmpty {
            logger.warning("models skipped for this task", metadata: ["task": "\(selection.taskId)", "skipped": "\(skipped.joined(separator: "; "))"])
        }
        guard !targets.isEmpty else {
            throw TaskFailure(code: .modelSelectionFailed, message: "no selected model can be called: \(skipped.joined(separator: "; "))")
        }
        return targets
    }
}

extension CallFailure {
    /// The router's view of a failed call.
    init(_ error: any Error) {
        if let error = error as? ProviderError {
            let retryAfter = error.retryAfter.map { Double($0.components.seconds) + Double($0.components.attoseconds) / 1e18 }
            switch error.kind {
            case .rateLimited: self = .rateLimited(retryAfter: retryAfter)
            case .overloaded: self = .overloaded(retryAfter: retryAfter)
            case .auth, .missingCredentials: self = .authentication
            case .badRequest: self = .badRequest(status: error.status ?? 400)
            case .server: self = .server(status: error.status ?? 500)
            case .network: self = .network
            case .timeout: self = .timeout
            case .midStream, .invalidResponse: self = .other(error.kind.rawValue)
            }
        } else if let error = error as? StreamingError, error.code == .timeout {
            self = .timeout
        } else {
            self = .other(String(describing: type(of: error)))
        }
    }
}

/// The call targets a ``TaskRuntime`` has built, by model and whether it streams: building one
/// (the provider client, the key's lookup, the endpoint's checks) took about 4% of fleetd's CPU
/// per task when done for every task (docs/performance.md). A runtime lives for one config
/// generation and keys come from the environment read at start, so an entry never goes stale; a
/// model whose client cannot be made keeps its reason.
final class TargetCache: Sendable {
    struct Problem: Error, Sendable, CustomStringConvertible {
        var description: String
    }

    private let entries = Mutex<[String: Result<StreamTarget, Problem>]>([:])

    func target(model: String, streaming: Bool, make: () throws -> StreamTarget) -> Result<StreamTarget, Problem> {
        let key = streaming ? "s:" + model : "j:" + model
        if let known = entries.withLock({ $0[key] }) { return known }
        let made: Result<StreamTarget, Problem>
        do { made = .success(try make()) } catch { made = .failure(Problem(description: "\(error)")) }
        entries.withLock { $0[key] = made }
        return made
    }
}
