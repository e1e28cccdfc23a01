import FleetSupport
import Foundation
import Testing
@testable import Providers

/// Structured outputs (a JSON schema the answer follows, and strict tools) on each wire format,
/// and the schema as Claude's grammar takes it.
@Suite struct StructuredOutputWireTests {
    /// What Pydantic writes for a model with constraints, an optional field, a union and a nested
    /// definition (as `openai`'s `.parse()` or a client's own `model_json_schema()` sends it).
    static let pydanticSchema = """
    {"type": "object", "title": "Invoice",
     "properties": {
       "number": {"type": "string", "pattern": "^INV-[0-9]+$", "maxLength": 20},
       "total": {"type": "number", "minimum": 0, "description": "In euros"},
       "issued": {"type": "string", "format": "date"},
       "note": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": null},
       "kind": {"oneOf": [{"const": "sale"}, {"const": "refund"}]},
       "lines": {"type": "array", "items": {"$ref": "#/$defs/Line"}, "minItems": 1, "maxItems": 50},
       "tags": {"type": "array", "items": {"type": "string", "format": "regex"}, "minItems": 2},
       "extra": {"type": "object", "additionalProperties": {"type": "string"}}
     },
     "required": ["number", "total", "issued", "kind", "lines"],
     "$defs": {"Line": {"type": "object", "properties": {"sku": {"type": "string"}, "qty": {"type": "integer", "exclusiveMinimum": 0}},
                        "required": ["sku", "qty"]}}}
    """

    @Test func aSchemaIsMadeOneClaudesGrammarCompiles() throws {
        let out = try #require(try jsonObject(ClaudeSchema.transform(JSONValue.parse(text: Self.pydanticSchema))))
        #expect(out["additionalProperties"] as? Bool == false && out["title"] as? String == "Invoice")
        #expect(out["required"] as? [String] == ["number", "total", "issued", "kind", "lines"])
        let properties = try #require(out["properties"] as? [String: [String: Any]])
        // Kept: a supported format, a default, anyOf, minItems of 1, a $ref. A pattern goes to the
        // description, as Anthropic's SDKs put it (the grammar refuses lookarounds and `\b`).
        #expect(properties["number"]?["pattern"] == nil && properties["number"]?["maxLength"] == nil)
        #expect(properties["number"]?["description"] as? String == #"{maxLength: 20, pattern: "^INV-[0-9]+$"}"#)
        #expect(properties["total"]?["minimum"] == nil && properties["total"]?["description"] as? String == "In euros\n\n{minimum: 0}")
        #expect(properties["issued"]?["format"] as? String == "date" && properties["issued"]?["description"] == nil)
        #expect((properties["note"]?["anyOf"] as? [Any])?.count == 2 && properties["note"]?["default"] is NSNull)
        // oneOf is read as anyOf.
        #expect((properties["kind"]?["anyOf"] as? [[String: Any]])?.map { $0["const"] as? String } == ["sale", "refund"] && properties["kind"]?["oneOf"] == nil)
        let lines = try #require(properties["lines"])
        #expect(lines["minItems"] as? Int == 1 && lines["maxItems"] == nil && lines["description"] as? String == "{maxItems: 50}")
        #expect((lines["items"] as? [String: Any])?["$ref"] as? String == "#/$defs/Line")
        // minItems above 1 and an unknown format go to the description.
        let tags = try #require(properties["tags"])
        #expect(tags["minItems"] == nil && tags["description"] as? String == "{minItems: 2}")
        #expect((tags["items"] as? [String: Any])?["format"] == nil && (tags["items"] as? [String: Any])?["description"] as? String == "{format: \"regex\"}")
        // Every object closed, a map's open `additionalProperties` included (its value schema
        // left in the description for the model to read).
        #expect(properties["extra"]?["additionalProperties"] as? Bool == false)
        #expect(properties["extra"]?["description"] as? String == #"{additionalProperties: {"type":"string"}}"#)
        let line = try #require((out["$defs"] as? [String: [String: Any]])?["Line"])
        #expect(line["additionalProperties"] as? Bool == false)
        #expect((line["properties"] as? [String: [String: Any]])?["qty"]?["description"] as? String == "{exclusiveMinimum: 0}")
    }

    /// What the review of the first version found: a lone `allOf` around a `$ref` (older
    /// Pydantic) is the reference, a tuple's `prefixItems` goes to the description.
    @Test func aLoneAllOfReferenceAndATuple() throws {
        let schema = try JSONValue.parse(text: """
            {"type": "object", "properties": {"line": {"allOf": [{"$ref": "#/$defs/Line"}], "description": "The line"},
             "pair": {"type": "array", "prefixItems": [{"type": "integer"}, {"type": "string"}]}},
             "$defs": {"Line": {"type": "object", "properties": {}}}}
            """)
        let out = try #require(try jsonObject(ClaudeSchema.transform(schema)))
        let properties = try #require(out["properties"] as? [String: [String: Any]])
        #expect(properties["line"]?["$ref"] as? String == "#/$defs/Line" && properties["line"]?["allOf"] == nil)
        #expect(properties["line"]?["description"] as? String == "The line")
        #expect(properties["pair"]?["prefixItems"] == nil)
        #expect(properties["pair"]?["description"] as? String == #"{prefixItems: [{"type":"integer"},{"type":"string"}]}"#)
    }

    /// OpenAI's strict mode: a schema with a keyword it refuses, a `$ref` with siblings or an
    /// open object typed as a list does not fit, and goes without `strict`.
    @Test(arguments: [
        (#"{"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"], "additionalProperties": false}"#, true),
        (#"{"type": "object", "properties": {"a": {"type": "string", "default": "x"}}, "required": ["a"], "additionalProperties": false}"#, false),
        (#"{"type": "object", "properties": {"a": {"type": "string", "minLength": 2}}, "required": ["a"], "additionalProperties": false}"#, false),
        (#"{"type": "object", "properties": {"a": {"allOf": [{"type": "string"}]}}, "required": ["a"], "additionalProperties": false}"#, false),
        (##"{"type": "object", "properties": {"a": {"$ref": "#/$defs/B", "description": "d"}}, "required": ["a"], "additionalProperties": false, "$defs": {"B": {"type": "string"}}}"##, false),
        (#"{"type": "object", "properties": {"a": {"type": ["object", "null"], "properties": {}}}, "required": ["a"], "additionalProperties": false}"#, false),
        (#"{"type": "object", "properties": {"a": {"type": "string"}}, "additionalProperties": false}"#, false),
    ])
    func strictModeFit(schema: String, fits: Bool) throws {
        #expect(OpenAIWireRequest.fitsStrictMode(try JSONValue.parse(text: schema)) == fits, "\(schema)")
    }

    @Test func aSchemaClaudeTakesAsItIsComesOutTheSame() throws {
        let schema = try JSONValue.parse(text: """
            {"type": "object", "properties": {"name": {"type": "string"}, "email": {"type": "string", "format": "email"},
             "plan": {"type": "string", "enum": ["free", "pro"]}}, "required": ["name"], "additionalProperties": false}
            """)
        #expect(ClaudeSchema.transform(schema) == schema)
    }

    /// `output_config.format` reaches Claude 4.5 and later, Opus 4.1 (and a Claude id without a
    /// version), with the effort beside it; older models and other services' models behind the
    /// Anthropic format are not sent it (the router keeps them away).
    @Test(arguments: [("claude-sonnet-4-5-20250929", true), ("claude-haiku-4-5", true), ("claude-opus-4-7", true), ("claude-next", true),
                      ("claude-opus-4-1-20250805", true), ("anthropic/claude-sonnet-4-5", true),
                      ("claude-sonnet-4-20250514", false), ("claude-3-5-haiku-20241022", false), ("claude-sonnet-4-1", false),
                      ("MiniMax-M2", false), ("glm-4.6", false)])
    func theFormatGoesToTheClaudeModelsThatTakeIt(model: String, takes: Bool) throws {
        var request = ProviderRequest(model: model, prompt: "extract")
        request.responseFormat = .jsonSchema(name: "response", schema: try JSONValue.parse(text: #"{"type": "object", "properties": {"a": {"type": "integer", "minimum": 1}}}"#), strict: true)
        request.effort = "low"
        let body = try wireJSON(AnthropicWireRequest(request, stream: false))
        let format = body[object: "output_config"]?[object: "format"]
        #expect((format != nil) == takes, "\(body)")
        if takes {
            #expect(format?["type"] as? String == "json_schema")
            let schema = format?[object: "schema"]
            #expect(schema?["additionalProperties"] as? Bool == false, "made one the grammar takes")
            #expect((schema?[object: "properties"]?[object: "a"]?["description"] as? String) == "{minimum: 1}")
        }
        let older = request.featuresOlderModelsLack(on: .anthropic)
        #expect(older.count == 1 && older[0].models.matches(model) == !takes)
        #expect(request.featuresOlderModelsLack(on: .openai).isEmpty && request.unsupportedFeatures(on: .anthropic).isEmpty)
    }

    @Test func strictToolsReachClaudeFourFiveAndLater() throws {
        var request = ProviderRequest(model: "claude-sonnet-4-5", prompt: "weather?")
        let schema = try JSONValue.parse(text: #"{"type": "object", "properties": {"days": {"type": "integer", "maximum": 7}}, "required": ["days"]}"#)
        request.tools = [ToolDefinition(name: "forecast", parameters: schema, strict: true), ToolDefinition(name: "loose", parameters: schema)]
        var tools = try wireJSON(AnthropicWireRequest(request, stream: false))[objects: "tools"]
        #expect(tools.map { $0["strict"] as? Bool } == [true, nil])
        #expect(tools[0][object: "input_schema"]?["additionalProperties"] as? Bool == false)
        #expect(tools[1][object: "input_schema"]?["additionalProperties"] == nil, "a tool that is not strict keeps its schema as sent")
        request.model = "claude-sonnet-4-20250514"
        tools = try wireJSON(AnthropicWireRequest(request, stream: false))[objects: "tools"]
        #expect(tools.allSatisfy { $0["strict"] == nil && ($0[object: "input_schema"]?[object: "properties"]?[object: "days"]?["maximum"] as? Int) == 7 })
    }

    /// What Anthropic's format cannot carry beside a schema, or at all.
    @Test func jsonWithoutASchemaAndPrefillAreKeptFromClaude() throws {
        var request = ProviderRequest(model: "claude-sonnet-4-5", prompt: "json")
        request.responseFormat = .jsonObject
        #expect(request.unsupportedFeatures(on: .anthropic).first?.contains("without a schema") == true)
        #expect(request.unsupportedFeatures(on: .openai).isEmpty && request.featuresOlderModelsLack(on: .anthropic).isEmpty)
        request.responseFormat = .jsonSchema(name: "r", schema: .object(["type": .string("object")]), strict: true)
        request.messages.append(ProviderMessage(role: .assistant, content: "{"))
        request.continuesLastAssistantTurn = true
        #expect(request.unsupportedFeatures(on: .anthropic).first?.contains("prefill") == true)
    }

    /// Gemini and Ollama carry the schema as their JSON output, as they did before.
    @Test func geminiAndOllamaTakeTheSchema() throws {
        var request = ProviderRequest(model: "m", prompt: "extract")
        let schema = try JSONValue.parse(text: Self.pydanticSchema)
        request.responseFormat = .jsonSchema(name: "response", schema: schema, strict: true)
        let gemini = try wireJSON(GeminiWireRequest(request))[object: "generationConfig"]
        #expect(gemini?["responseMimeType"] as? String == "application/json" && gemini?[object: "responseJsonSchema"]?["title"] as? String == "Invoice")
        let ollama = try wireJSON(OllamaWireRequest(request, stream: false))
        #expect(ollama[object: "format"]?["title"] as? String == "Invoice")
    }

    /// A refusal is its own stop: OpenAI writes it as `stop` with the text as `refusal`,
    /// Anthropic as `refusal`; a safety filter stays `content_filter`.
    @Test func aRefusalIsNotAFilter() {
        let refusal = StopReason(providerReason: "refusal", hasToolCalls: false)
        #expect(refusal == .refusal && refusal.openAI == "stop" && refusal.anthropic == "refusal" && refusal.isWithheld)
        let filter = StopReason(providerReason: "content_filter", hasToolCalls: false)
        #expect(filter == .contentFilter && filter.openAI == "content_filter" && filter.anthropic == "refusal" && filter.isWithheld)
        #expect(OpenAIChatClient.finishReason("stop", refusal: true, content: false) == "refusal")
    }

    func jsonObject(_ value: JSONValue) throws -> [String: Any]? {
        try JSONSerialization.jsonObject(with: Data(FastJSONEncoder().encode(value))) as? [String: Any]
    }
}
