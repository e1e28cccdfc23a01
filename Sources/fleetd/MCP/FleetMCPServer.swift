import Agents
import Fleet
import FleetSupport
import Foundation
import MCP
import Providers
import Routing
import Store
import Streaming

/// fleetd as an MCP server (modelcontextprotocol/swift-sdk): one `Server` per client session,
/// over stdio (`fleetd mcp`) or Streamable HTTP (`/mcp` on the serve port). Tools are listed by
/// ``FleetMCPTools``; each call goes the way its HTTP twin goes (`run_task` = `POST /v1/tasks`,
/// `route` = `POST /v1/route`, `costs`, `models`, `flags`), as the session's caller: over HTTP the
/// authenticated caller that opened the session, over stdio the operator who started fleetd.
/// Bad arguments are MCP errors (-32602) naming the argument; a task that fails is a tool result
/// with `isError: true` and the fleetd error code.
struct FleetMCPServer: Sendable {
    let manager: FleetManager
    let reloader: ConfigReloader
    let metrics: FleetMetrics
    /// `FLEETD_ADMIN_TOKEN`: changing a flag needs it (or an admin caller).
    let adminToken: String?
    /// `--environment`: the flags' environment.
    let environment: String?
    /// The session's caller; `nil` over stdio (the operator, who sees every tenant).
    let caller: Caller?
    /// Where flag changes are logged for the dashboard (`GET /v1/flags/history`); `nil` over stdio.
    var flagChanges: FlagChangeLog? = nil
    /// The tasks this session's `run_task` calls are running (ended with the session).
    let running = MCPRunningCalls()

    static let version = "1.1.0"

    func makeServer() async -> Server {
        let server = Server(
            name: "fleetd", version: Self.version, title: "fleetd",
            instructions: "fleetd runs tasks on a fleet of LLM agents: run_task routes a task to a model and returns the answer; route explains the choice; costs, models and flags show the fleet.",
            capabilities: .init(resources: .init(subscribe: false, listChanged: false), tools: .init(listChanged: false)))
        let this = self
        await server.withMethodHandler(ListTools.self) { _ in
            .init(tools: FleetMCPTools.list(await this.manager.config))
        }
        // `tools/call` with its params as sent: fleetd reads them, so a malformed call is -32602
        // naming the field rather than the SDK's -32603 (``ToolCallRequest``).
        await server.withMethodHandler(ToolCallRequest.self) { [weak server] params in
            try await this.call(try Self.callParameters(params), server: server)
        }
        await server.withMethodHandler(ListResources.self) { _ in
            .init(resources: [
                Resource(name: "config", uri: "fleetd://config", title: "The running config",
                         description: "The config in force (after reloads and runtime flag changes), secrets redacted.", mimeType: "application/json"),
                Resource(name: "costs-day", uri: "fleetd://costs/day", title: "Spend today", description: "The cost report for today.", mimeType: "application/json"),
                Resource(name: "costs-week", uri: "fleetd://costs/week", title: "Spend this week", description: "The cost report for this week.", mimeType: "application/json"),
                Resource(name: "costs-month", uri: "fleetd://costs/month", title: "Spend this month", description: "The cost report for this month.", mimeType: "application/json"),
            ])
        }
        // MCP Inspector and other clients ask for templates when a server has resources.
        await server.withMethodHandler(ListResourceTemplates.self) { _ in
            .init(templates: [
                Resource.Template(uriTemplate: "fleetd://costs/{period}", name: "costs", title: "Spend for a period",
                                  description: "The cost report for a budget period: day, week or month.",
                                  mimeType: "application/json"),
            ])
        }
        // Read raw, as `tools/call` is: a missing or non-string `uri` is -32602, not the SDK's -32603.
        await server.withMethodHandler(ResourceReadRequest.self) { params in
            try await this.read(try Self.resourceURI(params))
        }
        return server
    }

    // MARK: - Tools

    func call(_ params: CallTool.Parameters, server: Server?) async throws -> CallTool.Result {
        let config = await manager.config
        let arguments = params.arguments ?? [:]
        switch params.name {
        case "run_task":
            return try await runTask(try taskArguments(arguments, tool: params.name, config: config), progress: progressSender(params, server))
        case "route":
            return try await route(try taskArguments(arguments, tool: params.name, config: config))
        case "costs":
            try Self.checkKnown(arguments, tool: "costs", known: ["period", "by"])
            return try await costs(arguments)
        case "models":
            try Self.checkKnown(arguments, tool: "models", known: [])
            return try await models()
        case "flags":
            try Self.checkKnown(arguments, tool: "flags", known: ["name", "enabled", "rollout", "agentType", "environment", "adminToken"])
            return try await flags(arguments)
        case let name where name.hasPrefix(FleetMCPTools.agentPrefix):
            guard let agent = config.agents.first(where: { FleetMCPTools.agentPrefix + FleetMCPTools.toolSafe($0.type) == name }) else {
                throw MCPError.invalidParams("unknown tool '\(name)'; known: \(FleetMCPTools.list(config).map(\.name).joined(separator: ", "))")
            }
            var task = try taskArguments(arguments, tool: name, config: config, agentTypeArgument: false)
            task.agentType = agent.type
            return try await runTask(task, progress: progressSender(params, server))
        default:
            throw MCPError.invalidParams("unknown tool '\(params.name)'; known: \(FleetMCPTools.list(config).map(\.name).joined(separator: ", "))")
        }
    }

    private func progressSender(_ params: CallTool.Parameters, _ server: Server?) -> @Sendable (String, Int) async -> Void {
        guard let token = params._meta?.progressToken else { return { _, _ in } }
        return { [weak server] text, sequence in
            try? await server?.notify(ProgressNotification.message(.init(progressToken: token, progress: Double(sequence + 1), message: text)))
        }
    }

    private func runTask(_ task: AgentTask, progress: @escaping @Sendable (String, Int) async -> Void) async throws -> CallTool.Result {
        var task = task
        task.stream = true
        let outcome = try await MCPTaskRunner(manager: manager, metrics: metrics, running: running).run(task, onChunk: progress)
        switch outcome {
        case .success(let result):
            return try CallTool.Result(content: [.text(text: result.output, annotations: nil, _meta: nil)],
                                   structuredContent: try Self.value(result), isError: false)
        case .failure(let failure):
            return Self.failed(failure.code.rawValue, failure.message)
        }
    }

    private func route(_ task: AgentTask) async throws -> CallTool.Result {
        if let refusal = await manager.callerRefusal(task) { return Self.failed(refusal.code.rawValue, refusal.message) }
        let selection: ModelSelection
        do throws(RouterError) {
            selection = try await manager.explainRoute(task)
        } catch {
            let failure = await manager.routeFailure(task, error)
            return Self.failed(failure.code.rawValue, failure.message)
        }
        do {
            let json = try SelectionRenderer.json(selection, pretty: false)
            return try CallTool.Result(content: [.text(text: SelectionRenderer.text(selection), annotations: nil, _meta: nil)],
                                   structuredContent: try Self.value(json: Data(json.utf8)), isError: false)
        }
    }

    private func costs(_ arguments: [String: Value]) async throws -> CallTool.Result {
        let period = try Self.enumArgument(arguments, "period", default: BudgetPeriod.day)
        let by: CostReport.Breakdown? = try arguments["by"].map { _ in try Self.enumArgument(arguments, "by", default: CostReport.Breakdown.key) }
        let view = try await costsView(period: period, breakdowns: by.map { [$0] } ?? [])
        return try CallTool.Result(content: [.text(text: String(decoding: try FastJSONEncoder().encode(view), as: UTF8.self), annotations: nil, _meta: nil)],
                               structuredContent: try Self.value(view), isError: false)
    }

    func costsView(period: BudgetPeriod, breakdowns: Set<CostReport.Breakdown>) async throws -> FleetRoutes.CostsView {
        let plane = manager.dataPlane
        let tenant = caller?.seesAllTenants == false ? caller?.tenantId : nil
        // From the ledger the tracker writes: with PostgreSQL, the whole fleet's.
        let report = try await plane.costs.report(period: period, breakdowns: breakdowns, tenant: tenant)
        var view = FleetRoutes.CostsView(report: report)
        if tenant == nil {
            view.budget = await plane.costs.budgetStatus()
            view.alerts = try await plane.costs.raisedAlerts()
        }
        if let keyId = caller?.keyId, let budget = caller?.limits?.budget, budget.isLimited {
            view.keyBudget = await plane.costs.keyBudgetStatus(keyId: keyId, limits: budget)
        }
        return view
    }

    private func models() async throws -> CallTool.Result {
        let plane = manager.dataPlane
        var views: [FleetRoutes.ModelView] = []
        for status in plane.router.modelStatuses() {
            views.append(FleetRoutes.ModelView(status: status, quota: await plane.quotas.check(provider: status.provider)))
        }
        let body = ["models": views]
        return try CallTool.Result(content: [.text(text: String(decoding: try FastJSONEncoder().encode(body), as: UTF8.self), annotations: nil, _meta: nil)],
                               structuredContent: try Self.value(body), isError: false)
    }

    private func flags(_ arguments: [String: Value]) async throws -> CallTool.Result {
        let agentType = try Self.stringArgument(arguments, "agentType")
        let environment = try Self.stringArgument(arguments, "environment")
        if let enabled = arguments["enabled"] {
            guard let value = enabled.boolValue else { throw MCPError.invalidParams("argument 'enabled': must be true or false") }
            let givenToken = try Self.stringArgument(arguments, "adminToken")
            // Compared in constant time, as the HTTP admin routes compare it.
            let tokenMatches = adminToken.flatMap { $0.isEmpty ? nil : $0 }.map { expected in
                givenToken.map { AdminAuthMiddleware<FleetRequestContext>.constantTimeEqual(Array($0.utf8), Array(expected.utf8)) } ?? false
            } ?? false
            guard caller?.kind == .admin || tokenMatches else {
                throw MCPError.invalidParams(adminToken == nil
                    ? "argument 'adminToken': changing a flag needs fleetd's admin token, and none is set (FLEETD_ADMIN_TOKEN)"
                    : "argument 'adminToken': changing a flag needs fleetd's admin token; it is missing or wrong")
            }
            guard let name = try Self.stringArgument(arguments, "name") else { throw MCPError.invalidParams("argument 'name': which flag to change is required with 'enabled'") }
            guard FeatureFlags.known.contains(name) else {
                throw MCPError.invalidParams("argument 'name': no flag '\(name)'; known flags: \(FeatureFlags.known.joined(separator: ", "))")
            }
            var rollout: FlagChangeRequest.Rollout?
            if let raw = arguments["rollout"] {
                guard let object = raw.objectValue, let percentage = object["percentage"].flatMap({ Int($0) }) else {
                    throw MCPError.invalidParams("argument 'rollout': must be an object with an integer 'percentage' (0-100)")
                }
                rollout = .init(percentage: percentage, stickiness: object["stickiness"]?.stringValue, groupId: nil)
            }
            let change = FlagChangeRequest(enabled: value, rollout: rollout, agentType: agentType, environment: environment)
            do {
                let (scope, setting) = try change.validated(name, in: await reloader.snapshot.config)
                _ = try await FlagChangeLog.apply(name, scope: scope, to: setting, through: reloader, log: flagChanges,
                                                  by: caller?.kind == .admin ? "admin (mcp)" : "admin token (mcp)", from: nil)
            } catch let error as APIError {
                throw MCPError.invalidParams("argument '\(error.field ?? "name")': \(error.message)")
            }
        }
        let response = FlagsResponse(await reloader.snapshot, context: FlagContext(agentType: agentType, environment: environment ?? self.environment))
        return try CallTool.Result(content: [.text(text: String(decoding: try FastJSONEncoder().encode(response), as: UTF8.self), annotations: nil, _meta: nil)],
                               structuredContent: try Self.value(response), isError: false)
    }

    // MARK: - Resources

    private func read(_ uri: String) async throws -> ReadResource.Result {
        switch uri {
        case "fleetd://config":
            // The whole fleet's settings (budgets, every agent type, every tenant's models): for
            // callers who see the whole fleet, as `GET /v1/costs`' budgets are.
            if let caller, !caller.seesAllTenants {
                throw MCPError.invalidParams("fleetd://config shows the whole fleet's settings; a tenant's caller may read fleetd://costs/<period>")
            }
            let snapshot = await reloader.snapshot
            let json = try FastJSONEncoder().encode(RedactedConfig(snapshot.config, generation: snapshot.generation))
            return .init(contents: [.text(String(decoding: json, as: UTF8.self), uri: uri, mimeType: "application/json")])
        case let costs where costs.hasPrefix("fleetd://costs/"):
            guard let period = BudgetPeriod(rawValue: String(costs.dropFirst("fleetd://costs/".count))) else {
                throw MCPError.invalidParams("unknown resource '\(uri)'; known: fleetd://config, fleetd://costs/day, fleetd://costs/week, fleetd://costs/month")
            }
            let json = try FastJSONEncoder().encode(try await costsView(period: period, breakdowns: []))
            return .init(contents: [.text(String(decoding: json, as: UTF8.self), uri: uri, mimeType: "application/json")])
        default:
            throw MCPError.invalidParams("unknown resource '\(uri)'; known: fleetd://config, fleetd://costs/day, fleetd://costs/week, fleetd://costs/month")
        }
    }

    // MARK: - Arguments

    /// The task a `run_task`, `route` or agent tool call describes, authorized for the caller.
    /// Arguments are read exactly as `POST /v1/tasks` reads its body, so both give the same errors.
    private func taskArguments(_ arguments: [String: Value], tool: String, config: FleetConfig, agentTypeArgument: Bool = true) throws -> AgentTask {
        var known: Set<String> = ["prompt", "context", "type", "privacy", "constraints", "maxTokens", "id", "preferredModel"]
        if agentTypeArgument { known.insert("agentType") }
        try Self.checkKnown(arguments, tool: tool, known: known)
        guard arguments["prompt"] != nil else { throw MCPError.invalidParams("argument 'prompt': required") }
        // Arguments with a fixed set of values name the set (the schema's enums).
        let choices: [String: [String]] = [
            "type": TaskType.allCases.map(\.rawValue), "privacy": RoutingPrivacy.allCases.map(\.rawValue),
            "agentType": config.agents.map(\.type), "preferredModel": config.routing.models.filter(\.enabled).map(\.name),
        ]
        for (name, allowed) in choices.sorted(by: { $0.key < $1.key }) {
            guard let value = arguments[name], !value.isNull else { continue }
            guard let text = value.stringValue, allowed.contains(text) else {
                throw MCPError.invalidParams("argument '\(name)': must be one of \(allowed.joined(separator: ", ")), got \(value)")
            }
        }
        do {
            let data = try JSONEncoder().encode(Value.object(arguments))
            let request = try TaskRequest(json: JSONValue.parse(utf8: data))
            return try request.task().authorized(by: caller?.taskCaller)
        } catch let error as APIError {
            throw MCPError.invalidParams("argument '\(error.field ?? "?")': \(Self.withoutQuotedField(error.message))")
        }
    }

    /// "'prompt' must not be empty" → "must not be empty" (the argument is named once, in front).
    static func withoutQuotedField(_ message: String) -> String {
        guard message.hasPrefix("'"), let end = message.dropFirst().firstIndex(of: "'") else { return message }
        return message[message.index(after: end)...].trimmingCharacters(in: CharacterSet(charactersIn: " :"))
    }

    static func checkKnown(_ arguments: [String: Value], tool: String, known: Set<String>) throws {
        if let unknown = arguments.keys.sorted().first(where: { !known.contains($0) }) {
            throw MCPError.invalidParams("argument '\(unknown)': \(tool) takes no such argument; it takes \(known.isEmpty ? "none" : known.sorted().joined(separator: ", "))")
        }
    }

    static func stringArgument(_ arguments: [String: Value], _ name: String) throws -> String? {
        guard let value = arguments[name], !value.isNull else { return nil }
        guard let string = value.stringValue else { throw MCPError.invalidParams("argument '\(name)': must be a string") }
        return string
    }

    static func enumArgument<E: RawRepresentable & CaseIterable>(_ arguments: [String: Value], _ name: String, default fallback: E) throws -> E where E.RawValue == String {
        guard let raw = try stringArgument(arguments, name) else { return fallback }
        guard let value = E(rawValue: raw) else {
            throw MCPError.invalidParams("argument '\(name)': must be one of \(E.allCases.map(\.rawValue).joined(separator: ", ")), got '\(raw)'")
        }
        return value
    }

    static func value(_ encodable: some Encodable) throws -> Value {
        try value(json: Data(try FastJSONEncoder().encode(encodable)))
    }

    static func value(json: Data) throws -> Value {
        try JSONDecoder().decode(Value.self, from: json)
    }

    static func failed(_ code: String, _ message: String) -> CallTool.Result {
        CallTool.Result(content: [.text(text: "\(code): \(message)", annotations: nil, _meta: nil)],
                        structuredContent: .object(["error": .object(["code": .string(code), "message": .string(message)])]), isError: true)
    }
}

/// The running config as the `fleetd://config` resource shows it: every section, with the
/// secrets it may hold (the v1.0.4 API key and JWT secret, the database password, the alert
/// webhook's URL, and the values an agent type's MCP servers get in `env` and `headers`, which
/// may be tokens written in the file) replaced by whether they are set. A value that only names an
/// environment variable (`${GITHUB_TOKEN}`) is shown: it holds no secret.
struct RedactedConfig: Encodable {
    var generation: Int
    var fleet: FleetSection
    var agents: [AgentSpec]
    var database: DatabaseSection
    var logging: LoggingSection
    var api: APISection
    var security: [String: String]
    var features: [String: FlagSetting]
    var agentTypeOverrides: [String: [String: FlagSetting]]
    var environmentOverrides: [String: [String: FlagSetting]]
    var routing: RoutingConfiguration
    var cost: CostConfiguration
    var quotas: QuotaConfiguration
    var streaming: StreamingConfiguration

    init(_ config: FleetConfig, generation: Int) {
        self.generation = generation
        fleet = config.fleet
        agents = config.agents.map(Self.redactingToolServers)
        database = config.database
        if database.password != nil { database.password = "(set, redacted)" }
        logging = config.logging
        api = config.api
        security = ["apiKey": config.security.apiKey == nil ? "(not set)" : "(set, redacted)",
                    "jwtSecret": config.security.jwtSecret == nil ? "(not set)" : "(set, redacted)"]
        features = config.features.global
        agentTypeOverrides = config.features.agentTypes
        environmentOverrides = config.features.environments
        routing = config.routing
        cost = config.cost
        if cost.alertWebhook != nil { cost.alertWebhook = "(set, redacted)" }
        quotas = config.quotas
        streaming = config.streaming
    }

    /// `mcpServers[].env` and `.headers` values replaced, unless they only name a variable; a
    /// `url`'s query and credentials left out.
    static func redactingToolServers(_ agent: AgentSpec) -> AgentSpec {
        guard case .list(let servers)? = agent.config["mcpServers"] else { return agent }
        var agent = agent
        agent.config["mcpServers"] = .list(servers.map { server in
            guard case .map(var fields) = server else { return server }
            if case .string(let url)? = fields["url"] { fields["url"] = .string(URLRedaction.redacted(url)) }
            for name in ["env", "headers"] {
                guard case .map(let values)? = fields[name] else { continue }
                fields[name] = .map(values.mapValues { value in
                    // Only a bare `${NAME}`: `${NAME:-default}` carries a literal default.
                    if case .string(let text) = value, text.hasPrefix("${"), text.hasSuffix("}"),
                       let name = Optional(text.dropFirst(2).dropLast()), !name.isEmpty,
                       name.allSatisfy({ $0 == "_" || $0.isASCII && ($0.isLetter || $0.isNumber) }) {
                        return value
                    }
                    return .string("(set, redacted)")
                })
            }
            return .map(fields)
        })
        return agent
    }
}
