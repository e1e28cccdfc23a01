import Foundation
import MCP

/// `tools/call` with its params as the client sent them. The SDK decodes a method's params before
/// its handler runs and answers a failure (`arguments` not an object, `name` missing or not a
/// string) as -32603, an internal error; registered under the same name, this takes the call over
/// and ``FleetMCPServer/callParameters(_:)`` answers a malformed one as -32602 naming the field.
enum ToolCallRequest: MCP.Method {
    static let name = CallTool.name
    typealias Parameters = Value
    typealias Result = CallTool.Result
}

/// `resources/read` with its params as sent, for the same reason (a missing or non-string `uri`).
enum ResourceReadRequest: MCP.Method {
    static let name = ReadResource.name
    typealias Parameters = Value
    typealias Result = ReadResource.Result
}

extension FleetMCPServer {
    /// A `resources/read` request's `uri`, or -32602 naming what is wrong.
    static func resourceURI(_ params: Value) throws -> String {
        guard let fields = params.objectValue else {
            throw MCPError.invalidParams("params: must be an object with the resource's 'uri'; got \(kind(of: params))")
        }
        guard let uri = fields["uri"], !uri.isNull else {
            throw MCPError.invalidParams("param 'uri': required, the resource to read (resources/list lists them)")
        }
        guard let text = uri.stringValue else {
            throw MCPError.invalidParams("param 'uri': must be a string, the resource to read; got \(kind(of: uri))")
        }
        return text
    }

    /// A `tools/call` request's params, checked field by field: what is wrong is an MCP error
    /// (-32602) that names the field, as a bad argument's does.
    static func callParameters(_ params: Value) throws -> CallTool.Parameters {
        guard let fields = params.objectValue else {
            throw MCPError.invalidParams("params: must be an object with the tool's 'name' and its 'arguments'; got \(kind(of: params))")
        }
        guard let name = fields["name"], !name.isNull else {
            throw MCPError.invalidParams("param 'name': required, the tool to call (tools/list lists them)")
        }
        guard name.stringValue != nil else {
            throw MCPError.invalidParams("param 'name': must be a string, the tool to call; got \(kind(of: name))")
        }
        if let arguments = fields["arguments"], !arguments.isNull, arguments.objectValue == nil {
            throw MCPError.invalidParams("param 'arguments': must be an object of the tool's arguments; got \(kind(of: arguments))")
        }
        do {
            return try JSONDecoder().decode(CallTool.Parameters.self, from: try JSONEncoder().encode(params))
        } catch let error as DecodingError {
            // What is left to go wrong is `_meta` (a progress token neither a string nor a number).
            let described = JSONBody.describe(error)
            throw MCPError.invalidParams("param '\(described.field ?? "_meta")': \(withoutQuotedField(described.message))")
        }
    }

    /// What kind of JSON value `value` is, for an error message (never the value, which may be long).
    static func kind(of value: Value) -> String {
        switch value {
        case .null: "null"
        case .bool: "true or false"
        case .int, .double: "a number"
        case .string, .data: "a string"
        case .array: "an array"
        case .object: "an object"
        }
    }
}
