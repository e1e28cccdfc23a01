import FleetSupport
import Foundation
import MCP
import Providers
import Streaming

/// An agent type's tools across its MCP servers, as the model is offered them. A tool whose name
/// another server of the type already offers is offered as `<server>__<tool>`.
public struct MCPToolbox: ToolInvoker {
    struct Entry: Sendable {
        let connection: ToolServerConnection
        /// Its name on its server.
        let remoteName: String
    }

    public let definitions: [ToolDefinition]
    private let entries: [String: Entry]

    init(tools: [(ToolServerConnection, Tool)]) {
        var definitions: [ToolDefinition] = []
        var entries: [String: Entry] = [:]
        for (connection, tool) in tools {
            var name = tool.name
            if entries[name] != nil { name = "\(connection.spec.name)__\(tool.name)" }
            guard entries[name] == nil else { continue }
            entries[name] = Entry(connection: connection, remoteName: tool.name)
            definitions.append(ToolDefinition(name: name, description: tool.description ?? tool.title,
                                              parameters: Self.jsonValue(tool.inputSchema) ?? .object(["type": .string("object")])))
        }
        self.definitions = definitions
        self.entries = entries
    }

    public func server(of tool: String) -> String? {
        entries[tool]?.connection.spec.name
    }

    public func invoke(name: String, arguments: JSONValue) async throws -> ToolInvocationResult {
        guard let entry = entries[name] else { throw ToolInvocationError(.unknownTool, "no tool named '\(name)'") }
        guard case .object(let object)? = Self.mcpValue(arguments) else {
            throw ToolInvocationError(.failed, "the arguments are not a JSON object")
        }
        let result = try await entry.connection.call(entry.remoteName, arguments: object)
        var content = result.content.map(Self.block)
        if content.isEmpty, let structured = result.structuredContent, let text = Self.jsonText(structured) {
            content = [.text(text)]
        }
        return ToolInvocationResult(content: content, isError: result.isError ?? false)
    }

    /// An MCP content item as a block the model can read: text and images as themselves,
    /// anything else (audio, resources, links) as its JSON text.
    static func block(_ content: Tool.Content) -> ContentBlock {
        switch content {
        case .text(let text, _, _):
            return .text(text)
        case .image(let data, let mimeType, _, _):
            return .image(.base64(mediaType: mimeType, data: data))
        case .resource(let resource, _, _):
            return .text(jsonText(resource) ?? "[resource]")
        case .audio(_, let mimeType, _, _):
            return .text("[audio: \(mimeType); not passed to the model]")
        case .resourceLink(let uri, let name, _, let description, let mimeType, _):
            return .text("[resource link: \(name) \(uri)\(mimeType.map { " (\($0))" } ?? "")\(description.map { ": \($0)" } ?? "")]")
        }
    }

    static func jsonText(_ value: some Encodable) -> String? {
        (try? JSONEncoder().encode(value)).map { String(decoding: $0, as: UTF8.self) }
    }

    /// Between the SDK's `Value` and fleetd's `JSONValue`: both are plain JSON.
    static func jsonValue(_ value: Value) -> JSONValue? {
        (try? JSONEncoder().encode(value)).flatMap { try? JSONDecoder().decode(JSONValue.self, from: $0) }
    }

    static func mcpValue(_ value: JSONValue) -> Value? {
        (try? JSONEncoder().encode(value)).flatMap { try? JSONDecoder().decode(Value.self, from: $0) }
    }
}
