import Fleet
import Foundation
import HTTPTypes
import Hummingbird
import Routing
import Store

/// `GET /v1/models` and `GET /v1/models/{id}` (fleetd's view, or an OpenAI or Anthropic model list
/// or object: see ``CompatModels/listShape(format:anthropicVersion:apiKeyHeader:bearer:)``), `GET /v1/costs`,
/// `GET /v1/agents`: what the fleet is and what it spent (a tenant's caller: its tenant's spend,
/// and no other tenant's task ids).
struct FleetRoutes {
    let manager: FleetManager
    /// Answers `GET /v1/models` in the OpenAI or Anthropic list shape when the request asks for one.
    let compat: CompatRoutes

    struct ModelView: Encodable {
        var status: ModelStatus
        var quota: QuotaDecision
        /// This model's share (0…1) of the calls the router's history counts for every model
        /// (successes and failures); `nil` before any call.
        var trafficShare: Double?
    }

    struct CostsView: Encodable {
        var report: CostReport
        /// The fleet's budget (callers who see every tenant).
        var budget: BudgetStatus?
        var alerts: [CostAlert]?
        /// The caller's own key's budget (a virtual key with limits).
        var keyBudget: BudgetStatus?
        /// `report.byAgent` summed per agent type (``AgentTypeSpend``).
        var byAgentType: [AgentTypeSpend] = []
        /// Each budget period's use: what `budget.periods` implies, spelled out for the dashboard.
        var budgetUse: [BudgetUse]?
    }

    struct BudgetUse: Encodable {
        var period: BudgetPeriod
        /// Spent plus reserved over the limit (0…1+); `nil` without a limit.
        var usedFraction: Double?
        /// US dollars left; `nil` without a limit.
        var remaining: Double?
    }

    /// Which shape `GET /v1/models` and `GET /v1/models/{id}` answer in
    /// (``CompatModels/listShape(format:anthropicVersion:apiKeyHeader:bearer:)``).
    static func modelShape(_ request: Request) throws -> CompatModels.ListShape {
        let format = request.uri.queryParameters["format"].map(String.init)
        guard let shape = CompatModels.listShape(
            format: format, anthropicVersion: request.headers[HTTPField.Name("anthropic-version")!] != nil,
            apiKeyHeader: request.headers[HTTPField.Name("x-api-key")!] != nil,
            bearer: request.headers[.authorization]?.hasPrefix("Bearer ") == true) else {
            throw APIError(.badRequest, code: "INVALID_VALUE", message: "'format' must be fleetd, openai or anthropic", field: "format")
        }
        return shape
    }

    /// fleetd's own view of every model: its breaker, quota and share of the traffic.
    func modelViews() async -> [ModelView] {
        let plane = manager.dataPlane
        let statuses = plane.router.modelStatuses()
        let calls = statuses.map { ($0.stats?.successes ?? 0) + ($0.stats?.failures ?? 0) }
        let total = calls.reduce(0, +)
        var views: [ModelView] = []
        for (status, count) in zip(statuses, calls) {
            views.append(ModelView(status: status, quota: await plane.quotas.check(provider: status.provider),
                                   trafficShare: total > 0 ? Double(count) / Double(total) : nil))
        }
        return views
    }

    func register(_ router: some RouterMethods<FleetRequestContext>) {
        router.get("v1/models") { request, _ -> Response in
            let shape = try Self.modelShape(request)
            if shape != .fleetd { return try await compat.modelList(shape) }
            let views = await modelViews()
            return try jsonResponse(["models": views])
        }
        // `GET /v1/models/{id}`: the SDKs' `models.retrieve`. The id may hold a slash
        // (`fleet/coder`, sent as one segment `fleet%2Fcoder` or as two).
        router.get("v1/models/**") { request, context -> Response in
            let raw = context.parameters.getCatchAll().joined(separator: "/")
            let id = raw.removingPercentEncoding ?? raw
            let shape = try Self.modelShape(request)
            if shape != .fleetd { return try await compat.model(id, shape: shape) }
            guard let view = await modelViews().first(where: { $0.status.name == id }) else {
                throw APIError(.notFound, code: "UNKNOWN_MODEL",
                               message: "no model '\(id)' in routing.models (the OpenAI and Anthropic lists' names, such as 'auto' and the aliases: ?format=openai)",
                               field: "model")
            }
            return try jsonResponse(view)
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
            // `format=csv`: the report as the CLI's `fleetd costs --format csv` writes it (RFC 4180).
            if let format = request.uri.queryParameters["format"], format != "json" {
                guard format == "csv" else {
                    throw APIError(.badRequest, code: "INVALID_VALUE", message: "'format' must be json or csv", field: "format")
                }
                return Response(status: .ok, headers: [.contentType: "text/csv; charset=utf-8",
                                                       .contentDisposition: "attachment; filename=\"fleetd-costs-\(report.periodKey).csv\""],
                                body: .init(byteBuffer: ByteBuffer(string: CostReportFormatter.csv(report))))
            }
            var view = CostsView(report: report)
            view.byAgentType = AgentTypeSpend.group(report.byAgent, types: await manager.agentStatuses())
            if tenant == nil {
                let budget = await plane.costs.budgetStatus()
                view.budget = budget
                view.budgetUse = budget.periods.map { BudgetUse(period: $0.period, usedFraction: $0.usedFraction, remaining: $0.remaining) }
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
