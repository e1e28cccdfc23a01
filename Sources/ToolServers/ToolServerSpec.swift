import FleetSupport
import Foundation

/// One MCP server an agent type's tasks may use (`agents[].config.mcpServers[]`): a command
/// fleetd starts and speaks to over stdio, or a Streamable HTTP endpoint.
public struct ToolServerSpec: Sendable, Hashable, Codable {
    public enum Transport: Sendable, Hashable, Codable {
        /// `command` with `args`, in `directory` when given. The process gets only `HOME`,
        /// `LOGNAME`, `PATH`, `SHELL`, `TERM` and `USER` of fleetd's environment, with
        /// `environment` over them (values may name `${VAR}`s of fleetd's environment, resolved by
        /// the config: the way to pass a variable through); nothing else of fleetd's.
        case stdio(command: String, args: [String], environment: [String: String], directory: String?)
        /// A Streamable HTTP endpoint, with extra request headers (e.g. `Authorization`).
        case http(url: URL, headers: [String: String])
    }

    /// The server's name in records, metrics and logs; unique within an agent type.
    public var name: String
    public var transport: Transport
    /// How the operator sees it in logs: the command and its arguments as the config wrote them
    /// (`${VAR}`s not filled in), or the URL without credentials or query; never a header's or
    /// variable's value.
    public var summary: String

    /// - Parameter summary: what logs show (the config passes its unexpanded text); by default
    ///   the command line, or the URL with its query and credentials left out.
    public init(name: String, transport: Transport, summary: String? = nil) {
        self.name = name
        self.transport = transport
        self.summary = summary ?? Self.summary(of: transport)
    }

    static func summary(of transport: Transport) -> String {
        switch transport {
        case .stdio(let command, let args, _, _): ([command] + args).joined(separator: " ")
        case .http(let url, _): URLRedaction.redacted(url.absoluteString)
        }
    }
}
