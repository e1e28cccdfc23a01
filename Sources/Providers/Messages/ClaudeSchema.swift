import FleetSupport

/// A JSON Schema as Claude's structured outputs take it (`output_config.format`, a tool's
/// `strict`), from one written for another provider (an OpenAI client's `response_format`, a
/// Pydantic model's schema).
///
/// Anthropic compiles the schema into a grammar and answers 400 to what it cannot compile: every
/// object must say `additionalProperties: false`; numeric, length and most array constraints,
/// `oneOf`, and string formats outside its list are refused. Such a schema is rewritten the way
/// Anthropic's own SDKs rewrite one before sending it: objects closed, `oneOf` read as `anyOf`,
/// and each constraint the grammar cannot hold moved into the description as text, so the model
/// still reads it. Everything Anthropic documents as supported is kept as it is.
enum ClaudeSchema {
    /// The string formats Anthropic's grammar holds.
    static let stringFormats: Set<String> = ["date-time", "time", "date", "duration", "email", "hostname", "uri", "ipv4", "ipv6", "uuid"]

    /// Keywords kept wherever they appear (the rest of the supported ones are handled by kind), in
    /// the order they are written, so the same schema gives the same text.
    /// (`pattern` is not among them: Anthropic's grammar refuses lookarounds, backreferences and
    /// `\b`, which Pydantic's `Decimal` and Zod's `email()` patterns use, and its SDKs move every
    /// pattern into the description, as this does.)
    private static let kept = ["title", "description", "default"]

    static func transform(_ schema: JSONValue) -> JSONValue {
        guard case .object(var rest) = schema else { return schema } // `true`/`false` schemas pass
        // `allOf` holding one reference (older Pydantic's way to describe a referenced field) is
        // that reference: Anthropic refuses `allOf` with `$ref` in it.
        if case .array(let only)? = rest["allOf"], only.count == 1, case .object(let single) = only[0], single.count == 1,
           let ref = single["$ref"], rest["$ref"] == nil {
            rest.removeValue(forKey: "allOf")
            rest["$ref"] = ref
        }
        var out: JSONObject = [:] // properties keep their order: Claude writes them in it
        for key in ["$defs", "definitions"] {
            if case .object(let definitions)? = rest.removeValue(forKey: key) {
                out[key] = .object(definitions.mapValues(transform))
            }
        }
        if let ref = rest.removeValue(forKey: "$ref") {
            // A reference stands for its definition: siblings beside it are not applied.
            out["$ref"] = ref
            if case .string(let text)? = rest["description"] { out["description"] = .string(text) }
            return .object(out)
        }
        for key in kept { if let value = rest.removeValue(forKey: key) { out[key] = value } }
        if case .array(let values)? = rest["enum"], !values.isEmpty, values.allSatisfy(\.isScalar) {
            out["enum"] = rest.removeValue(forKey: "enum")
        }
        if let value = rest["const"], value.isScalar { out["const"] = rest.removeValue(forKey: "const") }
        if case .array(let variants)? = rest.removeValue(forKey: "anyOf") ?? rest.removeValue(forKey: "oneOf") {
            out["anyOf"] = .array(variants.map(transform))
        }
        if case .array(let variants)? = rest.removeValue(forKey: "allOf") {
            out["allOf"] = .array(variants.map(transform))
        }
        let type = rest.removeValue(forKey: "type")
        if let type { out["type"] = type }
        let types: Set<String> = switch type {
        case .string(let name)?: [name]
        case .array(let names)?: Set(names.compactMap { if case .string(let name) = $0 { name } else { nil } })
        default: []
        }
        if types.contains("object") || rest["properties"] != nil {
            if case .object(let properties)? = rest.removeValue(forKey: "properties") {
                out["properties"] = .object(properties.mapValues(transform))
            }
            if let required = rest.removeValue(forKey: "required") { out["required"] = required }
            // Closed, whatever it said: Anthropic refuses any other value. A map's value schema
            // (`dict[str, X]`) stays in the description for the model to read.
            if case .bool? = rest["additionalProperties"] { rest.removeValue(forKey: "additionalProperties") }
            out["additionalProperties"] = .bool(false)
        }
        if types.contains("array") || rest["items"] != nil {
            if let items = rest.removeValue(forKey: "items") { out["items"] = transform(items) }
            if case .number(let least)? = rest["minItems"], least == 0 || least == 1 { out["minItems"] = rest.removeValue(forKey: "minItems") }
        }
        if case .string(let format)? = rest["format"], stringFormats.contains(format) { out["format"] = rest.removeValue(forKey: "format") }
        if !rest.isEmpty {
            // What the grammar cannot hold, for the model to read: `{minimum: 1, maximum: 10}`.
            let notes = rest.keys.sorted().map { key in
                "\(key): " + ((try? FastJSONEncoder().encodeToString(rest[key]!)) ?? "")
            }
            var description = ""
            if case .string(let text)? = out["description"] { description = text + "\n\n" }
            out["description"] = .string(description + "{" + notes.joined(separator: ", ") + "}")
        }
        return .object(out)
    }
}

extension JSONValue {
    /// A string, number, boolean or null.
    var isScalar: Bool {
        switch self {
        case .null, .bool, .number, .string: true
        case .array, .object: false
        }
    }
}
