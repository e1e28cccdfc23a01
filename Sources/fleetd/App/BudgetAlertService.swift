import AsyncHTTPClient
import Fleet
import FleetSupport
import Foundation
import Logging
import NIOCore
import ServiceLifecycle
import Store

/// Budget alerts reach people: every COST_002 the cost tracker raises is counted in
/// `budget_alerts_total{period,threshold}` and, when `routing.costTracking.alertWebhook` is set,
/// POSTed there as JSON. Deliveries run apart from the tasks (the tracker only queues the alert)
/// and are retried with backoff; a webhook that stays down costs a log line, never a task.
struct BudgetAlertService: Service {
    let manager: FleetManager
    let metrics: FleetMetrics
    let httpClient: HTTPClient
    let logger: Logger
    /// Attempts per alert and the first pause between them (doubling).
    var attempts = 4
    var firstBackoff: Duration = .milliseconds(500)

    /// The JSON body a webhook receives.
    struct Payload: Encodable {
        var code: String
        var message: String
        var fleet: String
        var period: String
        var periodKey: String
        var thresholdPercent: Double
        var spentUSD: Double
        var limitUSD: Double
        var raisedAt: Date
    }

    func run() async throws {
        let alerts = manager.dataPlane.costs.alerts
        await withDiscardingTaskGroup { group in
            for await alert in alerts.cancelOnGracefulShutdown() {
                metrics.budgetAlert(alert)
                let config = await manager.config
                guard let hook = config.cost.alertWebhook else { continue }
                let payload = Payload(code: alert.code, message: alert.message, fleet: config.fleet.id, period: alert.period.rawValue,
                                      periodKey: alert.periodKey, thresholdPercent: alert.thresholdPercent,
                                      spentUSD: alert.spent, limitUSD: alert.limit, raisedAt: alert.raisedAt)
                group.addTask { await deliver(payload, to: hook) }
            }
        }
    }

    private func deliver(_ payload: Payload, to url: String) async {
        guard let body = try? FastJSONEncoder().encode(payload) else { return }
        var pause = firstBackoff
        for attempt in 1...attempts {
            var request = HTTPClientRequest(url: url)
            request.method = .POST
            request.headers.add(name: "content-type", value: "application/json")
            request.headers.add(name: "user-agent", value: "fleetd")
            request.body = .bytes(ByteBuffer(bytes: body))
            do {
                let response = try await httpClient.execute(request, timeout: .seconds(10))
                _ = try? await response.body.collect(upTo: 64 * 1024)
                if (200..<300).contains(Int(response.status.code)) { return }
                logger.warning("budget alert webhook answered \(response.status.code)", metadata: ["attempt": "\(attempt)", "period": "\(payload.period)"])
            } catch {
                logger.warning("budget alert webhook failed", metadata: ["attempt": "\(attempt)", "error": "\(error)"])
            }
            guard attempt < attempts else { break }
            do { try await Task.sleep(for: pause) } catch { return }
            pause *= 2
        }
        logger.error("budget alert not delivered to the webhook; it stays in the log and in budget_alerts_total",
                     metadata: ["period": "\(payload.period)", "threshold": "\(payload.thresholdPercent)", "message": "\(payload.message)"])
    }
}
