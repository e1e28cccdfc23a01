import FleetSupport
import Foundation
import Providers

/// A problem with a client's request to a compatible endpoint: answered 400
/// `invalid_request_error` in the client's dialect, naming the parameter. fleetd's own task API
/// reads its bodies with ``CompatObject`` too and answers the ``kind`` as its error code.
struct CompatRequestError: Error, Sendable {
    enum Kind: Sendable {
        /// A required member is absent.
        case missing
        /// A member of another JSON type than the one asked for.
        case wrongType
        /// A value of the right type that is not allowed.
        case invalidValue
    }

    var param: String?
    var message: String
    var kind: Kind = .invalidValue
}

/// A client's request to a compatible endpoint, translated: the model it named, the call in
/// provider-neutral terms, and what shapes the answer.
struct CompatCall: Sendable {
    /// `model` as the client sent it (`auto`, an alias, a fleet model name or a provider model id).
    var model: String
    /// The model call; its `model` is set by the task run, its `maxTokens` from ``maxTokens``.
    var request: ProviderRequest
    /// The client's token limit; `nil` takes the agent type's.
    var maxTokens: Int?
    var stream: Bool
    /// OpenAI `stream_options.include_usage`: a usage chunk before `[DONE]`.
    var includeUsage = false
    /// OpenAI `user`, Anthropic `metadata.user_id`: rollout stickiness.
    var userId: String?
    /// What a Responses API answer repeats of its request (`instructions`, `tools`, `text`, …).
    var echo: JSONObject = [:]
    /// Responses API: the response this request continues, and whether its answer is kept for a
    /// later `previous_response_id` (`store`, true unless the client says false).
    var previousResponseId: String?
    var keep = false
    /// Responses API: the conversation's system text from its input items (not `instructions`),
    /// kept with it for a continuation.
    var keptSystem: String?
}

/// One JSON object of a client's request, read with the path of every value so each error names
/// its parameter (`messages[2].content[0].image_url`). A JSON `null` counts as absent.
struct CompatObject {
    let fields: JSONObject
    let path: String

    init(_ value: JSONValue, path: String) throws {
        guard case .object(let fields) = value else {
            throw CompatRequestError(param: path.isEmpty ? nil : path, message: "\(path.isEmpty ? "the body" : "'\(path)'") must be a JSON object",
                                     kind: .wrongType)
        }
        self.fields = fields
        self.path = path
    }

    func param(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    func value(_ key: String) -> JSONValue? {
        guard let value = fields[key], value != .null else { return nil }
        return value
    }

    func has(_ key: String) -> Bool { value(key) != nil }

    func string(_ key: String) throws -> String? {
        guard let value = value(key) else { return nil }
        guard case .string(let text) = value else { throw wrongType(key, "a string") }
        return text
    }

    func requiredString(_ key: String) throws -> String {
        guard let text = try string(key) else { throw CompatRequestError(param: param(key), message: "'\(param(key))' is required", kind: .missing) }
        return text
    }

    /// A whole number (`3`, `3.0`, as `JSONDecoder` reads an `Int`); `1.5` is a wrong value.
    func int(_ key: String, atLeast minimum: Int? = nil) throws -> Int? {
        guard let value = value(key) else { return nil }
        guard case .number(let number) = value else { throw wrongType(key, "an integer") }
        guard number == number.rounded() else {
            throw CompatRequestError(param: param(key), message: "'\(param(key))' must be a whole number, got \(number)")
        }
        guard abs(number) < 1e15 else {
            throw CompatRequestError(param: param(key), message: "'\(param(key))' must have at most 15 digits, got \(number)")
        }
        if let minimum, Int(number) < minimum {
            throw CompatRequestError(param: param(key), message: "'\(param(key))' must be at least \(minimum)")
        }
        return Int(number)
    }

    /// One of an enumeration's raw values; an error listing them otherwise.
    func choice<Choice: RawRepresentable & CaseIterable>(_ key: String, of type: Choice.Type) throws -> Choice? where Choice.RawValue == String {
        guard let text = try string(key) else { return nil }
        guard let choice = Choice(rawValue: text) else {
            let allowed = Choice.allCases.map(\.rawValue).joined(separator: ", ")
            throw CompatRequestError(param: param(key), message: "'\(param(key))' must be one of \(allowed); got '\(text)'")
        }
        return choice
    }

    func double(_ key: String, in range: ClosedRange<Double>? = nil) throws -> Double? {
        guard let value = value(key) else { return nil }
        guard case .number(let number) = value else { throw wrongType(key, "a number") }
        if let range, !range.contains(number) {
            throw CompatRequestError(param: param(key), message: "'\(param(key))' must be between \(range.lowerBound.formatted) and \(range.upperBound.formatted)")
        }
        return number
    }

    func bool(_ key: String) throws -> Bool? {
        guard let value = value(key) else { return nil }
        guard case .bool(let flag) = value else { throw wrongType(key, "true or false") }
        return flag
    }

    func array(_ key: String) throws -> [JSONValue]? {
        guard let value = value(key) else { return nil }
        guard case .array(let items) = value else { throw wrongType(key, "an array") }
        return items
    }

    func object(_ key: String) throws -> CompatObject? {
        guard let value = value(key) else { return nil }
        return try CompatObject(value, path: param(key))
    }

    /// A string, or an array of strings (OpenAI's `stop`).
    func strings(_ key: String) throws -> [String]? {
        guard let value = value(key) else { return nil }
        switch value {
        case .string(let text): return [text]
        case .array(let items):
            return try items.enumerated().map { index, item in
                guard case .string(let text) = item else {
                    throw CompatRequestError(param: "\(param(key))[\(index)]", message: "'\(param(key))[\(index)]' must be a string")
                }
                return text
            }
        default: throw wrongType(key, "a string or an array of strings")
        }
    }

    /// Refuses members outside `known`: a parameter fleetd does not carry is an error naming it,
    /// never dropped silently. `reasons` says why for parameters a client may well send.
    func refuseUnknown(_ known: Set<String>, reasons: [String: String] = [:]) throws {
        for key in fields.keys.sorted() where !known.contains(key) && fields[key] != .null {
            let why = reasons[key] ?? "fleetd does not support it"
            throw CompatRequestError(param: param(key), message: "'\(param(key))' is not carried: \(why)")
        }
    }

    /// Accepts `key` when its value asks for what fleetd does anyway (`isDefault`: OpenAI's
    /// `modalities: ["text"]`, a `service_tier` of `auto`), and refuses any other value as
    /// ``refuseUnknown(_:reasons:)`` refuses the parameter, saying `why`. Clients and frameworks
    /// send such defaults on every request; refusing them would refuse the client.
    func acceptDefault(_ key: String, why: String, _ isDefault: (JSONValue) -> Bool) throws {
        guard let value = value(key), !isDefault(value) else { return }
        throw CompatRequestError(param: param(key), message: "'\(param(key))' is not carried: \(why)")
    }

    private func wrongType(_ key: String, _ expected: String) -> CompatRequestError {
        CompatRequestError(param: param(key), message: "'\(param(key))' must be \(expected)", kind: .wrongType)
    }
}

/// What Chat Completions and the Responses API write alike about function tools, in two shapes
/// (Chat Completions nests the function under `function`; the Responses API has it flat).
enum CompatTools {
    /// A function from the object holding its `name`, `description`, `parameters` and `strict`;
    /// parameters without a `type` are an object's, none at all an empty object.
    static func function(_ holder: CompatObject) throws -> ToolDefinition {
        var parameters = holder.value("parameters") ?? .object(["type": .string("object"), "properties": .object([:])])
        guard case .object(var schema) = parameters else {
            throw CompatRequestError(param: holder.param("parameters"), message: "'\(holder.param("parameters"))' must be a JSON Schema object")
        }
        if schema["type"] == nil {
            schema["type"] = .string("object")
            parameters = .object(schema)
        }
        return ToolDefinition(name: try holder.requiredString("name"), description: try holder.string("description"), parameters: parameters,
                              strict: try holder.bool("strict"))
    }

    /// `tool_choice` as a string (`auto`, `none`, `required`); `nil` for any other value.
    static func mode(_ value: JSONValue, tools: [ToolDefinition]) throws -> ToolChoice? {
        switch value {
        case .string("auto"): return ToolChoice.auto
        case .string("none"): return ToolChoice.none // not `.none`, which is the optional's nil here
        case .string("required"):
            guard !tools.isEmpty else {
                throw CompatRequestError(param: "tool_choice", message: "'tool_choice' is \"required\", but 'tools' names no tool to call")
            }
            return ToolChoice.required
        default: return nil
        }
    }

    /// A `tool_choice` naming one function, which `tools` must hold.
    static func named(_ name: String, param: String, tools: [ToolDefinition]) throws -> ToolChoice {
        guard tools.contains(where: { $0.name == name }) else {
            throw CompatRequestError(param: param, message: "'\(param)' is '\(name)', which names no tool in 'tools'")
        }
        return .tool(name)
    }
}

extension Double {
    /// `1` rather than `1.0`.
    fileprivate var formatted: String { self == rounded() ? String(Int(self)) : String(self) }
}

extension CompatCall {
    /// The text the router scores: the last user turn's text (its tool results' text when it has
    /// none), and everything before it as context (system prompt, earlier turns).
    var routingText: (prompt: String, context: String?) {
        func text(_ message: ProviderMessage) -> String {
            message.blocks.map { block in
                switch block {
                case .text(let text): text
                case .toolUse(let use): "\(use.name) \(use.input.compactText)"
                case .toolResult(let result): result.content.compactMap(\.text).joined(separator: "\n")
                case .document(let document): document.plainText ?? ""
                case .image, .thinking, .redactedThinking: "" // a model's thinking is not the task's text
                }
            }.filter { !$0.isEmpty }.joined(separator: "\n\n")
        }
        let messages = request.messages
        let last = messages.lastIndex { $0.role == .user }
        let prompt = last.map { text(messages[$0]) } ?? ""
        var before = [request.system].compactMap { $0 }
        before += messages.indices.filter { $0 != last }.map { text(messages[$0]) }
        let context = before.filter { !$0.isEmpty }.joined(separator: "\n\n")
        return (prompt, context.isEmpty ? nil : context)
    }
}

extension JSONValue {
    /// Compact JSON text (object members in their order).
    var compactText: String {
        (try? FastJSONEncoder().encodeToString(self)) ?? "{}"
    }

    /// Parses JSON text.
    static func parse(_ text: String) -> JSONValue? {
        try? JSONValue.parse(text: text)
    }
}
