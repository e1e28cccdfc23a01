import Agents
import FakeProvider
import Foundation
import Logging
import Providers
import Routing
import Store
import Streaming
import Synchronization

/// What a ``TaskRun`` runs with, wired by hand: a cost tracker on a temporary SQLite file (a $10
/// daily budget), a router over `models` that reads that budget, and a streaming tool that does not
/// retry; `tools` are each agent type's MCP tools (a run uses them with `useTools`). No API keys.
/// `busyTimeoutSeconds` is how long the tracker's writes wait behind another writer of the file,
/// `settlementRetryInterval` the first wait before it retries a settlement the file refused;
/// `routerLogger` what the router logs to (the harness's, at `error`, when not given).
struct RunHarness: Sendable {
    let directory: URL
    let costs: CostTracker
    let router: ModelRouter
    let runtime: TaskRuntime
    /// Provider quotas on the same file, when `quotas` were given.
    var quotaManager: QuotaManager?

    static func make(models: [ModelConfiguration], defaultModel: String?, lastResort: String? = nil,
                     environment: [String: String] = [:], quotas: QuotaConfiguration? = nil,
                     policy: BudgetPolicy = .block, weights: BalancedWeights? = nil,
                     refusedSettlements: Int = 0, tools: [String: ToolExecutor] = [:], busyTimeoutSeconds: Double = 5,
                     settlementRetryInterval: Duration = .seconds(2), routerLogger: Logger? = nil) async throws -> RunHarness {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("task-run-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        var logger = Logger(label: "task-run-test")
        logger.logLevel = .error
        let database = try await StoreDatabase(path: directory.appendingPathComponent("costs.sqlite").path,
                                               configuration: StoreDatabaseConfiguration(busyTimeoutSeconds: busyTimeoutSeconds))
        let costs = try CostTracker(database: database, configuration: CostConfiguration(budgetLimits: .init(daily: 10), policy: policy),
                                    settlementRetryInterval: settlementRetryInterval, logger: logger)
        var routing = RoutingConfiguration(defaultModel: defaultModel, models: models, lastResort: lastResort)
        if let weights { routing.weights = weights }
        let router = ModelRouter(configuration: routing, scorer: ComplexityAnalyzer(), budget: costs, logger: routerLogger ?? logger)
        let streaming = StreamingConfiguration(enabled: true, timeoutMs: 10_000,
                                               retryConfig: RetryConfiguration(maxRetries: 0, backoffMs: 10))
        let tool = StreamingTool(configuration: streaming, logger: logger)
        var quotaManager: QuotaManager?
        if let quotas { quotaManager = try await QuotaManager(database: database, configuration: quotas, logger: logger) }
        let runtime = TaskRuntime(generation: 1, router: router, tool: tool, clients: makeFactory(logger: logger, environment: environment),
                                  costs: refusedSettlements > 0 ? FlakySettlingCosts(costs, failures: refusedSettlements) : costs,
                                  quotas: quotaManager, tools: tools, logger: logger)
        return RunHarness(directory: directory, costs: costs, router: router, runtime: runtime, quotaManager: quotaManager)
    }

    /// Money reserved now for calls in flight (every period holds the same figure).
    func reserved() async -> Double {
        await costs.budgetStatus().periods.first { $0.period == .day }?.reserved ?? -1
    }

    /// Money settled today.
    func spent() async -> Double {
        await costs.budgetStatus().periods.first { $0.period == .day }?.spent ?? -1
    }

    func remove() {
        try? FileManager.default.removeItem(at: directory)
    }

    /// Another connection to the cost file holds SQLite's write lock, as another process would,
    /// for `seconds`; returns once it is held.
    func holdWriteLock() async throws -> WriteLockRelease {
        let other = try await StoreDatabase(path: directory.appendingPathComponent("costs.sqlite").path)
        let (locked, signal) = AsyncStream.makeStream(of: Void.self)
        let release = WriteLockRelease()
        Task.detached {
            // A write transaction (BEGIN IMMEDIATE) that does nothing until released, on GRDB's writer thread.
            _ = try? await other.write("holding the write lock") { _ in
                signal.yield(())
                while !release.released.load(ordering: .acquiring) { Thread.sleep(forTimeInterval: 0.01) }
            }
            signal.finish()
        }
        for await _ in locked { break }
        return release
    }
}

/// Ends a ``RunHarness/holdWriteLock()``.
final class WriteLockRelease: Sendable {
    let released = Atomic(false)
    func callAsFunction() { released.store(true, ordering: .releasing) }
}

/// Model configurations for the run tests.
enum RunModels {
    /// The built-in responder.
    static func builtin(_ name: String) -> ModelConfiguration {
        ModelConfiguration(name: name, provider: .builtin, model: "fleetd-builtin")
    }

    /// An OpenAI-compatible model at a fake upstream, priced so that a call reserves money.
    static func fake(_ name: String, _ server: FakeProviderServer, pricing: ModelPricing = ModelPricing(input: 0.01, output: 0.02),
                     maxOutputTokens: Int? = nil) -> ModelConfiguration {
        ModelConfiguration(name: name, provider: .openai, model: "\(name)-id",
                           capabilities: ModelCapabilities(costPer1kTokens: pricing, maxOutputTokens: maxOutputTokens),
                           credentials: ModelCredentials(endpoint: server.baseURL + "/v1"))
    }
}

extension TaskRun {
    /// Every event of the run, to the end.
    func events() async -> [TaskEvent] {
        var events: [TaskEvent] = []
        for await event in self { events.append(event) }
        return events
    }

    /// ``result()`` as a `Result`.
    func outcome() async -> Result<TaskResult, TaskFailure> {
        do throws(TaskFailure) { return .success(try await result()) } catch { return .failure(error) }
    }
}

extension [TaskEvent] {
    var start: TaskStart? { compactMap { if case .start(let start) = $0 { start } else { nil } }.first }
    var chunkTexts: [String] { compactMap { if case .chunk(let chunk) = $0 { chunk.text } else { nil } } }
    var result: TaskResult? { compactMap { if case .complete(let result) = $0 { result } else { nil } }.first }
}

/// Polls `condition` every 10 ms until it holds or `timeout` passes; returns whether it held.
func waitUntil(timeout: Duration = .seconds(5), _ condition: () async -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if await condition() { return true }
        try? await Task.sleep(for: .milliseconds(10))
    }
    return await condition()
}

/// The cost tracker, with its first `failures` settlements refused as a locked store would.
final class FlakySettlingCosts: CostAccounting, @unchecked Sendable {
    // @unchecked: `failuresLeft` is only touched under `lock`; `tracker` is an actor.
    let tracker: CostTracker
    private let lock = NSLock()
    private var failuresLeft: Int
    init(_ tracker: CostTracker, failures: Int) {
        self.tracker = tracker
        self.failuresLeft = failures
    }
    var configuration: CostConfiguration { tracker.configuration }
    var alerts: AsyncStream<CostAlert> { tracker.alerts }
    func budgetStatus() async -> BudgetStatus { await tracker.budgetStatus() }
    func update(configuration: CostConfiguration, memoryConfiguration: MemoryStoreConfiguration) async throws {
        try await tracker.update(configuration: configuration, memoryConfiguration: memoryConfiguration)
    }
    func reserve(_ call: CostCall, estimatedCost: Double, isCheaperAlternative: Bool, keyLimits: CostConfiguration.BudgetLimits?) async throws -> CostReservation {
        try await tracker.reserve(call, estimatedCost: estimatedCost, isCheaperAlternative: isCheaperAlternative, keyLimits: keyLimits)
    }
    func release(_ reservation: CostReservation) async { await tracker.release(reservation) }
    func settle(_ reservation: CostReservation, usage: CostUsage, pricing: ModelPricing, basis: CostBasis) async throws -> CostLedgerEntry {
        let refuse = lock.withLock { () -> Bool in
            guard failuresLeft > 0 else { return false }
            failuresLeft -= 1
            return true
        }
        if refuse { throw StoreError(.locked, "database is locked") }
        return try await tracker.settle(reservation, usage: usage, pricing: pricing, basis: basis)
    }
    func record(_ call: CostCall, usage: CostUsage, pricing: ModelPricing, entryId: String, basis: CostBasis) async throws -> CostLedgerEntry {
        try await tracker.record(call, usage: usage, pricing: pricing, entryId: entryId, basis: basis)
    }
    func billUnsettledReservations() async throws -> [CostLedgerEntry] { try await tracker.billUnsettledReservations() }
    func raisedAlerts() async throws -> [CostAlert] { try await tracker.raisedAlerts() }
    func keyBudgetStatus(keyId: String, limits: CostConfiguration.BudgetLimits) async -> BudgetStatus {
        await tracker.keyBudgetStatus(keyId: keyId, limits: limits)
    }
    func report(period: BudgetPeriod, breakdowns: Set<CostReport.Breakdown>, tenant: String?) async throws -> CostReport {
        try await tracker.report(period: period, breakdowns: breakdowns, tenant: tenant)
    }
    func flushPendingWrites() async { await tracker.flushPendingWrites() }
    func pendingTokens(keyId: String, since: Date) async -> (tokens: Int, oldest: Date?) { await tracker.pendingTokens(keyId: keyId, since: since) }
}
