import Agents
import FleetSupport
import Foundation
import Routing
import Store
import Testing
@testable import Fleet

/// What an authenticated caller changes in the fleet: task ids unique per tenant, records seen
/// per tenant, agent types and models the caller or the agent type allows, rollout stickiness.
@Suite("FleetManager: callers and tenants", .timeLimit(.minutes(1)))
struct FleetCallerTests {
    static let yaml = """
        fleet: {id: fm-callers, maxAgents: 8, taskTimeout: 20000}
        agents:
          - {type: general, count: 2}
          - {type: offline, count: 1, config: {models: [second], providers: [builtin]}}
        features:
          multiModelRouter: true
          streaming: {enabled: true, rollout: {percentage: 50, stickiness: tenantId}}
        routing:
          enabled: true
          defaultModel: first
          strategy: cost
          models:
            - {name: first, provider: builtin, model: fleetd-builtin}
            - {name: second, provider: builtin, model: fleetd-builtin}
        streaming: {enabled: true}
        """

    static func caller(_ tenant: String, models: [String]? = nil, agentTypes: [String]? = nil) -> TaskCaller {
        TaskCaller(label: "key fk-\(tenant)", tenantId: tenant, userId: "u-\(tenant)", keyId: tenant, allowedModels: models,
                   allowedAgentTypes: agentTypes)
    }

    @Test("a task id is unique per tenant: reused by the same tenant it is refused (409), by another it is a new task")
    func idsPerTenant() async throws {
        let fleet = try await FleetHarness.start(Self.yaml)
        defer { fleet.stop() }
        let manager = fleet.manager
        let acme = AgentTask(id: "same", prompt: "hello").authorized(by: Self.caller("acme"))
        let globex = AgentTask(id: "same", prompt: "hello").authorized(by: Self.caller("globex"))
        #expect(await manager.executeOutcome(acme).value != nil)
        #expect(await manager.executeOutcome(globex).value != nil)
        let again = await manager.executeOutcome(acme).failure
        #expect(again?.code == .taskIdConflict && again?.code.httpStatus == 409)
        #expect(await manager.taskRecord("same", tenant: "acme")?.tenantId == "acme")
        #expect(await manager.taskRecord("same", tenant: "globex")?.status == "completed")
        #expect(await manager.taskRecord("same") == nil, "neither is visible without its tenant")
        #expect(await manager.taskRecords(id: "same").compactMap(\.tenantId).sorted() == ["acme", "globex"])
        // Without a tenant the namespace is one too: a reused id is refused, never written over.
        #expect(await manager.executeOutcome(AgentTask(id: "plain", prompt: "hi")).value != nil)
        #expect(await manager.executeOutcome(AgentTask(id: "plain", prompt: "hi")).failure?.code == .taskIdConflict)
        // A task refused before it reached an agent gives its id back.
        let denied = AgentTask(id: "denied", prompt: "hi", agentType: "offline").authorized(by: Self.caller("acme", agentTypes: ["general"]))
        #expect(await manager.executeOutcome(denied).failure?.code == .agentTypeNotAllowed)
        #expect(await manager.taskRecord("denied", tenant: "acme") == nil)
    }

    @Test("the caller's agent types and models, and the agent type's models, hold; each exclusion is named")
    func allowLists() async throws {
        let fleet = try await FleetHarness.start(Self.yaml)
        defer { fleet.stop() }
        let manager = fleet.manager
        // No type named: the first type, which the caller may not use.
        let refused = await manager.executeOutcome(AgentTask(prompt: "hi").authorized(by: Self.caller("acme", agentTypes: ["offline"])))
        #expect(refused.failure?.code == .agentTypeNotAllowed)
        #expect(refused.failure?.message.contains("key fk-acme may not run tasks on agent type 'general'") == true)

        // The agent type allows `second` only: the default `first` is excluded at access.
        let offline = try #require(await manager.executeOutcome(AgentTask(prompt: "hi", agentType: "offline")).value)
        #expect(offline.model == "second")
        let explained = try await manager.explainRoute(AgentTask(prompt: "hi", agentType: "offline"))
        let first = try #require(explained.trace.candidates.first { $0.modelName == "first" })
        #expect(first.exclusion?.stage == .access && first.exclusion?.detail.contains("agent type 'offline'") == true)

        // A key limited to `first` on that type: nothing left, ROUTER_001.
        let none = await manager.executeOutcome(AgentTask(prompt: "hi", agentType: "offline").authorized(by: Self.caller("acme", models: ["first"])))
        #expect(none.failure?.code == .modelSelectionFailed)

        // A key limited to `second` on the general type is never given `first`.
        for index in 0..<5 {
            let task = AgentTask(prompt: "task \(index)").authorized(by: Self.caller("acme", models: ["second"]))
            #expect(await manager.executeOutcome(task).value?.model == "second")
        }
    }

    static let budgetYAML = """
        fleet: {id: fm-key-budget, maxAgents: 2, taskTimeout: 20000}
        agents:
          - {type: general, count: 1}
        features: {multiModelRouter: true}
        routing:
          enabled: true
          defaultModel: paid
          models:
            - {name: paid, provider: builtin, model: fleetd-builtin, capabilities: {costPer1kTokens: {input: 0.001, output: 0.002}}}
          costTracking: {enabled: true, budgetLimits: {daily: 1000}}
        """

    @Test("a key with a budget of its own and no tenant sees its key's figures in the route's budget stage and line, not the fleet's")
    func keyBudgetWithoutATenant() async throws {
        let fleet = try await FleetHarness.start(Self.budgetYAML)
        defer { fleet.stop() }
        let key = TaskCaller(label: "key fk-solo", keyId: "solo", budget: CostConfiguration.BudgetLimits(daily: 2))
        let explained = try await fleet.manager.explainRoute(AgentTask(prompt: "hi").authorized(by: key))
        let paid = try #require(explained.trace.candidates.first { $0.modelName == "paid" })
        let stage = try #require(paid.decisions.first { $0.stage == .budget })
        #expect(stage.passed)
        #expect(stage.detail.contains("key fk-solo") && stage.detail.contains("$2.0000"), "\(stage.detail)")
        #expect(!stage.detail.contains("$1000"), "the fleet's figures: \(stage.detail)")
        #expect(explained.trace.budget.hasPrefix("key fk-solo: ") && !explained.trace.budget.contains("$1000"), "\(explained.trace.budget)")

        // The operator, with no key, is shown the fleet's.
        let operatorView = try await fleet.manager.explainRoute(AgentTask(prompt: "hi"))
        let fleetStage = operatorView.trace.candidates.first(where: { $0.modelName == "paid" })?.decisions.first(where: { $0.stage == .budget })
        #expect(fleetStage?.detail.contains("$1000") == true, "\(String(describing: fleetStage))")
    }

    @Test("the authenticated tenant and user, not the body's, drive rollout stickiness, also for subtasks")
    func stickiness() async throws {
        let fleet = try await FleetHarness.start(Self.yaml)
        defer { fleet.stop() }
        let manager = fleet.manager
        // Find two tenants on either side of the 50% rollout.
        var on: String?, off: String?
        for index in 0..<64 where on == nil || off == nil {
            let tenant = "t\(index)"
            let settings = await manager.settings(for: AgentTask(prompt: "x", tenantId: tenant))
            if settings.useStreaming { on = on ?? tenant } else { off = off ?? tenant }
        }
        let streamed = try #require(on), plain = try #require(off)
        // The body claims the streamed tenant; the key says the other one: the key wins.
        let task = AgentTask(prompt: "x", tenantId: streamed, userId: "body-user",
                             subtasks: [AgentTask(prompt: "y", tenantId: streamed)]).authorized(by: Self.caller(plain))
        #expect(task.tenantId == plain && task.userId == "u-\(plain)")
        #expect(task.subtasks?.first?.tenantId == plain && task.subtasks?.first?.caller?.keyId == plain)
        #expect(await manager.settings(for: task).useStreaming == false)
        #expect(await manager.settings(for: AgentTask(prompt: "x", tenantId: plain).authorized(by: Self.caller(streamed))).useStreaming)
    }
}
