import FleetSupport
import Foundation
import MCP
import Providers
import Streaming

/// An agent type's tools across its MCP servers, as the model is offered them. A tool whose name
/// another server of the type already offers is offered as `<server>__<tool>`. Names and input
/// schemas are made acceptable to every provider: MCP allows names OpenAI and Gemini refuse
/// (`.`, `/`, more than 64 characters) and schemas OpenAI refuses (an array without `items`), and
/// one such tool would make every call that offers the type's tools fail with a 400.
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
            var name = Self.providerSafeName(tool.name)
            if entries[name] != nil { name = Self.providerSafeName("\(connection.spec.name)__\(tool.name)") }
            guard entries[name] == nil else { continue }
            entries[name] = Entry(connection: connection, remoteName: tool.name)
            definitions.append(ToolDefinition(name: name, description: tool.description ?? tool.title,
                                              parameters: Self.providerSafeSchema(Self.jsonValue(tool.inputSchema) ?? .object([:]))))
        }
        self.definitions = definitions
        self.entries = entries
    }

    /// A name every provider takes (`^[A-Za-z0-9_-]{1,64}$`): other characters become `_`, and a
    /// longer name keeps its first 55 characters and a hash of the whole (so two long names that
    /// share a beginning stay apart). The call is sent to the server under its own name.
    static func providerSafeName(_ name: String) -> String {
        var safe = String(name.unicodeScalars.map { scalar -> Character in
            scalar.isASCII && (CharacterSet.alphanumerics.contains(scalar) || scalar == "_" || scalar == "-") ? Character(scalar) : "_"
        })
        if safe.isEmpty { safe = "tool" }
        guard safe.count > 64 else { return safe }
        var hash: UInt32 = 2_166_136_261 // FNV-1a
        for byte in name.utf8 { hash = (hash ^ UInt32(byte)) &* 16_777_619 }
        return String(safe.prefix(55)) + "_" + String(format: "%08x", hash)
    }

    /// The input schema as providers take it: an object at the top (with `properties`), and every
    /// array with `items` (OpenAI refuses an array schema without them, strict or not).
    static func providerSafeSchema(_ schema: JSONValue) -> JSONValue {
        guard case .object(var top) = fixingArrays(schema) else { return .object(["type": .string("object"), "properties": .object([:])]) }
        if top["type"] == nil { top["type"] = .string("object") }
        if top["type"] == .string("object"), top["properties"] == nil { top["properties"] = .object([:]) }
        return .object(top)
    }

    private static func fixingArrays(_ value: JSONValue) -> JSONValue {
        switch value {
        case .array(let items):
            return .array(items.map(fixingArrays))
        case .object(var object):
            for (key, member) in object { object[key] = fixingArrays(member) }
            let isArray = switch object["type"] {
            case .string("array"): true
            case .array(let types): types.contains(.string("array"))
            default: false
            }
            if isArray, object["items"] == nil { object["items"] = .object([:]) }
            return .object(object)
        default:
            return value
        }
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
