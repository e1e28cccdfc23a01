import Agents
import FakeProvider
import Foundation
import Logging
import Providers
@testable import Fleet

/// A ``FleetManager`` wired as `fleetd serve` wires it (config file, reloader, data plane in a
/// temporary directory, the manager following config changes), without HTTP. No API keys.
struct FleetHarness: Sendable {
    let directory: URL
    let configFile: URL
    let reloader: ConfigReloader
    let dataPlane: DataPlane
    let manager: FleetManager
    private let follower: Task<Void, Never>

    /// Writes `yaml` to a fresh directory's `fleet.yaml` and starts a manager on it.
    static func start(_ yaml: String) async throws -> FleetHarness {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("fleet-runtime-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let file = directory.appendingPathComponent("fleet.yaml")
        try yaml.write(to: file, atomically: true, encoding: .utf8)
        let loaded = try ConfigLoader.load(path: file.path, environment: [:])
        let reloader = try ConfigReloader(loaded: loaded, environment: [:])
        var logger = Logger(label: "fleet-runtime-test")
        logger.logLevel = .error
        let plane = try await DataPlane.open(config: loaded.config, dataDirectory: directory, logger: logger)
        let manager = await FleetManager(reloader: reloader, dataPlane: plane, clients: makeFactory(logger: logger, environment: [:]),
                                         environmentName: nil, processEnvironment: [:], logger: logger)
        let follower = Task { await manager.followConfigChanges() }
        return FleetHarness(directory: directory, configFile: file, reloader: reloader, dataPlane: plane, manager: manager, follower: follower)
    }

    /// Replaces the config file with `yaml`, reloads it and returns once the manager runs it.
    ///
    /// The manager hears of new configs through ``ConfigReloader/updates()``, to which
    /// ``FleetManager/followConfigChanges()`` subscribes asynchronously; a reload published before
    /// that subscription is not delivered, so the reload is repeated (each one a new generation)
    /// until the manager's generation is the reloader's.
    func reload(_ yaml: String) async throws {
        try yaml.write(to: configFile, atomically: true, encoding: .utf8)
        let deadline = ContinuousClock.now + .seconds(5)
        while ContinuousClock.now < deadline {
            let outcome = try await reloader.reload()
            if await waitUntil(timeout: .milliseconds(500), { await manager.generation == outcome.generation }) { return }
        }
        throw HarnessError("the manager never applied the reloaded config")
    }

    /// Money reserved now for calls in flight (the day's figure; every period holds the same).
    func reserved() async -> Double {
        await dataPlane.costs.budgetStatus().periods.first { $0.period == .day }?.reserved ?? -1
    }

    /// Stops following config changes and removes the directory.
    func stop() {
        follower.cancel()
        try? FileManager.default.removeItem(at: directory)
    }
}

struct HarnessError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
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

/// How a dispatch ended, without typed throws (tasks cannot carry them).
typealias DispatchOutcome = Result<FleetManager.Dispatched, TaskFailure>

extension FleetManager {
    /// ``dispatch(_:)`` as a `Result`.
    func dispatchOutcome(_ task: AgentTask) async -> DispatchOutcome {
        do throws(TaskFailure) { return .success(try await dispatch(task)) } catch { return .failure(error) }
    }

    /// ``dispatch(_:)`` started in its own task (it may wait for an agent).
    nonisolated func dispatchInBackground(_ task: AgentTask) -> Task<DispatchOutcome, Never> {
        Task { await self.dispatchOutcome(task) }
    }

    /// ``dispatch(_:)`` that stops waiting for an agent after `limit` (the dispatch is cancelled and
    /// fails), so a test fails instead of hanging when no agent comes back.
    nonisolated func dispatchWithin(_ limit: Duration, _ task: AgentTask) async -> DispatchOutcome {
        let attempt = dispatchInBackground(task)
        let watchdog = Task {
            try? await Task.sleep(for: limit)
            attempt.cancel()
        }
        defer { watchdog.cancel() }
        return await attempt.value
    }

    /// ``execute(_:)`` as a `Result`.
    func executeOutcome(_ task: AgentTask) async -> Result<TaskResult, TaskFailure> {
        do throws(TaskFailure) { return .success(try await execute(task)) } catch { return .failure(error) }
    }
}

extension Result {
    /// The failure, if it is one.
    var failure: Failure? {
        if case .failure(let failure) = self { return failure }
        return nil
    }

    /// The value, if it is one.
    var value: Success? { try? get() }
}

/// Fleet configs for the runtime tests.
enum RuntimeConfig {
    /// Agent types and counts (`[("general", 1)]`), the router on, and the built-in responder,
    /// `local`, as the only model.
    static func builtin(_ agents: [(String, Int)], maxAgents: Int = 8, maxQueuedTasks: Int = 1) -> String {
        """
        fleet: {id: fm-test, maxAgents: \(maxAgents), taskTimeout: 20000}
        agents:
        \(agents.map { "  - {type: \($0.0), count: \($0.1)}" }.joined(separator: "\n"))
        api: {maxQueuedTasks: \(maxQueuedTasks)}
        features: {multiModelRouter: true, streaming: false}
        routing:
          enabled: true
          defaultModel: local
          models:
            - {name: local, provider: builtin, model: fleetd-builtin}
        """
    }

    /// One `general` agent and one model, `held`, at a fake OpenAI upstream (`baseURL`), priced so
    /// that a call reserves money; `taskTimeout` in ms.
    static func held(baseURL: String, taskTimeout: Int, agents: [(String, Int)] = [("general", 1)]) -> String {
        """
        fleet: {id: fm-held, maxAgents: 8, taskTimeout: \(taskTimeout)}
        agents:
        \(agents.map { "  - {type: \($0.0), count: \($0.1)}" }.joined(separator: "\n"))
        features: {multiModelRouter: false, streaming: true}
        routing:
          enabled: true
          defaultModel: held
          models:
            - name: held
              provider: openai
              model: held-model-id
              credentials: {endpoint: "\(baseURL)/v1"}
              capabilities: {costPer1kTokens: {input: 0.01, output: 0.02}}
          costTracking: {enabled: true, budgetLimits: {daily: 5}}
        streaming: {enabled: true, timeoutMs: 60000, retryConfig: {maxRetries: 0}}
        """
    }
}
