import Metrics
import Prometheus

/// fleetd's Prometheus metrics, with help text, plus the registry `/metrics` renders.
///
/// Names follow seed 002's (`model_request_duration_seconds`, `model_tokens_used_total`,
/// `model_cost_usd_total`, `budget_utilization_percent` …). Metrics emitted through the
/// swift-metrics API by the library modules land in the same registry.
final class FleetMetrics: Sendable {
    let registry: PrometheusCollectorRegistry

    init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.registry = registry
    }

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
        registry.makeDurationHistogram(
            name: "fleetd_http_request_duration_seconds",
            labels: [("method", method), ("route", route), ("status", String(status))],
            buckets: Self.latencyBuckets,
            help: "Time fleetd took to answer an HTTP request (to the last byte for JSON, to the response head for SSE)."
        ).record(duration)
    }
}
