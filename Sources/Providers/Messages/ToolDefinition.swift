/// A tool the model may call.
public struct ToolDefinition: Sendable, Hashable, Codable {
    public var name: String
    public var description: String?
    /// The arguments' JSON Schema (an object schema).
    public var parameters: JSONValue
    /// The caller asked for arguments that follow the schema exactly (OpenAI's and Anthropic's
    /// `strict`). OpenAI's own API (for a schema its strict mode takes) and Claude 4.5 and later
    /// enforce it, so only they are sent it; other providers get the same schema as guidance.
    public var strict: Bool?
    /// A prompt-cache breakpoint after this tool's definition.
    public var cacheMark: CacheMark?

    public init(name: String, description: String? = nil, parameters: JSONValue = .object(["type": .string("object")]),
                strict: Bool? = nil) {
        self.name = name
        self.description = description
        self.parameters = parameters
        self.strict = strict
    }
}

/// Whether and which tool the model must call.
public enum ToolChoice: Sendable, Hashable, Codable {
    /// The model decides (the default when tools are given).
    case auto
    /// No tool call.
    case none
    /// Some tool call (OpenAI `required`, Anthropic `any`, Gemini `ANY`).
    case required
    /// This tool.
    case tool(String)

    /// Whether it forces a tool call.
    public var forcesCall: Bool {
        switch self {
        case .required, .tool: true
        case .auto, .none: false
        }
    }
}

/// The shape the answer must take.
public enum ResponseFormat: Sendable, Hashable, Codable {
    /// Any JSON object.
    case jsonObject
    /// JSON valid against a schema.
    case jsonSchema(name: String, schema: JSONValue, strict: Bool?)
}
