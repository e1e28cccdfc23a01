import Agents
import FleetSupport
import Foundation
import Logging
import Providers
import Streaming
import ToolServers

// The agent types' tool servers (MCP): connected in the background at start and at each reload,
// retried while unreachable, re-listed when a server says its tools changed, and stopped once no
// task that may call them still runs.
extension FleetManager {
    /// Connects the agent types' tool servers in the background (a slow or absent server never
    /// holds up the start or a reload); once they answered, tasks of the config in force that
    /// started from then on get their tools.
    func connectToolServers() {
        let config = snapshot.config, generation = snapshot.generation
        guard config.agents.contains(where: { $0.config["mcpServers"] != nil }) || !tools.isEmpty else { return }
        let hub = toolHub, dataPlane = self.dataPlane, environment = processEnvironment, observer = onToolCall
        Task {
            var tools = await Self.connectTools(config, generation: generation, hub: hub, dataPlane: dataPlane, environment: environment, observer: observer)
            self.install(tools, generation: generation)
            // A server that was down or slow to start (an `npx` download) is tried again, 5 s,
            // then 10, 20, up to every minute, until it answers or another config takes over;
            // its tools are installed as soon as it does.
            var delay = Duration.seconds(5)
            while await hub.hasUnreachableServers(), self.generation == generation {
                try? await Task.sleep(for: delay)
                delay = min(delay * 2, .seconds(60))
                guard self.generation == generation else { return }
                let again = await Self.connectTools(config, generation: generation, hub: hub, dataPlane: dataPlane, environment: environment, observer: observer)
                if Self.toolNames(again) != Self.toolNames(tools) {
                    tools = again
                    self.install(tools, generation: generation)
                }
            }
        }
    }

    /// A tool server's tools changed while it ran (it sent `notifications/tools/list_changed`):
    /// each agent type's tools are gathered again from the servers in force and installed for the
    /// tasks dispatched from now on; tasks already running keep the tools they began with.
    func toolServerToolsChanged() async {
        toolRelistsStarted += 1
        let number = toolRelistsStarted
        let (generation, boxes) = await toolHub.currentToolboxes()
        // A reload's servers are still being connected (they install their own), or a later list won.
        guard generation == snapshot.generation, number > toolRelistInstalled else { return }
        toolRelistInstalled = number
        let limits = Self.toolSettings(snapshot.config, environment: processEnvironment).limits
        install(Self.executors(boxes, limits: limits, dataPlane: dataPlane, observer: onToolCall), generation: generation)
    }

    static func toolNames(_ tools: [String: ToolExecutor]) -> [String: [String]] {
        tools.mapValues { $0.invoker.definitions.map(\.name) }
    }

    func install(_ tools: [String: ToolExecutor], generation: Int) {
        guard generation == snapshot.generation else { return } // a newer config is connecting its own
        self.tools = tools
        runtime = Self.makeRuntime(snapshot, dataPlane: dataPlane, clients: clients, tools: tools, environment: processEnvironment, logger: logger)
        logger.notice("agent tools ready", metadata: .init(uniqueKeysWithValues: tools.map { type, executor in
            (type, .string(executor.invoker.definitions.map(\.name).joined(separator: ",")))
        }))
        toolInstalls.append((generation: generation, firstTask: dispatchCount))
        closeReplacedToolServers()
    }

    /// Stops the tool servers reloads removed or replaced once no task that may call them runs:
    /// every task dispatched before the tools that replaced them were installed has ended. A task
    /// running for more than twice the task timeout is taken as hung (as ``checkAgents(now:)``
    /// does) and holds them no longer.
    func closeReplacedToolServers() {
        guard !toolInstalls.isEmpty else { return }
        let now = ContinuousClock.now, hung = Duration.milliseconds(snapshot.config.fleet.taskTimeout) * 2
        let oldest = runningTasks.filter { now - $0.value < hung }.keys.min() ?? dispatchCount
        guard let settled = toolInstalls.last(where: { $0.firstTask <= oldest }) else { return }
        toolInstalls.removeAll { $0.generation <= settled.generation }
        let hub = toolHub, generation = settled.generation
        Task { await hub.closeRetired(through: generation) }
    }

    /// Stops the agent types' tool servers (fleetd is stopping).
    public func shutdownTools() async {
        await toolHub.shutdown()
    }

    /// Connects the tool servers `config` (of `generation`) names, keeping those already running
    /// unchanged, and returns each agent type's tools with its limits.
    static func connectTools(_ config: FleetConfig, generation: Int, hub: ToolServerHub, dataPlane: DataPlane,
                                     environment: [String: String],
                                     observer: (@Sendable (ToolCallReport) -> Void)?) async -> [String: ToolExecutor] {
        let (servers, limits) = toolSettings(config, environment: environment)
        let boxes = await hub.update(servers, generation: generation)
        return executors(boxes, limits: limits, dataPlane: dataPlane, observer: observer)
    }

    /// Each agent type's tool servers and limits in `config` (types with servers only).
    static func toolSettings(_ config: FleetConfig, environment: [String: String])
        -> (servers: [String: [ToolServerSpec]], limits: [String: ToolLimits]) {
        var servers: [String: [ToolServerSpec]] = [:]
        var limits: [String: ToolLimits] = [:]
        for agent in config.agents {
            guard let settings = AgentToolConfig.parse(agent.config, environment: environment).0, !settings.servers.isEmpty else { continue }
            servers[agent.type] = settings.servers
            limits[agent.type] = settings.limits
        }
        return (servers, limits)
    }

    /// Each agent type's toolbox with its limits, recorder and observer.
    static func executors(_ boxes: [String: MCPToolbox], limits: [String: ToolLimits], dataPlane: DataPlane,
                                  observer: (@Sendable (ToolCallReport) -> Void)?) -> [String: ToolExecutor] {
        var tools: [String: ToolExecutor] = [:]
        for (type, box) in boxes {
            tools[type] = ToolExecutor(invoker: box, limits: limits[type] ?? ToolLimits(), recorder: dataPlane.records,
                                       observer: observer, logger: Logger(label: "fleetd.tools"))
        }
        return tools
    }
}
