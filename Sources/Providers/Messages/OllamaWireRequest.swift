/// The body of Ollama's native `POST /api/chat` for a ``ProviderRequest``: `system`, `user`,
/// `assistant` (with `tool_calls`, arguments as an object) and one `tool` message per result
/// (`tool_name`; an error marked `[tool error]`), text blocks of a message joined with blank
/// lines, Base64 images in `images`, tools as functions (`tool_choice: none` sends none),
/// `format` (`"json"` or the schema) and `options` (num_predict, sampling, stop, seed, penalties).
struct OllamaWireRequest: Encodable {
    var model: String
    var messages: [Message]
    var tools: [Tool]?
    var format: JSONValue?
    var stream: Bool
    var options: Options

    init(_ request: ProviderRequest, stream: Bool) {
        model = request.model
        var messages: [Message] = request.system.map { [Message(role: "system", content: $0)] } ?? []
        for message in request.messages where !message.blocks.isEmpty {
            messages += Self.messages(for: message)
        }
        self.messages = messages
        if !request.tools.isEmpty, request.toolChoice != ToolChoice.none {
            tools = request.tools.map { Tool(function: Function(name: $0.name, description: $0.description, parameters: $0.parameters)) }
        }
        switch request.responseFormat {
        case .jsonObject?: format = .string("json")
        case .jsonSchema(_, let schema, _)?: format = schema
        case nil: break
        }
        self.stream = stream
        options = Options(num_predict: request.maxTokens, temperature: request.temperature, top_p: request.topP, top_k: request.topK,
                          stop: request.stopSequences.isEmpty ? nil : request.stopSequences, seed: request.seed,
                          presence_penalty: request.presencePenalty, frequency_penalty: request.frequencyPenalty)
    }

    static func messages(for message: ProviderMessage) -> [Message] {
        var out: [Message] = []
        var texts: [String] = []
        var images: [String] = []
        var calls: [Call] = []
        for block in message.blocks {
            switch block {
            case .text(let text): if !text.isEmpty { texts.append(text) }
            case .image(.base64(_, let data)): images.append(data)
            case .image(.url): break // kept away from Ollama by ProviderRequest.unsupportedFeatures(on:)
            case .toolUse(let use): calls.append(Call(function: CallFunction(name: use.name, arguments: use.input)))
            case .toolResult(let result):
                out.append(Message(role: "tool", content: result.textForFlaglessFormats, tool_name: result.name))
            case .thinking, .redactedThinking:
                continue // Anthropic's, signed for Anthropic: no place in this format
            case .document(let document):
                if let text = document.plainText, !text.isEmpty { texts.append(text) } // a PDF is kept away (unsupportedFeatures)
            }
        }
        if !texts.isEmpty || !images.isEmpty || !calls.isEmpty {
            out.append(Message(role: message.role.rawValue, content: texts.joined(separator: "\n\n"),
                               images: images.isEmpty ? nil : images, tool_calls: calls.isEmpty ? nil : calls))
        }
        return out
    }

    struct Message: Encodable {
        var role: String
        var content: String
        var images: [String]?
        var tool_calls: [Call]?
        var tool_name: String?
    }

    struct Call: Encodable { var function: CallFunction }

    struct CallFunction: Encodable {
        var name: String
        var arguments: JSONValue
    }

    struct Tool: Encodable {
        var type = "function"
        var function: Function
    }

    struct Function: Encodable {
        var name: String
        var description: String?
        var parameters: JSONValue
    }

    struct Options: Encodable {
        var num_predict: Int
        var temperature: Double?
        var top_p: Double?
        var top_k: Int?
        var stop: [String]?
        var seed: Int?
        var presence_penalty: Double?
        var frequency_penalty: Double?
    }
}
