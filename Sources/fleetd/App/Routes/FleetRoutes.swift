import Fleet
import Foundation
import Hummingbird
import Routing
import Store

/// `GET /v1/models`, `GET /v1/costs`, `GET /v1/agents`: what the fleet is and what it spent.
struct FleetRoutes {
    let manager: FleetManager

    struct ModelView: Encodable {
        var status: ModelStatus
        var quota: QuotaDecision
    }

    struct CostsView: Encodable {
        var report: CostReport
        var budget: BudgetStatus
        var alerts: [CostAlert]
    }

    func register(_ router: some RouterMethods<FleetRequestContext>) {
        router.get("v1/models") { _, _ -> Response in
            let plane = manager.dataPlane
            var views: [ModelView] = []
            for status in plane.router.modelStatuses() {
                views.append(ModelView(status: status, quota: await plane.quotas.check(provider: status.provider)))
            }
            return try jsonResponse(["models": views])
        }
        router.get("v1/costs") { request, _ -> Response in
            let name = request.uri.queryParameters["period"].map(String.init) ?? "day"
            guard let period = BudgetPeriod(rawValue: name) else {
                throw APIError(.badRequest, code: "INVALID_VALUE", message: "'period' must be day, week or month", field: "period")
            }
            let plane = manager.dataPlane
            let timeZone = await manager.config.cost.timeZone
            let report = try await CostReport.load(database: plane.database, period: period, timeZoneIdentifier: timeZone)
            return try jsonResponse(CostsView(report: report, budget: await plane.costs.budgetStatus(),
                                              alerts: try await plane.costs.raisedAlerts()))
        }
        router.get("v1/agents") { _, _ -> Response in
            try jsonResponse(["agents": await manager.agentStatuses()])
        }
    }
}
