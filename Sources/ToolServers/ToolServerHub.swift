import AsyncHTTPClient
import Foundation
import Logging
import MCP
import Streaming

/// The tool servers of every agent type, kept across reloads: a server whose spec did not change
/// keeps its connection (and process); new ones are started; removed or changed ones are retired,
/// and stopped once the tasks that began with them are done (``closeRetired(through:)``). A server
/// whose tools change while it runs (`notifications/tools/list_changed`) is listed again and the
/// handler given to ``onToolsChanged(_:)`` told, to take ``currentToolboxes()``.
public actor ToolServerHub {
    private let logger: Logger
    /// By agent type, then server name.
    private var connections: [String: [String: ToolServerConnection]] = [:]
    /// By agent type, in the config's order (the first server of two with a tool of the same name
    /// offers it under its own name).
    private var ordered: [String: [ToolServerConnection]] = [:]
    /// The config generation of the last ``update(_:generation:)``.
    private var generation = 0
    /// Told when a server's tools changed and it listed them again.
    private var toolsChanged: (@Sendable () async -> Void)?
    /// Connections an update removed or replaced, with the config generation of that update:
    /// still open for the tasks that began with them (their toolboxes hold them).
    private var retired: [(generation: Int, connection: ToolServerConnection)] = []

    /// What Streamable HTTP servers are called with (fleetd passes its providers' first client,
    /// which trusts `FLEETD_EXTRA_CA_CERTS`).
    private let httpClient: HTTPClient

    public init(httpClient: HTTPClient = .shared, logger: Logger = Logger(label: "fleetd.tools")) {
        self.httpClient = httpClient
        self.logger = logger
        // Writing to a tool server whose process died raises SIGPIPE, which would end fleetd;
        // ignored, the write fails with EPIPE and the call gets an error result instead.
        signal(SIGPIPE, SIG_IGN)
    }

    /// Applies `servers` (by agent type) and returns each type's toolbox, its servers connected
    /// (in parallel, each bounded by its connect timeout). A server that cannot be reached is
    /// logged and contributes no tools until a call or a reload finds it up.
    ///
    /// A server it removes or whose settings changed is not stopped here: the toolboxes of tasks
    /// already running still call it. It is retired under `generation`, and stopped by
    /// ``closeRetired(through:)`` once those tasks are done, or by ``shutdown()``.
    public func update(_ servers: [String: [ToolServerSpec]], generation: Int) async -> [String: MCPToolbox] {
        var next: [String: [String: ToolServerConnection]] = [:]
        var order: [String: [ToolServerConnection]] = [:]
        var stale: [ToolServerConnection] = []
        for (type, specs) in servers {
            var kept: [String: ToolServerConnection] = [:]
            for spec in specs {
                if let existing = connections[type]?[spec.name], existing.spec == spec {
                    kept[spec.name] = existing
                } else {
                    kept[spec.name] = ToolServerConnection(spec: spec, logger: logger, httpClient: httpClient, onToolsChanged: { [weak self] in
                        await self?.connectionToolsChanged()
                    })
                }
            }
            next[type] = kept
            order[type] = specs.compactMap { kept[$0.name] }
        }
        for (type, byName) in connections {
            for (name, connection) in byName where next[type]?[name] !== connection { stale.append(connection) }
        }
        connections = next
        ordered = order
        self.generation = generation
        for connection in stale { retired.append((generation: generation, connection: connection)) }
        return await Self.toolboxes(order)
    }

    /// Sets what is told when a server's tools changed at run time (it sent
    /// `notifications/tools/list_changed` and its tools were listed again).
    public func onToolsChanged(_ handler: @escaping @Sendable () async -> Void) {
        toolsChanged = handler
    }

    /// Each agent type's toolbox with its servers' tools as they are now, and the config
    /// generation of those servers; nothing is started, replaced or retired.
    public func currentToolboxes() async -> (generation: Int, toolboxes: [String: MCPToolbox]) {
        let generation = self.generation, servers = ordered
        let boxes = await Self.toolboxes(servers)
        return (generation, boxes)
    }

    private func connectionToolsChanged() async {
        await toolsChanged?()
    }

    /// Each type's toolbox from its servers in order, connecting those not connected.
    private static func toolboxes(_ byType: [String: [ToolServerConnection]]) async -> [String: MCPToolbox] {
        await withTaskGroup(of: (String, MCPToolbox).self) { group in
            for (type, ordered) in byType {
                group.addTask {
                    // Every server of the type at once: a dead one costs its timeout once, not per server.
                    let lists = await withTaskGroup(of: (Int, [Tool]).self) { servers in
                        for (index, connection) in ordered.enumerated() { servers.addTask { (index, await connection.tools()) } }
                        var lists = [[Tool]](repeating: [], count: ordered.count)
                        for await (index, tools) in servers { lists[index] = tools }
                        return lists
                    }
                    var tools: [(ToolServerConnection, Tool)] = []
                    for (connection, list) in zip(ordered, lists) {
                        for tool in list { tools.append((connection, tool)) }
                    }
                    return (type, MCPToolbox(tools: tools))
                }
            }
            var boxes: [String: MCPToolbox] = [:]
            for await (type, box) in group { boxes[type] = box }
            return boxes
        }
    }

    /// Whether a server of the config in force is not connected (it was down or slow when the
    /// tools were gathered): its tools are missing until it answers.
    public func hasUnreachableServers() async -> Bool {
        for connection in connections.values.flatMap(\.values) where !(await connection.isReady) { return true }
        return false
    }

    /// Stops the servers updates up to `generation` retired: no task that may call them runs.
    public func closeRetired(through generation: Int) async {
        let closing = retired.filter { $0.generation <= generation }.map { $0.connection }
        retired.removeAll { $0.generation <= generation }
        await Self.close(closing)
    }

    /// Stops every server, retired ones too, and returns once their processes are gone.
    public func shutdown() async {
        var all: [ToolServerConnection] = connections.values.flatMap(\.values)
        all += retired.map { $0.connection }
        connections = [:]
        retired = []
        await Self.close(all)
    }

    /// Closes `connections` at once (each may take its stop grace period).
    private static func close(_ connections: [ToolServerConnection]) async {
        await withTaskGroup(of: Void.self) { group in
            for connection in connections {
                group.addTask { await connection.close() }
            }
        }
    }
}
