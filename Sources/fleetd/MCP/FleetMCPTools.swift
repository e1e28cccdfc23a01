import Agents
import Fleet
import FleetSupport
import Foundation
import MCP
import Routing
import Store

/// The tools fleetd offers MCP clients, with precise input schemas: `run_task`, `route`, `costs`,
/// `models`, `flags`, and one `agent_<type>` tool per configured agent type. The list is made
/// from the config in force, so a reload shows in the next `tools/list`.
enum FleetMCPTools {
    static let fixed = ["run_task", "route", "costs", "models", "flags"]

    /// The prefix of an agent type's tool name.
    static let agentPrefix = "agent_"

    static func list(_ config: FleetConfig) -> [Tool] {
        let agentTypes = config.agents.map(\.type)
        let models = config.routing.models.filter(\.enabled).map(\.name)
        var tools = [
            Tool(name: "run_task", title: "Run a task",
                 description: "Runs a task on fleetd's agents: routes it to a model (complexity, cost, budget, quota, health), calls the model with fallbacks, and returns the answer with its model, usage and cost. Sends a progress notification per chunk when the request carries a progress token; cancelling the request cancels the task and its provider call.",
                 inputSchema: taskSchema(agentTypes: agentTypes, models: models, withAgentType: true),
                 annotations: .init(title: "Run a task", readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true)),
            Tool(name: "route", title: "Explain routing",
                 description: "Explains which model a task would go to and why (complexity factors, every candidate and the filter that kept or excluded it, the fallback chain), without running it.",
                 inputSchema: taskSchema(agentTypes: agentTypes, models: models, withAgentType: true),
                 annotations: .init(title: "Explain routing", readOnlyHint: true, openWorldHint: false)),
            Tool(name: "costs", title: "Spend report",
                 description: "Spend for the current day, week or month from the cost ledger, by model, provider, task type and agent (or by key or tenant), with the budget and alerts raised.",
                 inputSchema: .object([
                     "type": "object",
                     "properties": .object([
                         "period": .object(["type": "string", "enum": ["day", "week", "month"], "default": "day", "description": "The budget period."]),
                         "by": .object(["type": "string", "enum": ["key", "tenant"], "description": "Spend by API key or by tenant instead of the usual breakdowns."]),
                     ]),
                     "additionalProperties": false,
                 ]),
                 annotations: .init(title: "Spend report", readOnlyHint: true, openWorldHint: false)),
            Tool(name: "models", title: "Models",
                 description: "Every configured model with its health (circuit breakers and when they reopen), observed success and latency, and its provider's quota use.",
                 inputSchema: .object(["type": "object", "properties": .object([:]), "additionalProperties": false]),
                 annotations: .init(title: "Models", readOnlyHint: true, openWorldHint: false)),
            Tool(name: "flags", title: "Feature flags",
                 description: "Reads every feature flag (resolved for an agent type and environment, with the configured values and runtime changes); with `enabled`, changes one flag globally or for an agent type or environment, which needs the admin token.",
                 inputSchema: flagsSchema(agentTypes: agentTypes),
                 annotations: .init(title: "Feature flags", readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: false)),
        ]
        for agent in config.agents {
            let role = AgentRole(config: agent.config)
            var about = "Runs a task on the '\(agent.type)' agents (\(agent.count) agent\(agent.count == 1 ? "" : "s"))"
            if let type = role.defaultTaskType { about += "; their tasks are \(type.rawValue) tasks" }
            if let prompt = role.systemPrompt?.split(separator: "\n").first {
                about += "; their system prompt begins: \"\(prompt.prefix(160))\""
            }
            about += ". Same answer, progress and cancellation as run_task."
            tools.append(Tool(name: agentPrefix + toolSafe(agent.type), title: "Agent: \(agent.type)", description: about,
                              inputSchema: taskSchema(agentTypes: agentTypes, models: models, withAgentType: false),
                              annotations: .init(title: "Agent: \(agent.type)", readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true)))
        }
        return tools
    }

    /// Tool names allow letters, digits, `_` and `-`.
    static func toolSafe(_ name: String) -> String {
        String(name.map { $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" ? $0 : "_" })
    }

    static func taskSchema(agentTypes: [String], models: [String], withAgentType: Bool) -> Value {
        var properties: [String: Value] = [
            "prompt": .object(["type": "string", "minLength": 1, "description": "What to do."]),
            "context": .object(["type": "string", "description": "Material the task is about (a document, code)."]),
            "type": .object(["type": "string", "enum": .array(TaskType.allCases.map { .string($0.rawValue) }),
                             "description": "The task type; inferred from the prompt when absent."]),
            "privacy": .object(["type": "string", "enum": ["standard", "local-only"], "default": "standard",
                                "description": "local-only: only a local model (Ollama or the built-in responder) may see the task."]),
            "constraints": .object([
                "type": "object",
                "properties": .object([
                    "maxCost": .object(["type": "number", "minimum": 0, "description": "Highest estimated cost in US dollars."]),
                    "minQuality": .object(["type": "number", "minimum": 0, "maximum": 1, "description": "Lowest model quality."]),
                    "maxLatencyMs": .object(["type": "number", "minimum": 0, "description": "Highest expected latency in milliseconds."]),
                ]),
                "additionalProperties": false,
            ]),
            "maxTokens": .object(["type": "integer", "minimum": 1, "description": "Longest answer, in tokens."]),
            "id": .object(["type": "string", "minLength": 1, "maxLength": 128, "description": "The task's id (unique per tenant); generated when absent."]),
        ]
        if !models.isEmpty {
            properties["preferredModel"] = .object(["type": "string", "enum": .array(models.map { .string($0) }),
                                                    "description": "A model to pick when it can serve."])
        }
        if withAgentType && !agentTypes.isEmpty {
            properties["agentType"] = .object(["type": "string", "enum": .array(agentTypes.map { .string($0) }),
                                               "description": "Which agents run it; the first configured type when absent."])
        }
        return .object(["type": "object", "properties": .object(properties), "required": ["prompt"], "additionalProperties": false])
    }

    static func flagsSchema(agentTypes: [String]) -> Value {
        .object([
            "type": "object",
            "properties": .object([
                "name": .object(["type": "string", "enum": .array(FeatureFlags.known.map { .string($0) }), "description": "The flag to change (with enabled)."]),
                "enabled": .object(["type": "boolean", "description": "The new value; absent, the tool only reads."]),
                "rollout": .object([
                    "type": "object",
                    "properties": .object([
                        "percentage": .object(["type": "integer", "minimum": 0, "maximum": 100]),
                        "stickiness": .object(["type": "string", "description": "tenantId, userId, sessionId, taskId or default."]),
                    ]),
                    "required": ["percentage"],
                    "additionalProperties": false,
                ]),
                "agentType": .object(["type": "string", "description": "Read for, or change the override of, this agent type."]),
                "environment": .object(["type": "string", "description": "Read for, or change the override of, this environment."]),
                "adminToken": .object(["type": "string", "description": "fleetd's admin token (FLEETD_ADMIN_TOKEN); needed to change a flag."]),
            ]),
            "additionalProperties": false,
        ])
    }
}
