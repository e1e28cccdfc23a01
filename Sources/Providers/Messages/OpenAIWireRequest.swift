/// The body of OpenAI's `POST /chat/completions` (also xAI and Ollama's `/v1`) for a
/// ``ProviderRequest``: a `system` message, user messages of text and `image_url` parts (Base64
/// as `data:` URLs), assistant messages with `tool_calls` (arguments as JSON text), one `tool`
/// message per tool result (an error marked `[tool error]`: the format has no flag), tools as
/// functions, `tool_choice`, `parallel_tool_calls`, stop, sampling, seed, penalties,
/// `response_format`, and `reasoning_effort` to reasoning models (``takesReasoningEffort(model:)``).
struct OpenAIWireRequest: Encodable {
    var model: String
    var messages: [Message]
    var max_tokens: Int?
    var max_completion_tokens: Int?
    var temperature: Double?
    var top_p: Double?
    var stop: [String]?
    var seed: Int?
    var presence_penalty: Double?
    var frequency_penalty: Double?
    var tools: [Tool]?
    var tool_choice: Choice?
    var parallel_tool_calls: Bool?
    var response_format: Format?
    var reasoning_effort: String?
    var stream: Bool
    var stream_options: StreamOptions?

    /// - Parameter strictTools: carry a tool's `strict` (OpenAI's own API, or a gateway in front of
    ///   it); xAI and Ollama get the schema alone.
    init(_ request: ProviderRequest, stream: Bool, maxCompletionTokens: Bool, strictTools: Bool = false) {
        model = request.model
        var messages: [Message] = request.system.map { [Message(role: "system", content: .text($0))] } ?? []
        for message in request.messages where !message.blocks.isEmpty {
            messages += Self.messages(for: message)
        }
        self.messages = messages
        if maxCompletionTokens { max_completion_tokens = request.maxTokens } else { max_tokens = request.maxTokens }
        temperature = request.temperature
        top_p = request.topP
        stop = request.stopSequences.isEmpty ? nil : request.stopSequences
        seed = request.seed
        presence_penalty = request.presencePenalty
        frequency_penalty = request.frequencyPenalty
        if !request.tools.isEmpty {
            tools = request.tools.map {
                Tool(function: Function(name: $0.name, description: $0.description, parameters: $0.parameters,
                                        strict: strictTools ? Self.strict($0.strict, schema: $0.parameters) : nil))
            }
            tool_choice = request.toolChoice.map(Choice.init)
            parallel_tool_calls = request.parallelToolCalls
        }
        response_format = request.responseFormat.map(Format.init)
        // An Anthropic client's effort: `xhigh` and `max` as `high`, which every reasoning model takes.
        if let effort = request.reasoningEffort ?? request.effort.map({ $0 == "max" || $0 == "xhigh" ? "high" : $0 }),
           Self.takesReasoningEffort(model: request.model) {
            reasoning_effort = effort
        }
        self.stream = stream
        stream_options = stream ? StreamOptions(include_usage: true) : nil
    }

    /// A `strict: true` only for a schema OpenAI's strict mode takes (``fitsStrictMode(_:)``): an
    /// Anthropic client's strict tool or `output_config.format` may leave properties optional,
    /// which OpenAI refuses with a 400 in strict mode, so such a schema goes without `strict`.
    static func strict(_ strict: Bool?, schema: JSONValue) -> Bool? {
        strict == true && !fitsStrictMode(schema) ? nil : strict
    }

    /// Keywords OpenAI's strict mode refuses (its structured outputs guide's list, and `default`,
    /// which it answers "'default' is not permitted"); a schema with any of them is sent without `strict`.
    static let keywordsStrictModeRefuses: Set<String> = [
        "default", "allOf", "oneOf", "not", "if", "then", "else", "patternProperties", "unevaluatedProperties", "propertyNames",
        "minProperties", "maxProperties", "unevaluatedItems", "contains", "minContains", "maxContains", "uniqueItems",
        "minLength", "maxLength", "dependentRequired", "dependentSchemas", "prefixItems",
    ]

    /// Whether OpenAI's strict mode takes a schema: an object at the top, every object in it
    /// closed (`additionalProperties: false`) with all its properties required, no keyword strict
    /// mode refuses, and no `$ref` with keywords beside it.
    static func fitsStrictMode(_ schema: JSONValue) -> Bool {
        guard case .object(let top) = schema, top["type"] == .string("object") else { return false }
        func isObject(_ node: JSONObject) -> Bool {
            switch node["type"] {
            case .string("object")?: true
            case .array(let types)?: types.contains(.string("object"))
            default: false
            }
        }
        func fits(_ value: JSONValue) -> Bool {
            guard case .object(let node) = value else { return true }
            if node.keys.contains(where: keywordsStrictModeRefuses.contains) { return false }
            if node["$ref"] != nil, node.count > 1 { return false }
            if case .object(let properties)? = node["properties"] {
                guard node["additionalProperties"] == .bool(false) else { return false }
                var required: Set<String> = []
                if case .array(let names)? = node["required"] {
                    for case .string(let name) in names { required.insert(name) }
                }
                guard Set(properties.keys).isSubset(of: required), properties.values.allSatisfy(fits) else { return false }
            } else if isObject(node), node["additionalProperties"] != .bool(false) {
                return false
            }
            for key in ["items", "additionalProperties"] where !(node[key].map(fits) ?? true) { return false }
            for key in ["anyOf"] {
                if case .array(let variants)? = node[key], !variants.allSatisfy(fits) { return false }
            }
            for key in ["$defs", "definitions"] {
                if case .object(let definitions)? = node[key], !definitions.values.allSatisfy(fits) { return false }
            }
            return true
        }
        return fits(schema)
    }

    /// Whether a model id names a reasoning model that takes `reasoning_effort`: OpenAI's o-series
    /// and GPT-5 families, gpt-oss (Ollama, gateways) and xAI's grok-3-mini. Other models answer
    /// 400 to it (gpt-4o, grok-4, the first o1-mini and o1-preview), so they are not sent it.
    static func takesReasoningEffort(model: String) -> Bool {
        var id = model.lowercased()
        if let slash = id.lastIndex(of: "/") { id = String(id[id.index(after: slash)...]) } // `openai/gpt-5` on a gateway
        if id.hasPrefix("gpt-5") || id.hasPrefix("gpt-oss") || id.hasPrefix("grok-3-mini") { return true }
        if id.hasPrefix("o1-mini") || id.hasPrefix("o1-preview") { return false }
        // o1, o3, o4-mini…: "o", a digit.
        return id.count >= 2 && id.first == "o" && id.dropFirst().first?.isNumber == true
    }

    /// One neutral message as Chat Completions messages: tool results become `tool` messages
    /// (before the rest of the user turn, in their order), the rest one user or assistant message.
    static func messages(for message: ProviderMessage) -> [Message] {
        var out: [Message] = []
        var parts: [Part] = []
        var calls: [Call] = []
        for (index, block) in message.blocks.enumerated() {
            switch block {
            case .text(let text): parts.append(Part(type: "text", text: text))
            case .image(let image):
                parts.append(Part(type: "image_url", image_url: ImageURL(url: image.urlForm, detail: message.imageDetails?[index])))
            case .toolUse(let use): calls.append(Call(id: use.id, function: CallFunction(name: use.name, arguments: use.input.jsonText)))
            case .toolResult(let result):
                out.append(Message(role: "tool", content: .text(result.textForFlaglessFormats), tool_call_id: result.toolUseId))
            case .thinking, .redactedThinking:
                continue // Anthropic's, signed for Anthropic: no place in this format
            case .document(let document):
                switch document.source {
                case .text: parts.append(Part(type: "text", text: document.plainText))
                case .base64(let mediaType, let data):
                    parts.append(Part(type: "file", file: File(filename: document.title ?? "document.pdf", file_data: "data:\(mediaType);base64,\(data)")))
                case .url: continue // kept away by ProviderRequest.unsupportedFeatures(on:)
                }
            }
        }
        switch message.role {
        case .system:
            let text = message.content
            if !text.isEmpty { out.append(Message(role: "system", content: .text(text))) }
        case .assistant:
            let texts = parts.filter { $0.text?.isEmpty == false }
            let content: Content? = texts.count == 1 ? .text(texts[0].text ?? "") : texts.isEmpty ? nil : .parts(texts)
            if content != nil || !calls.isEmpty {
                out.append(Message(role: "assistant", content: content, tool_calls: calls.isEmpty ? nil : calls))
            }
        case .user:
            if parts.count == 1, let text = parts[0].text {
                out.append(Message(role: "user", content: .text(text)))
            } else if !parts.isEmpty {
                out.append(Message(role: "user", content: .parts(parts)))
            }
        }
        return out
    }

    struct Message: Encodable {
        var role: String
        var content: Content?
        var tool_calls: [Call]?
        var tool_call_id: String?
    }

    enum Content: Encodable {
        case text(String)
        case parts([Part])

        func encode(to encoder: any Encoder) throws {
            var container = encoder.singleValueContainer()
            switch self {
            case .text(let text): try container.encode(text)
            case .parts(let parts): try container.encode(parts)
            }
        }
    }

    struct Part: Encodable {
        var type: String
        var text: String?
        var image_url: ImageURL?
        var file: File?
    }

    /// An inline file (a PDF): `file_data` is its `data:` URL.
    struct File: Encodable {
        var filename: String
        var file_data: String
    }

    struct ImageURL: Encodable {
        var url: String
        var detail: String?
    }

    struct Call: Encodable {
        var id: String
        var type = "function"
        var function: CallFunction
    }

    struct CallFunction: Encodable {
        var name: String
        var arguments: String
    }

    struct Tool: Encodable {
        var type = "function"
        var function: Function
    }

    struct Function: Encodable {
        var name: String
        var description: String?
        var parameters: JSONValue
        var strict: Bool?
    }

    /// `"auto"`, `"none"`, `"required"` or `{"type": "function", "function": {"name": …}}`.
    struct Choice: Encodable {
        var choice: ToolChoice

        init(_ choice: ToolChoice) { self.choice = choice }

        struct Named: Encodable {
            var type = "function"
            var function: Name
        }
        struct Name: Encodable { var name: String }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.singleValueContainer()
            switch choice {
            case .auto: try container.encode("auto")
            case .none: try container.encode("none")
            case .required: try container.encode("required")
            case .tool(let name): try container.encode(Named(function: Name(name: name)))
            }
        }
    }

    struct Format: Encodable {
        var type: String
        var json_schema: Schema?

        struct Schema: Encodable {
            var name: String
            var schema: JSONValue
            var strict: Bool?
        }

        init(_ format: ResponseFormat) {
            switch format {
            case .jsonObject: type = "json_object"
            case .jsonSchema(let name, let schema, let strict):
                type = "json_schema"
                json_schema = Schema(name: name, schema: schema, strict: OpenAIWireRequest.strict(strict, schema: schema))
            }
        }
    }

    struct StreamOptions: Encodable { var include_usage: Bool }
}
