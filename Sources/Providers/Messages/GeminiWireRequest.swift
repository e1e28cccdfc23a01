/// The body of Gemini's `generateContent` / `streamGenerateContent` for a ``ProviderRequest``:
/// `systemInstruction`, `user` / `model` turns of parts (text, `inlineData` images,
/// `functionCall`, `functionResponse` with `{"content": …}` or, for an error, `{"error": …}`),
/// `functionDeclarations` with `parametersJsonSchema` (full JSON Schema), `toolConfig`
/// (`AUTO` / `ANY` / `NONE`, allowed names) and `generationConfig` (tokens, sampling, stop,
/// seed, penalties, JSON output with its schema).
struct GeminiWireRequest: Encodable {
    var contents: [Content]
    var systemInstruction: Content?
    var tools: [ToolGroup]?
    var toolConfig: ToolConfig?
    var generationConfig: GenerationConfig

    init(_ request: ProviderRequest) {
        contents = request.alternatingTurns.map { message in
            Content(role: message.role == .assistant ? "model" : "user", parts: message.blocks.compactMap(Part.init))
        }
        systemInstruction = request.system.map { Content(role: nil, parts: [Part(text: $0)]) }
        if !request.tools.isEmpty {
            tools = [ToolGroup(functionDeclarations: request.tools.map {
                Declaration(name: $0.name, description: $0.description, parametersJsonSchema: $0.parameters)
            })]
            toolConfig = request.toolChoice.map(ToolConfig.init)
        }
        var config = GenerationConfig(maxOutputTokens: request.maxTokens)
        config.temperature = request.temperature
        config.topP = request.topP
        config.topK = request.topK
        config.stopSequences = request.stopSequences.isEmpty ? nil : request.stopSequences
        config.seed = request.seed
        config.presencePenalty = request.presencePenalty
        config.frequencyPenalty = request.frequencyPenalty
        switch request.responseFormat {
        case .jsonObject?:
            config.responseMimeType = "application/json"
        case .jsonSchema(_, let schema, _)?:
            config.responseMimeType = "application/json"
            config.responseJsonSchema = schema
        case nil:
            break
        }
        generationConfig = config
    }

    struct Content: Encodable {
        var role: String?
        var parts: [Part]
    }

    struct Part: Encodable {
        var text: String?
        var inlineData: InlineData?
        var functionCall: FunctionCall?
        var functionResponse: FunctionResponse?
        var thoughtSignature: String?

        /// Google's documented stand-in for a function call's thought signature when the call did
        /// not come from Gemini (https://ai.google.dev/gemini-api/docs/thought-signatures).
        static let unsignedCall = "skip_thought_signature_validator"

        init(text: String) { self.text = text }

        /// `nil` for what Gemini cannot carry (image URLs: ``ProviderRequest/unsupportedFeatures(on:)``
        /// keeps such requests away from Gemini), for empty text, and for Anthropic's thinking
        /// blocks (signed for Anthropic; Gemini's own thoughts travel as signatures on its calls).
        init?(_ block: ContentBlock) {
            switch block {
            case .text(let text):
                guard !text.isEmpty else { return nil }
                self.text = text
            case .image(.base64(let mediaType, let data)):
                inlineData = InlineData(mimeType: mediaType, data: data)
            case .image(.url):
                return nil
            case .toolUse(let use):
                functionCall = FunctionCall(id: use.id, name: use.name, args: use.input)
                // Gemini 3 refuses (400) a call in the history without the signature it gave it.
                // A call fleetd did not get from Gemini (a client's, another provider's) has none:
                // it carries the value Google documents for that case, which skips the check.
                thoughtSignature = use.signature ?? Self.unsignedCall
            case .toolResult(let result):
                let text = JSONValue.string(result.text)
                functionResponse = FunctionResponse(id: result.toolUseId, name: result.name ?? "",
                                                    response: .object([result.isError ? "error" : "content": text]))
            case .thinking, .redactedThinking:
                return nil
            case .document(let document):
                switch document.source {
                case .text:
                    guard let text = document.plainText, !text.isEmpty else { return nil }
                    self.text = text
                case .base64(let mediaType, let data): inlineData = InlineData(mimeType: mediaType, data: data)
                case .url: return nil // kept away by ProviderRequest.unsupportedFeatures(on:)
                }
            }
        }
    }

    struct InlineData: Encodable {
        var mimeType: String
        var data: String
    }

    struct FunctionCall: Encodable {
        var id: String
        var name: String
        var args: JSONValue
    }

    struct FunctionResponse: Encodable {
        var id: String
        var name: String
        var response: JSONValue
    }

    struct ToolGroup: Encodable { var functionDeclarations: [Declaration] }

    struct Declaration: Encodable {
        var name: String
        var description: String?
        var parametersJsonSchema: JSONValue
    }

    struct ToolConfig: Encodable {
        var functionCallingConfig: CallingConfig

        struct CallingConfig: Encodable {
            var mode: String
            var allowedFunctionNames: [String]?
        }

        init(_ choice: ToolChoice) {
            switch choice {
            case .auto: functionCallingConfig = CallingConfig(mode: "AUTO")
            case .none: functionCallingConfig = CallingConfig(mode: "NONE")
            case .required: functionCallingConfig = CallingConfig(mode: "ANY")
            case .tool(let name): functionCallingConfig = CallingConfig(mode: "ANY", allowedFunctionNames: [name])
            }
        }
    }

    struct GenerationConfig: Encodable {
        var maxOutputTokens: Int
        var temperature: Double?
        var topP: Double?
        var topK: Int?
        var stopSequences: [String]?
        var seed: Int?
        var presencePenalty: Double?
        var frequencyPenalty: Double?
        var responseMimeType: String?
        var responseJsonSchema: JSONValue?
    }
}
