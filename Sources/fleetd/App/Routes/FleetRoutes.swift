import Fleet
import Foundation
import HTTPTypes
import Hummingbird
import Routing
import Store

/// `GET /v1/models` (fleetd's view, or an OpenAI or Anthropic model list: see
/// ``CompatModels/listShape(format:anthropicVersion:apiKeyHeader:bearer:)``), `GET /v1/costs`,
/// `GET /v1/agents`: what the fleet is and what it spent (a tenant's caller: its tenant's spend,
/// and no other tenant's task ids).
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
        /// The fleet's budget (callers who see every tenant).
        var budget: BudgetStatus?
        var alerts: [CostAlert]?
        /// The caller's own key's budget (a virtual key with limits).
        var keyBudget: BudgetStatus?
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
        router.get("v1/costs") { request, context -> Response in
            let name = request.uri.queryParameters["period"].map(String.init) ?? "day"
            guard let period = BudgetPeriod(rawValue: name) else {
                throw APIError(.badRequest, code: "INVALID_VALUE", message: "'period' must be day, week or month", field: "period")
            }
            var breakdowns: Set<CostReport.Breakdown> = []
            if let by = request.uri.queryParameters["by"] {
                guard let breakdown = CostReport.Breakdown(rawValue: String(by)) else {
                    throw APIError(.badRequest, code: "INVALID_VALUE", message: "'by' must be key or tenant", field: "by")
                }
                breakdowns.insert(breakdown)
            }
            let plane = manager.dataPlane
            // A tenant's caller sees its own tenant's spend and its key's budget, nothing fleet-wide.
            let caller = context.caller
            let tenant = caller?.seesAllTenants == false ? caller?.tenantId : nil
            // From the ledger the tracker writes: with PostgreSQL, the whole fleet's.
            let report = try await plane.costs.report(period: period, breakdowns: breakdowns, tenant: tenant)
            var view = CostsView(report: report)
            if tenant == nil {
                view.budget = await plane.costs.budgetStatus()
                view.alerts = try await plane.costs.raisedAlerts()
            }
            if let keyId = caller?.keyId, let budget = caller?.limits?.budget, budget.isLimited {
                view.keyBudget = await plane.costs.keyBudgetStatus(keyId: keyId, limits: budget)
            }
            return try jsonResponse(view)
        }
        router.get("v1/agents") { _, context -> Response in
            var agents = await manager.agentStatuses()
            // Which task an agent runs is another tenant's business.
            if context.caller?.seesAllTenants == false {
                for index in agents.indices { agents[index].currentTask = nil }
            }
            return try jsonResponse(["agents": agents])
        }
    }
}
