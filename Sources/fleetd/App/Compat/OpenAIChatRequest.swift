import Providers

/// `POST /v1/chat/completions`: an OpenAI Chat Completions body translated into a ``CompatCall``.
///
/// System and developer messages before the conversation become the system prompt; user content
/// parts (text, `image_url` as a URL or a `data:` URL, with its `detail` for OpenAI), assistant `tool_calls` (arguments must be a
/// JSON object), `tool` messages (answering a call made earlier, whose name they take), tools,
/// `tool_choice`, `parallel_tool_calls`, `stop`, sampling, seed, penalties, `response_format`,
/// `max_completion_tokens` / `max_tokens`, `stream` and `stream_options.include_usage` are carried.
/// A `json_schema` response format reaches Claude 4.5 and later as structured outputs
/// (`output_config.format`, the schema made one Claude's grammar compiles), Gemini and Ollama as
/// their JSON output; `json_object` reaches every format but Anthropic's, which needs a schema. A
/// tool's `strict` reaches OpenAI and Claude 4.5 and later (the others take the schema as guidance). Accepted and not
/// carried, as they change neither the answer nor what fleetd keeps: participant `name`s (no
/// other provider has them; multi-agent frameworks send them on every message, and the OpenAI
/// cookbook puts the function's name on `tool` messages), `store: false`, `metadata`,
/// `prompt_cache_key` (a hint for OpenAI's cache routing), `verbosity` (as the Responses API's
/// `text.verbosity`), an assistant message's `annotations` and a replayed tool call's `index`;
/// and `modalities`, `service_tier`, `logit_bias` and `top_logprobs` when their value asks for
/// what fleetd does anyway (``acceptDefaults(_:)``). `reasoning_effort` goes as it is to OpenAI-format reasoning
/// models, and to Claude models that think as a thinking budget (adaptive thinking with that effort
/// from Claude 4.6); others answer without it. `safety_identifier` (OpenAI's successor to `user`) keeps
/// routing sticky as `user` does. Anything else is refused with a 400 naming it.
enum OpenAIChatRequest {
    static let known: Set<String> = [
        "model", "messages", "max_tokens", "max_completion_tokens", "temperature", "top_p", "stop", "seed",
        "presence_penalty", "frequency_penalty", "tools", "tool_choice", "parallel_tool_calls", "response_format",
        "stream", "stream_options", "user", "n", "logprobs", "store", "metadata", "safety_identifier", "prompt_cache_key",
        "reasoning_effort", "verbosity",
        // Accepted with the value that asks for what fleetd does anyway (``acceptDefaults(_:)``).
        "modalities", "service_tier", "logit_bias", "top_logprobs",
    ]

    static let reasons: [String: String] = [
        "functions": "use 'tools' (the deprecated functions API is not carried)",
        "function_call": "use 'tool_choice' (the deprecated functions API is not carried)",
        "audio": "audio output is not carried",
        "prediction": "predicted outputs exist only at OpenAI",
        "web_search_options": "built-in web search is not carried",
    ]

    /// Parameters accepted when they ask for what fleetd does anyway, as clients send them on every
    /// request (`modalities: ["text"]`, `service_tier: "auto"`, an empty `logit_bias`,
    /// `top_logprobs: 0`); any other value is refused, saying why.
    static func acceptDefaults(_ top: CompatObject) throws {
        try top.acceptDefault("modalities", why: "only text output is carried") { $0 == .array([.string("text")]) }
        // `auto` is what a call without a tier gets; `default` may differ (a Scale Tier project).
        try top.acceptDefault("service_tier", why: "service tiers exist per provider (only 'auto' is accepted)") { $0 == .string("auto") }
        try top.acceptDefault("logit_bias", why: "token ids differ between providers") { $0 == .object([:]) }
        try top.acceptDefault("top_logprobs", why: "log probabilities are not relayed") { $0 == .number(0) }
    }

    static func parse(_ body: JSONValue) throws -> CompatCall {
        let top = try CompatObject(body, path: "")
        try top.refuseUnknown(known, reasons: reasons)
        try acceptDefaults(top)
        let model = try top.requiredString("model")
        if let verbosity = try top.string("verbosity"), !["low", "medium", "high"].contains(verbosity) {
            throw CompatRequestError(param: "verbosity", message: "'verbosity' must be low, medium or high")
        }
        if let n = try top.int("n"), n != 1 { throw CompatRequestError(param: "n", message: "'n' must be 1: fleetd returns one choice") }
        if try top.bool("logprobs") == true { throw CompatRequestError(param: "logprobs", message: "'logprobs' is not carried: log probabilities are not relayed") }
        // `store: false` (and its `metadata`, which only tags stored completions) asks for what
        // fleetd does anyway; `store: true` asks OpenAI to keep the completion, which no route can.
        if try top.bool("store") == true {
            throw CompatRequestError(param: "store", message: "'store' is not carried: fleetd stores no completions for OpenAI")
        }
        _ = try top.object("metadata")
        guard let rawMessages = try top.array("messages"), !rawMessages.isEmpty else {
            throw CompatRequestError(param: "messages", message: "'messages' is required and must not be empty")
        }
        var request = ProviderRequest(model: "", messages: [])
        try readMessages(rawMessages, into: &request)

        if let tools = try top.array("tools") {
            request.tools = try tools.enumerated().map { try tool($1, path: "tools[\($0)]") }
        }
        if let choice = top.value("tool_choice") {
            request.toolChoice = try toolChoice(choice, tools: request.tools)
        }
        request.parallelToolCalls = try top.bool("parallel_tool_calls")
        request.temperature = try top.double("temperature", in: 0...2)
        request.topP = try top.double("top_p", in: 0...1)
        request.stopSequences = try top.strings("stop") ?? []
        request.seed = try top.int("seed")
        request.presencePenalty = try top.double("presence_penalty", in: -2...2)
        request.frequencyPenalty = try top.double("frequency_penalty", in: -2...2)
        if let format = try top.object("response_format") {
            request.responseFormat = try responseFormat(format)
        }
        let maxTokens = try top.int("max_completion_tokens", atLeast: 1) ?? top.int("max_tokens", atLeast: 1)
        let stream = try top.bool("stream") ?? false
        var includeUsage = false
        if let options = try top.object("stream_options") {
            try options.refuseUnknown(["include_usage", "include_obfuscation"])
            includeUsage = try options.bool("include_usage") ?? false
        }
        _ = try top.string("prompt_cache_key")
        if let effort = try top.string("reasoning_effort") {
            guard ["none", "minimal", "low", "medium", "high", "xhigh", "max"].contains(effort) else {
                throw CompatRequestError(param: "reasoning_effort", message: "'reasoning_effort' must be none, minimal, low, medium, high, xhigh or max")
            }
            request.reasoningEffort = effort == "max" ? "xhigh" : effort // the most every format's reasoning takes
        }
        return CompatCall(model: model, request: request, maxTokens: maxTokens, stream: stream,
                          includeUsage: includeUsage, userId: try top.string("user") ?? top.string("safety_identifier"))
    }

    /// The messages: leading system/developer messages into `system`, the rest as turns.
    static func readMessages(_ raw: [JSONValue], into request: inout ProviderRequest) throws {
        var systems: [String] = []
        var calls: [String: String] = [:] // tool call id → tool name
        for (index, value) in raw.enumerated() {
            let message = try CompatObject(value, path: "messages[\(index)]")
            let role = try message.requiredString("role")
            switch role {
            case "system", "developer":
                try message.refuseUnknown(["role", "content", "name"])
                let blocks = try content(message, allowImages: false, systemTurn: true)
                let text = blocks.compactMap(\.text).joined(separator: "\n\n")
                if request.messages.isEmpty {
                    systems.append(text)
                } else if !text.isEmpty {
                    // Later in the conversation it stays where it is: OpenAI and Ollama models take
                    // it there, and the router keeps the models whose format cannot away.
                    request.messages.append(ProviderMessage(role: .system, content: text))
                }
            case "user":
                try message.refuseUnknown(["role", "content", "name"])
                var details: [Int: String] = [:]
                let blocks = try content(message, allowImages: true, systemTurn: false, details: &details)
                guard !blocks.isEmpty else {
                    throw CompatRequestError(param: message.param("content"), message: "'\(message.param("content"))' must not be empty")
                }
                var turn = ProviderMessage(role: .user, blocks: blocks)
                if !details.isEmpty { turn.imageDetails = details }
                request.messages.append(turn)
            case "assistant":
                try message.refuseUnknown(["role", "content", "name", "tool_calls", "refusal", "annotations"],
                                          reasons: ["function_call": "use 'tool_calls'", "audio": "audio is not carried"])
                var blocks = message.has("content") ? try content(message, allowImages: false, systemTurn: false) : []
                if let refusal = try message.string("refusal"), !refusal.isEmpty { blocks.append(.text(refusal)) }
                for (callIndex, callValue) in (try message.array("tool_calls") ?? []).enumerated() {
                    let use = try toolCall(callValue, path: message.param("tool_calls[\(callIndex)]"))
                    calls[use.id] = use.name
                    blocks.append(.toolUse(use))
                }
                request.messages.append(ProviderMessage(role: .assistant, blocks: blocks))
            case "tool":
                try message.refuseUnknown(["role", "content", "tool_call_id", "name"])
                let id = try message.requiredString("tool_call_id")
                guard let name = calls[id] else {
                    throw CompatRequestError(param: message.param("tool_call_id"),
                                             message: "'\(message.param("tool_call_id"))' is '\(id)', which answers no tool call of an earlier assistant message")
                }
                let blocks = try content(message, allowImages: false, systemTurn: false)
                request.messages.append(ProviderMessage(role: .user, blocks: [.toolResult(ToolResult(toolUseId: id, name: name, content: blocks))]))
            case "function":
                throw CompatRequestError(param: message.param("role"), message: "'function' messages are not carried: use 'tool' messages")
            default:
                throw CompatRequestError(param: message.param("role"), message: "'\(message.param("role"))' must be system, developer, user, assistant or tool")
            }
        }
        if !systems.isEmpty { request.system = systems.joined(separator: "\n\n") }
        guard !request.messages.isEmpty else {
            throw CompatRequestError(param: "messages", message: "'messages' holds no user or assistant message")
        }
    }

    /// A message's `content`: a string, or parts (`text`, `image_url`, its `detail` into `details`
    /// by block index). Empty text carries nothing and is left out.
    static func content(_ message: CompatObject, allowImages: Bool, systemTurn: Bool) throws -> [ContentBlock] {
        var details: [Int: String] = [:]
        return try content(message, allowImages: allowImages, systemTurn: systemTurn, details: &details)
    }

    static func content(_ message: CompatObject, allowImages: Bool, systemTurn: Bool, details: inout [Int: String]) throws -> [ContentBlock] {
        guard let value = message.value("content") else { return [] }
        if case .string(let text) = value { return text.isEmpty ? [] : [.text(text)] }
        guard case .array(let parts) = value else {
            throw CompatRequestError(param: message.param("content"), message: "'\(message.param("content"))' must be a string or an array of content parts")
        }
        var blocks: [ContentBlock] = []
        for (index, partValue) in parts.enumerated() {
            let part = try CompatObject(partValue, path: message.param("content[\(index)]"))
            let type = try part.requiredString("type")
            switch type {
            case "text":
                let text = try part.requiredString("text")
                if !text.isEmpty { blocks.append(.text(text)) }
            case "refusal":
                let text = try part.requiredString("refusal")
                if !text.isEmpty { blocks.append(.text(text)) }
            case "image_url":
                guard !systemTurn else {
                    throw CompatRequestError(param: part.param("type"),
                                             message: "images in the system turn are refused: no provider takes an image in a system prompt; send it in a user message")
                }
                guard allowImages else {
                    throw CompatRequestError(param: part.param("type"), message: "images are carried in user messages only")
                }
                guard let image = try part.object("image_url") else {
                    throw CompatRequestError(param: part.param("image_url"), message: "'\(part.param("image_url"))' is required")
                }
                try image.refuseUnknown(["url", "detail"])
                blocks.append(.image(ImageSource.fromURL(try image.requiredString("url"))))
                if let detail = try image.string("detail") {
                    guard ["low", "high", "auto"].contains(detail) else {
                        throw CompatRequestError(param: image.param("detail"), message: "'\(image.param("detail"))' must be low, high or auto")
                    }
                    details[blocks.count - 1] = detail
                }
            case "input_audio", "file":
                throw CompatRequestError(param: part.param("type"), message: "'\(type)' content is not carried: fleetd relays text and images")
            default:
                throw CompatRequestError(param: part.param("type"), message: "'\(part.param("type"))' must be text or image_url")
            }
        }
        return blocks
    }

    static func toolCall(_ value: JSONValue, path: String) throws -> ToolUse {
        let call = try CompatObject(value, path: path)
        try call.refuseUnknown(["id", "type", "function", "index"])
        if let type = try call.string("type"), type != "function" {
            throw CompatRequestError(param: call.param("type"), message: "'\(call.param("type"))' must be 'function'")
        }
        let id = try call.requiredString("id")
        guard let function = try call.object("function") else {
            throw CompatRequestError(param: call.param("function"), message: "'\(call.param("function"))' is required")
        }
        let name = try function.requiredString("name")
        let arguments = try function.string("arguments") ?? "{}"
        guard let input = JSONValue.parse(arguments.isEmpty ? "{}" : arguments), case .object = input else {
            throw CompatRequestError(param: function.param("arguments"),
                                     message: "'\(function.param("arguments"))' must be a JSON object in a string (Anthropic, Gemini and Ollama take the arguments as an object)")
        }
        return ToolUse(id: id, name: name, input: input)
    }

    static func tool(_ value: JSONValue, path: String) throws -> ToolDefinition {
        let tool = try CompatObject(value, path: path)
        try tool.refuseUnknown(["type", "function"])
        let type = try tool.string("type") ?? "function"
        guard type == "function" else {
            throw CompatRequestError(param: tool.param("type"), message: "'\(tool.param("type"))' must be 'function': only function tools are carried")
        }
        guard let function = try tool.object("function") else {
            throw CompatRequestError(param: tool.param("function"), message: "'\(tool.param("function"))' is required")
        }
        try function.refuseUnknown(["name", "description", "parameters", "strict"])
        return try CompatTools.function(function)
    }

    static func toolChoice(_ value: JSONValue, tools: [ToolDefinition]) throws -> ToolChoice {
        if let mode = try CompatTools.mode(value, tools: tools) { return mode }
        guard case .object = value else {
            throw CompatRequestError(param: "tool_choice", message: "'tool_choice' must be \"auto\", \"none\", \"required\" or {\"type\": \"function\", \"function\": {\"name\": …}}")
        }
        let choice = try CompatObject(value, path: "tool_choice")
        guard let function = try choice.object("function") else {
            throw CompatRequestError(param: "tool_choice.function", message: "'tool_choice.function' is required")
        }
        return try CompatTools.named(try function.requiredString("name"), param: "tool_choice.function.name", tools: tools)
    }

    static func responseFormat(_ format: CompatObject) throws -> ResponseFormat? {
        switch try format.requiredString("type") {
        case "text": return nil
        case "json_object": return .jsonObject
        case "json_schema":
            guard let schema = try format.object("json_schema") else {
                throw CompatRequestError(param: "response_format.json_schema", message: "'response_format.json_schema' is required")
            }
            try schema.refuseUnknown(["name", "schema", "strict", "description"])
            return .jsonSchema(name: try schema.requiredString("name"), schema: schema.value("schema") ?? .object([:]),
                               strict: try schema.bool("strict"))
        default:
            throw CompatRequestError(param: "response_format.type", message: "'response_format.type' must be text, json_object or json_schema")
        }
    }
}
