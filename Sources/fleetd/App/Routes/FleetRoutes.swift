import Fleet
import Foundation
import HTTPTypes
import Hummingbird
import Routing
import Store

/// `GET /v1/models` (fleetd's view, or an OpenAI or Anthropic model list: see
/// ``CompatModels/listShape(format:anthropicVersion:apiKeyHeader:bearer:)``), `GET /v1/costs`, `GET /v1/agents`: what the fleet is and what it spent.
struct FleetRoutes {
    let manager: FleetManager
    /// Answers `GET /v1/models` in the OpenAI or Anthropic list shape when the request asks for one.
    let compat: CompatRoutes

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
        router.get("v1/models") { request, _ -> Response in
            let format = request.uri.queryParameters["format"].map(String.init)
            guard let shape = CompatModels.listShape(
                format: format, anthropicVersion: request.headers[HTTPField.Name("anthropic-version")!] != nil,
                apiKeyHeader: request.headers[HTTPField.Name("x-api-key")!] != nil,
                bearer: request.headers[.authorization]?.hasPrefix("Bearer ") == true) else {
                throw APIError(.badRequest, code: "INVALID_VALUE", message: "'format' must be fleetd, openai or anthropic", field: "format")
            }
            if shape != .fleetd { return try await compat.modelList(shape) }
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
