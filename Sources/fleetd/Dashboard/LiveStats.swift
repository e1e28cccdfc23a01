import Agents
import Foundation
import Routing
import Synchronization

/// What the dashboard shows live and the store does not keep: the task path's last minutes
/// (``LiveSeries``) and the last routing selections. Fed by ``FleetMetrics`` wherever a task
/// finishes, fails, streams its first chunk, or opens and closes a stream; read by
/// `GET /v1/stats/live` and `GET /v1/routing/recent`. A hot synchronous path, so a `Mutex`
/// around pure values; nothing awaits under the lock.
final class LiveStats: Sendable {
    private struct State {
        var series: LiveSeries
        var selections: [RecentSelection] = []
    }

    /// Selections kept for `GET /v1/routing/recent`.
    static let selectionCapacity = 100

    private let state: Mutex<State>
    private let now: @Sendable () -> Date

    init(series: LiveSeries = LiveSeries(), now: @escaping @Sendable () -> Date = { Date() }) {
        state = Mutex(State(series: series))
        self.now = now
    }

    func taskFinished(_ result: TaskResult) {
        let time = now()
        let recent = RecentSelection(result, at: time)
        state.withLock { state in
            state.series.taskFinished(latencyMs: result.durationMs, at: time)
            state.selections.append(recent)
            if state.selections.count > Self.selectionCapacity { state.selections.removeFirst() }
        }
    }

    func taskFailed() {
        let time = now()
        state.withLock { $0.series.taskFailed(at: time) }
    }

    func firstChunk(after duration: Duration) {
        let time = now()
        let milliseconds = Double(duration.components.seconds) * 1_000 + Double(duration.components.attoseconds) / 1e15
        state.withLock { $0.series.firstChunk(afterMs: milliseconds, at: time) }
    }

    func streamOpened() {
        let time = now()
        state.withLock { $0.series.streamOpened(at: time) }
    }

    func streamClosed() {
        let time = now()
        state.withLock { $0.series.streamClosed(at: time) }
    }

    func sample(queueDepth: Int) {
        let time = now()
        state.withLock { $0.series.sample(queueDepth: queueDepth, at: time) }
    }

    /// The window as the API answers it.
    func view(queueDepth: Int) -> LiveStatsView {
        let time = now()
        return state.withLock { state in
            state.series.sample(queueDepth: queueDepth, at: time)
            return LiveStatsView(state.series, at: time)
        }
    }

    /// The newest selections first, at most `limit`.
    func recentSelections(limit: Int) -> [RecentSelection] {
        state.withLock { Array($0.selections.reversed().prefix(max(0, limit))) }
    }
}

/// `GET /v1/stats/live`: the last minutes of the task path, one entry per bucket, oldest first.
struct LiveStatsView: Encodable {
    struct Bucket: Encodable {
        var start: Date
        /// Tasks ended in the bucket (completed or failed).
        var tasks: Int
        var errors: Int
        var tasksPerSecond: Double
        var latencyP50Ms: Double?
        var latencyP99Ms: Double?
        var firstChunkP50Ms: Double?
        var firstChunkP99Ms: Double?
        var activeStreams: Int
        var queueDepth: Int
    }
    var bucketSeconds: Int
    var windowSeconds: Int
    var generatedAt: Date
    /// Since fleetd started.
    var totalTasks: Int
    var totalErrors: Int
    var activeStreams: Int
    var queueDepth: Int
    var buckets: [Bucket]

    init(_ series: LiveSeries, at now: Date) {
        bucketSeconds = series.width
        windowSeconds = series.width * series.capacity
        generatedAt = now
        totalTasks = series.totalTasks
        totalErrors = series.totalErrors
        activeStreams = series.activeStreams
        let window = series.window(at: now)
        queueDepth = window.last?.peakQueue ?? 0
        buckets = window.map { bucket in
            Bucket(start: Date(timeIntervalSince1970: TimeInterval(bucket.start)), tasks: bucket.tasks, errors: bucket.errors,
                   tasksPerSecond: Double(bucket.tasks) / Double(series.width),
                   latencyP50Ms: bucket.latencyMs.quantile(0.5), latencyP99Ms: bucket.latencyMs.quantile(0.99),
                   firstChunkP50Ms: bucket.firstChunkMs.quantile(0.5), firstChunkP99Ms: bucket.firstChunkMs.quantile(0.99),
                   activeStreams: bucket.peakStreams, queueDepth: bucket.peakQueue)
        }
    }
}

/// One routing selection as `GET /v1/routing/recent` lists it: which model, why, and the
/// complexity factors behind the score.
struct RecentSelection: Sendable, Encodable {
    var taskId: String
    var at: Date
    var agentId: String
    /// The router's pick.
    var selected: String
    /// The model that answered (a fallback's name when the pick failed).
    var answeredBy: String
    var provider: String
    var routed: Bool
    var reason: String
    var taskType: String
    var complexity: Double
    var factors: ComplexityFactors
    var fallbackModels: [String]
    var estimatedCost: Double
    var cost: Double
    var durationMs: Double

    init(_ result: TaskResult, at time: Date) {
        taskId = result.taskId
        at = time
        agentId = result.agentId
        selected = result.selection.modelName
        answeredBy = result.model
        provider = result.provider.rawValue
        routed = result.selection.routed
        reason = result.selection.reason
        taskType = result.selection.complexity.taskType.rawValue
        complexity = result.selection.complexity.overall
        factors = result.selection.complexity.factors
        fallbackModels = result.selection.fallbackModels
        estimatedCost = result.selection.estimatedCost
        cost = result.cost
        durationMs = result.durationMs
    }
}
