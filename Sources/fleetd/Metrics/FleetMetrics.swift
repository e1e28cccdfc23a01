import Agents
import Fleet
import FleetSupport
import Metrics
import Prometheus
import Routing
import Store
import Streaming
import Synchronization

/// fleetd's Prometheus metrics, with help text, plus the registry `/metrics` renders.
///
/// Names are the ones README.md's HTTP API table lists for `/metrics` (`model_request_duration_seconds`,
/// `model_tokens_used_total`, `model_cost_usd_total`, `budget_utilization_percent` …). Metrics emitted through the
/// swift-metrics API by the library modules land in the same registry.
final class FleetMetrics: Sendable {
    let registry: PrometheusCollectorRegistry
    /// The last minutes of the task path and the last routing selections, for the dashboard.
    let live: LiveStats
    /// SIGTERM's deadline for the streams still open (``DrainNoticeService`` arms it), and the
    /// requests in flight its notice counts.
    let drain = DrainDeadline()

    /// The handles every task updates, made once. The registry's `make…` finds a metric by its
    /// name and labels under a lock each time it is called: a finished task and its HTTP request
    /// made nine such calls, 0.7% of a task's CPU on config/fleet.yaml. fleetd never unregisters a
    /// metric, so a handle stays the registry's.
    private let perModel = Mutex<[ModelLabels: ModelHandles]>([:])
    private let perRoute = Mutex<[RouteLabels: Prometheus.DurationHistogram]>([:])

    private struct ModelLabels: Hashable {
        var model: String
        var provider: String
    }

    private struct ModelHandles {
        var duration: Prometheus.DurationHistogram
        var input: Prometheus.Counter
        var output: Prometheus.Counter
        var cached: Prometheus.Counter
        var cost: Prometheus.Gauge
        /// `fleetd_tasks_total{outcome="completed"}`, the same for every model (made with the
        /// first model's, so it appears once a task completed).
        var completed: Prometheus.Counter
    }

    private struct RouteLabels: Hashable {
        var method: String
        var route: String
        var status: Int
    }

    init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry(), live: LiveStats = LiveStats()) {
        self.registry = registry
        self.live = live
    }

    private static let tasksHelp = "Tasks finished, by outcome."

    /// Makes this registry the backend of the swift-metrics API (once per process).
    func bootstrapMetricsSystem() {
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
    }

    /// The registry in Prometheus text format.
    func render() -> String {
        var buffer: [UInt8] = []
        registry.emit(into: &buffer)
        return String(decoding: buffer, as: UTF8.self)
    }

    static let latencyBuckets: [Duration] = [.milliseconds(1), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50),
                                             .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2),
                                             .seconds(5), .seconds(10), .seconds(30), .seconds(60)]

    func httpRequest(method: String, route: String, status: Int, duration: Duration) {
        let labels = RouteLabels(method: method, route: route, status: status)
        if let histogram = perRoute.withLock({ $0[labels] }) { return histogram.record(duration) }
        let histogram = registry.durationHistogram(
            name: "fleetd_http_request_duration_seconds",
            labels: [("method", method), ("route", route), ("status", String(status))],
            buckets: Self.latencyBuckets,
            help: "Time fleetd took to answer an HTTP request (to the last byte for JSON, to the response head for SSE)."
        )
        perRoute.withLock { $0[labels] = histogram }
        histogram.record(duration)
    }

    private func handles(model: String, provider: String) -> ModelHandles {
        let key = ModelLabels(model: model, provider: provider)
        if let handles = perModel.withLock({ $0[key] }) { return handles }
        let labels = [("model", model), ("provider", provider)]
        func tokens(_ kind: String) -> Prometheus.Counter {
            registry.counter(name: "model_tokens_used_total", labels: labels + [("kind", kind)],
                             help: "Tokens used, per model and kind (input includes cached).")
        }
        let handles = ModelHandles(
            duration: registry.durationHistogram(name: "model_request_duration_seconds", labels: labels, buckets: Self.latencyBuckets,
                                                 help: "Time from a task's start to its complete answer, per model."),
            input: tokens("input"), output: tokens("output"), cached: tokens("cached"),
            cost: registry.gauge(name: "model_cost_usd_total", labels: labels, help: "US dollars spent per model since start."),
            completed: registry.counter(name: "fleetd_tasks_total", labels: [("outcome", "completed")], help: Self.tasksHelp)
        )
        perModel.withLock { $0[key] = handles }
        return handles
    }
}


extension FleetMetrics {
    func taskFinished(_ result: TaskResult) {
        live.taskFinished(result)
        let model = handles(model: result.model, provider: result.provider.rawValue)
        model.duration.record(.milliseconds(Int64(result.durationMs)))
        model.input.increment(by: Int64(result.usage.inputTokens))
        model.output.increment(by: Int64(result.usage.outputTokens))
        model.cached.increment(by: Int64(result.usage.cachedTokens))
        model.cost.increment(by: result.cost)
        model.completed.increment()
        if let cache = result.cache {
            registry.counter(name: "fleetd_cache_lookups_total", labels: [("result", cache)],
                             help: "Response cache lookups (advancedCaching), by result: hit or miss.").increment()
            if let saved = result.cacheSavedUSD {
                registry.gauge(name: "fleetd_cache_saved_usd_total", help: "US dollars the response cache saved since start.").increment(by: saved)
            }
        }
        if result.selection.modelName != result.model {
            registry.counter(name: "routing_fallbacks_total", labels: [("from", result.selection.modelName), ("to", result.model)],
                             help: "Tasks answered by a fallback model instead of the router's pick.").increment()
        }
        if result.backpressureEvents > 0 { streamFinished(backpressureEvents: result.backpressureEvents) }
        if result.synchronousFallback {
            registry.counter(name: "stream_sync_fallbacks_total", help: "Streams that fell back to a synchronous call.").increment()
        }
    }

    /// An agent's MCP tool call ended (`mcpTools`).
    func toolCall(_ report: ToolCallReport) {
        // A tool the model made up is not a label: its name is the model's output, unbounded.
        let tool = report.outcome == .rejected ? "unknown" : report.tool
        let labels = [("server", report.server ?? "none"), ("tool", tool), ("outcome", report.outcome.rawValue)]
        registry.counter(name: "fleetd_tool_calls_total", labels: labels,
                         help: "Tool calls agents made through MCP servers, by server, tool and outcome.").increment()
        registry.durationHistogram(name: "fleetd_tool_call_duration_seconds", labels: [("server", report.server ?? "none")],
                                   buckets: Self.latencyBuckets, help: "Time a tool call took, per MCP server.")
            .record(.milliseconds(Int64(report.durationMs)))
    }

    /// Counts a task by how it ended.
    func taskEnded(_ outcome: Result<TaskResult, TaskFailure>) {
        switch outcome {
        case .success(let result): taskFinished(result)
        case .failure(let failure): taskFailed(code: failure.code)
        }
    }

    func taskFailed(code: ErrorCode) {
        live.taskFailed()
        registry.counter(name: "fleetd_tasks_total", labels: [("outcome", "failed")], help: Self.tasksHelp).increment()
        registry.counter(name: "model_errors_total", labels: [("code", code.rawValue)], help: "Failed tasks, by error code.").increment()
    }

    func timeToFirstChunk(_ duration: Duration) {
        live.firstChunk(after: duration)
        registry.durationHistogram(name: "stream_time_to_first_chunk_seconds", buckets: Self.latencyBuckets,
                                   help: "Time from an SSE task's start to its first chunk.").record(duration)
    }
}


extension FleetMetrics {
    /// Gauges read at scrape time: each breaker's state (0 closed, 1 half-open, 2 open) and each
    /// budget period's use in percent.
    /// A COST_002 budget alert was raised.
    func budgetAlert(_ alert: CostAlert) {
        registry.counter(name: "budget_alerts_total",
                         labels: [("period", alert.period.rawValue), ("threshold", String(Int(alert.thresholdPercent)))],
                         help: "Budget alerts (COST_002) raised, by period and threshold percent.").increment()
    }

    /// `loopsStalled`: how many event loops have a job waiting 5 s or more (``EventLoopWatch``).
    func refreshGauges(_ manager: FleetManager, loopsStalled: Int = 0) async {
        registry.gauge(name: "fleetd_event_loops_stalled", help: "Event loops whose queued job has waited 5 s or more (a blocked thread).")
            .set(Double(loopsStalled))
        let plane = manager.dataPlane
        registry.gauge(name: "fleetd_tasks_waiting", help: "Tasks waiting for an idle agent.").set(Double(await manager.waitingTasks))
        for status in plane.router.modelStatuses() {
            if let breaker = status.breaker {
                registry.gauge(name: "provider_breaker_state", labels: [("scope", "model"), ("name", status.name)],
                               help: "Circuit breaker state: 0 closed, 1 half-open, 2 open.").set(Self.value(breaker.state))
            }
            if let breaker = status.providerBreaker {
                registry.gauge(name: "provider_breaker_state", labels: [("scope", "provider"), ("name", status.provider)],
                               help: "Circuit breaker state: 0 closed, 1 half-open, 2 open.").set(Self.value(breaker.state))
            }
        }
        let budget = await plane.costs.budgetStatus()
        for period in budget.periods {
            guard let used = period.usedFraction else { continue }
            registry.gauge(name: "budget_utilization_percent", labels: [("period", period.period.rawValue)],
                           help: "Spent plus reserved, as a percentage of the period's budget.").set(used * 100)
        }
    }

    func streamFinished(backpressureEvents: Int) {
        registry.counter(name: "stream_backpressure_events_total",
                         help: "Times a stream stopped reading from its provider because its buffer reached the high mark.")
            .increment(by: Int64(backpressureEvents))
    }

    private static func value(_ state: CircuitBreaker.State) -> Double {
        switch state {
        case .closed: 0
        case .halfOpen: 1
        case .open: 2
        }
    }
}

/// The registry's collectors by their full name, as fleetd names its metrics (swift-prometheus
/// 2.3 deprecated the name-and-help functions for ``MetricNameDescriptor``, whose parts fleetd
/// does not use: the whole name goes in `metricName`).
extension PrometheusCollectorRegistry {
    func counter(name: String, labels: [(String, String)] = [], help: String) -> Prometheus.Counter {
        makeCounter(descriptor: MetricNameDescriptor(metricName: name, unitName: "", helpText: help), labels: labels)
    }

    func gauge(name: String, labels: [(String, String)] = [], help: String) -> Prometheus.Gauge {
        makeGauge(descriptor: MetricNameDescriptor(metricName: name, unitName: "", helpText: help), labels: labels)
    }

    func durationHistogram(name: String, labels: [(String, String)] = [], buckets: [Duration], help: String) -> DurationHistogram {
        makeDurationHistogram(descriptor: MetricNameDescriptor(metricName: name, unitName: "", helpText: help), labels: labels, buckets: buckets)
    }
}
