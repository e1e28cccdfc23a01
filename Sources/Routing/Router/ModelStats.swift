import Foundation

/// What routing has observed of one model: successes, failures and latency. Kept in `routing/stats`.
public struct ModelStats: Sendable, Codable, Hashable {
    public var model: String
    public var successes: Int
    public var failures: Int
    /// Failures since the last success.
    public var consecutiveFailures: Int
    /// Exponentially weighted mean latency of successful calls, in ms; `nil` before the first.
    public var meanLatencyMs: Double?
    /// Successful calls that fed ``meanLatencyMs``.
    public var latencySamples: Int
    /// The last failure, described without any key.
    public var lastError: String?
    public var updatedAt: Date

    /// Weight of the newest latency in the running mean (after the first ten samples).
    public static let latencySmoothing = 0.2
    /// Prior of the success rate: as if the model had `priorCalls` calls at `priorSuccessRate`.
    public static let priorCalls = 2.0
    public static let priorSuccessRate = 0.9

    public init(model: String, successes: Int = 0, failures: Int = 0, consecutiveFailures: Int = 0,
                meanLatencyMs: Double? = nil, latencySamples: Int = 0, lastError: String? = nil,
                updatedAt: Date = Date(timeIntervalSince1970: 0)) {
        self.model = model
        self.successes = successes
        self.failures = failures
        self.consecutiveFailures = consecutiveFailures
        self.meanLatencyMs = meanLatencyMs
        self.latencySamples = latencySamples
        self.lastError = lastError
        self.updatedAt = updatedAt
    }

    /// Calls observed.
    public var calls: Int { successes + failures }

    /// The smoothed success rate, 0…1: a model with no calls gets the prior (0.9), so a new model is
    /// neither preferred nor shunned.
    public var successRate: Double {
        (Double(successes) + Self.priorCalls * Self.priorSuccessRate) / (Double(calls) + Self.priorCalls)
    }

    /// Adds one outcome. Latency feeds the mean only on success (a fast failure says nothing about speed).
    public mutating func record(success: Bool, latencyMs: Double?, error: String?, at now: Date) {
        if success {
            successes += 1
            consecutiveFailures = 0
            if let latencyMs, latencyMs.isFinite, latencyMs >= 0 {
                latencySamples += 1
                if let mean = meanLatencyMs {
                    // A plain mean for the first samples, then an exponentially weighted one.
                    let alpha = max(Self.latencySmoothing, 1 / Double(latencySamples))
                    meanLatencyMs = mean + alpha * (latencyMs - mean)
                } else {
                    meanLatencyMs = latencyMs
                }
            }
        } else {
            failures += 1
            consecutiveFailures += 1
            lastError = error
        }
        updatedAt = now
    }
}

/// Where routing keeps ``ModelStats`` between runs. Module Agents backs it with the SQLite memory
/// store's `routing/stats` partition (one entry per model, written through `WriteBehindRecorder`);
/// tests use ``InMemoryRoutingStatsStore``.
public protocol RoutingStatsStore: Sendable {
    /// Every stored model's stats.
    func loadStats() async throws -> [ModelStats]
    /// Stores one model's stats, replacing what was there.
    func saveStats(_ stats: ModelStats) async throws
    /// A store several fleetd instances share records the outcome in the stored stats itself (an
    /// atomic read-modify-write), so every instance's calls count, and returns them as stored.
    /// `nil`: the store is this process's own; the caller saves its stats (``saveStats(_:)``).
    func recordOutcome(model: String, success: Bool, latencyMs: Double?, error: String?, at now: Date) async throws -> ModelStats?
}

extension RoutingStatsStore {
    /// Not shared: the caller saves its own stats.
    public func recordOutcome(model: String, success: Bool, latencyMs: Double?, error: String?, at now: Date) async throws -> ModelStats? {
        nil
    }
}

/// Where routing records each selection: `routing/selections/<taskId>` in the memory store.
public protocol SelectionRecorder: Sendable {
    func record(_ selection: ModelSelection) async throws
}

/// A ``RoutingStatsStore`` in memory: for tests and for running without a data directory.
public actor InMemoryRoutingStatsStore: RoutingStatsStore {
    private var stats: [String: ModelStats]

    public init(_ initial: [ModelStats] = []) {
        stats = Dictionary(initial.map { ($0.model, $0) }, uniquingKeysWith: { _, last in last })
    }

    public func loadStats() async throws -> [ModelStats] { stats.values.sorted { $0.model < $1.model } }
    public func saveStats(_ stats: ModelStats) async throws { self.stats[stats.model] = stats }
}

/// A ``SelectionRecorder`` in memory, keyed by task id: for tests and for running without a data directory.
public actor InMemorySelectionRecorder: SelectionRecorder {
    public private(set) var selections: [String: ModelSelection] = [:]
    public init() {}
    public func record(_ selection: ModelSelection) async throws { selections[selection.taskId] = selection }
    /// The selection recorded for a task.
    public func selection(for taskId: String) -> ModelSelection? { selections[taskId] }
}
