import Providers

/// `POST /v1/responses`: an OpenAI Responses API body translated into a ``CompatCall``.
///
/// A client that keeps its own conversation sends it whole as `input` every turn (the OpenAI
/// Agents SDK, Codex); one that lets the server keep it names the response it continues
/// (`previous_response_id`, whose conversation ``ResponsesStore`` kept and the caller gives as
/// `earlier`). `input` is a string or items (`message` in every role, with `input_text`,
/// `input_image` as a URL or a `data:` URL with its `detail`, and an earlier answer's
/// `output_text` and `refusal`; `function_call` and `function_call_output`); `instructions` (before
/// the leading system and developer messages, as the system prompt; an earlier response's are not
/// carried over, as OpenAI has it), function `tools` (with `strict`), `tool_choice`,
/// `parallel_tool_calls`, `text.format` (`json_schema`, `json_object`, as `response_format` on
/// Chat Completions), `reasoning.effort` (as Chat Completions' `reasoning_effort`),
/// `max_output_tokens`, `temperature`, `top_p`, `stream`, `store` (whether the answer is kept,
/// true unless false). Accepted and not carried: `metadata` (repeated in the answer), `include`,
/// `truncation`, `prompt_cache_key`, `prompt_cache_retention`, `text.verbosity`,
/// `reasoning.summary`, `max_tool_calls` (built-in tools only), `stream_options`, `service_tier`
/// `auto` and `top_logprobs: 0` (what fleetd does anyway), an earlier
/// answer's `reasoning` items (a provider's thinking is not sent back to it) and each item's `id`
/// and `status`. `user` and `safety_identifier` keep routing sticky. OpenAI's `conversation`
/// objects, `item_reference` items, built-in tools and everything else are refused with a 400
/// naming them. A function tool without `strict` is strict, as the Responses API has it.
enum ResponsesRequest {
    static let known: Set<String> = [
        "model", "input", "instructions", "tools", "tool_choice", "parallel_tool_calls", "max_output_tokens", "temperature",
        "top_p", "stream", "stream_options", "store", "metadata", "user", "safety_identifier", "prompt_cache_key",
        "prompt_cache_retention", "include", "truncation", "reasoning", "text", "max_tool_calls", "previous_response_id",
        "service_tier", "top_logprobs",
    ]

    static let stored = "fleetd keeps a response's conversation for previous_response_id, not its items one by one: "
        + "send the earlier items themselves, or continue with previous_response_id"

    static let reasons: [String: String] = [
        "conversation": "conversations are OpenAI's objects: continue with previous_response_id, or send the whole conversation as 'input'",
        "background": "background responses are not run: fleetd answers while the client waits",
        "prompt": "stored prompt templates exist only at OpenAI",
    ]

    /// The id of the response a body continues (`previous_response_id`), read before the body is
    /// parsed: its conversation comes first.
    static func previousResponseId(_ body: JSONValue) throws -> String? {
        try CompatObject(body, path: "").string("previous_response_id")
    }

    /// - Parameters:
    ///   - earlier: the conversation `previous_response_id` names, which `input` continues.
    ///   - earlierSystem: that conversation's system text from its input items.
    static func parse(_ body: JSONValue, earlier: [ProviderMessage] = [], earlierSystem: String? = nil) throws -> CompatCall {
        let top = try CompatObject(body, path: "")
        try top.refuseUnknown(known, reasons: reasons)
        try top.acceptDefault("service_tier", why: "service tiers exist per provider (only 'auto' is accepted)") { $0 == .string("auto") }
        try top.acceptDefault("top_logprobs", why: "log probabilities are not relayed") { $0 == .number(0) }
        let model = try top.requiredString("model")
        var echo: JSONObject = [:]
        var request = ProviderRequest(model: "", messages: earlier)
        let instructions = try top.string("instructions")
        var systems = [earlierSystem].compactMap { $0 } // the input items' system text, the kept conversation's first
        switch top.value("input") {
        case .string(let text)?:
            guard !text.isEmpty else { throw CompatRequestError(param: "input", message: "'input' must not be empty") }
            request.messages.append(ProviderMessage(role: .user, content: text))
        case .array(let items)?:
            guard !items.isEmpty else { throw CompatRequestError(param: "input", message: "'input' must not be empty") }
            try readInput(items, systems: &systems, into: &request)
        case nil:
            throw CompatRequestError(param: "input", message: "'input' is required: a string, or an array of input items")
        default:
            throw CompatRequestError(param: "input", message: "'input' must be a string or an array of input items")
        }
        echo["instructions"] = instructions.map(JSONValue.string) ?? .null
        let prompt = ([instructions].compactMap { $0 } + systems).filter { !$0.isEmpty }
        if !prompt.isEmpty { request.system = prompt.joined(separator: "\n\n") }

        if let tools = try top.array("tools") {
            request.tools = try tools.enumerated().map { try tool($1, path: "tools[\($0)]") }
            echo["tools"] = .array(tools)
        }
        if let choice = top.value("tool_choice") {
            request.toolChoice = try toolChoice(choice, tools: request.tools)
            echo["tool_choice"] = choice
        }
        request.parallelToolCalls = try top.bool("parallel_tool_calls")
        request.temperature = try top.double("temperature", in: 0...2)
        request.topP = try top.double("top_p", in: 0...1)
        if let text = try top.object("text") {
            try text.refuseUnknown(["format", "verbosity"])
            if let verbosity = try text.string("verbosity"), !["low", "medium", "high"].contains(verbosity) {
                throw CompatRequestError(param: "text.verbosity", message: "'text.verbosity' must be low, medium or high")
            }
            if let format = try text.object("format") {
                request.responseFormat = try responseFormat(format)
            }
            echo["text"] = top.value("text")
        }
        if let reasoning = try top.object("reasoning") {
            try reasoning.refuseUnknown(["effort", "summary", "generate_summary"])
            if let effort = try reasoning.string("effort") {
                guard ["none", "minimal", "low", "medium", "high", "xhigh", "max"].contains(effort) else {
                    throw CompatRequestError(param: "reasoning.effort", message: "'reasoning.effort' must be none, minimal, low, medium, high, xhigh or max")
                }
                request.reasoningEffort = effort == "max" ? "xhigh" : effort // the most every format's reasoning takes
            }
            _ = try reasoning.string("summary")
            _ = try reasoning.string("generate_summary")
            echo["reasoning"] = top.value("reasoning")
        }
        if let include = try top.strings("include"), include.contains("message.output_text.logprobs") {
            throw CompatRequestError(param: "include", message: "'include' asks for 'message.output_text.logprobs': log probabilities are not relayed")
        }
        if let truncation = try top.string("truncation"), !["auto", "disabled"].contains(truncation) {
            throw CompatRequestError(param: "truncation", message: "'truncation' must be auto or disabled")
        }
        if let options = try top.object("stream_options") { try options.refuseUnknown(["include_obfuscation"]) }
        let store = try top.bool("store") ?? true
        let previous = try top.string("previous_response_id")
        echo["store"] = .bool(store)
        echo["previous_response_id"] = previous.map(JSONValue.string) ?? .null
        _ = try top.string("prompt_cache_key")
        _ = try top.string("prompt_cache_retention")
        _ = try top.int("max_tool_calls")
        if let metadata = try top.object("metadata") { echo["metadata"] = .object(metadata.fields) }
        let maxTokens = try top.int("max_output_tokens", atLeast: 1)
        echo["max_output_tokens"] = maxTokens.map { .number(Double($0)) } ?? .null
        echo["temperature"] = request.temperature.map(JSONValue.number) ?? .null
        echo["top_p"] = request.topP.map(JSONValue.number) ?? .null
        echo["parallel_tool_calls"] = .bool(request.parallelToolCalls ?? true)
        let user = try top.string("user")
        let safety = try top.string("safety_identifier")
        echo["user"] = user.map(JSONValue.string) ?? .null
        echo["safety_identifier"] = safety.map(JSONValue.string) ?? .null
        var call = CompatCall(model: model, request: request, maxTokens: maxTokens, stream: try top.bool("stream") ?? false,
                              userId: user ?? safety)
        call.echo = echo
        call.keep = store
        call.keptSystem = systems.isEmpty ? nil : systems.joined(separator: "\n\n")
        call.previousResponseId = previous
        return call
    }

    /// The input items, in order: leading system and developer messages into `systems` (the
    /// system prompt, after `instructions`), the rest as turns. A `function_call` joins the
    /// assistant's message before it and a `function_call_output` the outputs before it.
    static func readInput(_ items: [JSONValue], systems: inout [String], into request: inout ProviderRequest) throws {
        var leading = true
        var calls: [String: String] = [:] // call id → function name, the earlier conversation's too
        for case .toolUse(let use) in request.messages.flatMap(\.blocks) { calls[use.id] = use.name }
        for (index, value) in items.enumerated() {
            let item = try CompatObject(value, path: "input[\(index)]")
            let type = try item.string("type") ?? (item.has("role") ? "message" : "")
            if type != "message", type != "reasoning" { leading = false }
            switch type {
            case "message":
                try message(item, leading: &leading, systems: &systems, into: &request)
            case "function_call":
                try item.refuseUnknown(["type", "id", "call_id", "name", "arguments", "status", "namespace", "caller"])
                let id = try item.requiredString("call_id")
                let name = try item.requiredString("name")
                let arguments = try item.string("arguments") ?? "{}"
                guard let input = JSONValue.parse(arguments.isEmpty ? "{}" : arguments), case .object = input else {
                    throw CompatRequestError(param: item.param("arguments"),
                                             message: "'\(item.param("arguments"))' must be a JSON object in a string (Anthropic, Gemini and Ollama take the arguments as an object)")
                }
                calls[id] = name
                // Joined to the assistant's turn it belongs to: parallel calls are one message with
                // several calls on Chat Completions, which refuses them split.
                let use = ContentBlock.toolUse(ToolUse(id: id, name: name, input: input))
                if let last = request.messages.indices.last, request.messages[last].role == .assistant {
                    request.messages[last].blocks.append(use)
                } else {
                    request.messages.append(ProviderMessage(role: .assistant, blocks: [use]))
                }
            case "function_call_output":
                try item.refuseUnknown(["type", "id", "call_id", "output", "status", "name", "namespace", "caller"])
                let id = try item.requiredString("call_id")
                guard let name = calls[id] else {
                    throw CompatRequestError(param: item.param("call_id"),
                                             message: "'\(item.param("call_id"))' is '\(id)', which answers no function_call item before it")
                }
                let output = try content(item, key: "output", allowImages: true, systemTurn: false)
                let result = ContentBlock.toolResult(ToolResult(toolUseId: id, name: name, content: output))
                if let last = request.messages.indices.last, request.messages[last].role == .user,
                   request.messages[last].blocks.allSatisfy({ if case .toolResult = $0 { true } else { false } }) {
                    request.messages[last].blocks.append(result)
                } else {
                    request.messages.append(ProviderMessage(role: .user, blocks: [result]))
                }
            case "reasoning":
                continue // an earlier answer's thinking, which no provider takes back from another's
            case "item_reference":
                throw CompatRequestError(param: item.param("type"), message: "'item_reference' items are refused: \(stored)")
            case "":
                throw CompatRequestError(param: item.param("type"), message: "'\(item.param("type"))' is required (or a 'role', for a message)")
            default:
                throw CompatRequestError(param: item.param("type"),
                                         message: "'\(item.param("type"))' is '\(type)': fleetd carries message, function_call, function_call_output and reasoning items")
            }
        }
        guard request.messages.contains(where: { $0.role != .system }) else {
            throw CompatRequestError(param: "input", message: "'input' holds no user or assistant item")
        }
    }

    private static func message(_ item: CompatObject, leading: inout Bool, systems: inout [String], into request: inout ProviderRequest) throws {
        try item.refuseUnknown(["type", "role", "content", "id", "status", "phase"])
        let role = try item.requiredString("role")
        switch role {
        case "system", "developer":
            let text = try content(item, key: "content", allowImages: false, systemTurn: true).compactMap(\.text).joined(separator: "\n\n")
            if leading {
                if !text.isEmpty { systems.append(text) }
            } else if !text.isEmpty {
                request.messages.append(ProviderMessage(role: .system, content: text))
            }
        case "user":
            leading = false
            var details: [Int: String] = [:]
            let blocks = try content(item, key: "content", allowImages: true, systemTurn: false, details: &details)
            guard !blocks.isEmpty else {
                throw CompatRequestError(param: item.param("content"), message: "'\(item.param("content"))' must not be empty")
            }
            var turn = ProviderMessage(role: .user, blocks: blocks)
            if !details.isEmpty { turn.imageDetails = details }
            request.messages.append(turn)
        case "assistant":
            leading = false
            let blocks = try content(item, key: "content", allowImages: false, systemTurn: false)
            if !blocks.isEmpty { request.messages.append(ProviderMessage(role: .assistant, blocks: blocks)) }
        default:
            throw CompatRequestError(param: item.param("role"), message: "'\(item.param("role"))' must be system, developer, user or assistant")
        }
    }

    static func content(_ item: CompatObject, key: String, allowImages: Bool, systemTurn: Bool) throws -> [ContentBlock] {
        var details: [Int: String] = [:]
        return try content(item, key: key, allowImages: allowImages, systemTurn: systemTurn, details: &details)
    }

    /// A message's `content` or a call output's `output`: a string, or parts (`input_text`,
    /// `output_text`, `refusal`, `input_image` with its `detail` into `details` by block index).
    /// Empty text carries nothing and is left out.
    static func content(_ item: CompatObject, key: String, allowImages: Bool, systemTurn: Bool,
                        details: inout [Int: String]) throws -> [ContentBlock] {
        guard let value = item.value(key) else {
            throw CompatRequestError(param: item.param(key), message: "'\(item.param(key))' is required")
        }
        if case .string(let text) = value { return text.isEmpty ? [] : [.text(text)] }
        guard case .array(let parts) = value else {
            throw CompatRequestError(param: item.param(key), message: "'\(item.param(key))' must be a string or an array of content parts")
        }
        var blocks: [ContentBlock] = []
        for (index, partValue) in parts.enumerated() {
            let part = try CompatObject(partValue, path: item.param("\(key)[\(index)]"))
            let type = try part.requiredString("type")
            switch type {
            case "input_text", "output_text":
                try part.refuseUnknown(["type", "text", "annotations", "logprobs"])
                let text = try part.requiredString("text")
                if !text.isEmpty { blocks.append(.text(text)) }
            case "refusal":
                let text = try part.requiredString("refusal")
                if !text.isEmpty { blocks.append(.text(text)) }
            case "input_image":
                guard !systemTurn else {
                    throw CompatRequestError(param: part.param("type"),
                                             message: "images in the system turn are refused: no provider takes an image in a system prompt; send it in a user message")
                }
                guard allowImages else {
                    throw CompatRequestError(param: part.param("type"), message: "images are carried in user messages and function call outputs only")
                }
                try part.refuseUnknown(["type", "image_url", "detail"],
                                       reasons: ["file_id": "files uploaded to OpenAI are not carried: send the image as a URL or a data: URL"])
                blocks.append(.image(ImageSource.fromURL(try part.requiredString("image_url"))))
                if let detail = try part.string("detail") {
                    guard ["low", "high", "auto", "original"].contains(detail) else {
                        throw CompatRequestError(param: part.param("detail"), message: "'\(part.param("detail"))' must be low, high, auto or original")
                    }
                    details[blocks.count - 1] = detail == "original" ? "high" : detail
                }
            case "input_file", "input_audio":
                throw CompatRequestError(param: part.param("type"), message: "'\(type)' content is not carried: fleetd relays text and images")
            default:
                throw CompatRequestError(param: part.param("type"),
                                         message: "'\(part.param("type"))' must be input_text, input_image, output_text or refusal")
            }
        }
        return blocks
    }

    /// A function tool, in the Responses API's flat shape (`name`, `parameters` beside `type`).
    static func tool(_ value: JSONValue, path: String) throws -> ToolDefinition {
        let tool = try CompatObject(value, path: path)
        let type = try tool.requiredString("type")
        guard type == "function" else {
            throw CompatRequestError(param: tool.param("type"),
                                     message: "'\(tool.param("type"))' is '\(type)': only function tools are carried (OpenAI's built-in tools run only at OpenAI)")
        }
        try tool.refuseUnknown(["type", "name", "description", "parameters", "strict", "defer_loading", "allowed_callers", "output_schema"])
        var function = try CompatTools.function(tool)
        // Strict unless it says otherwise, as the Responses API has its functions (Chat
        // Completions has them lenient); a schema OpenAI's strict mode refuses goes without.
        function.strict = function.strict ?? true
        return function
    }

    static func toolChoice(_ value: JSONValue, tools: [ToolDefinition]) throws -> ToolChoice {
        if let mode = try CompatTools.mode(value, tools: tools) { return mode }
        guard case .object = value else {
            throw CompatRequestError(param: "tool_choice", message: "'tool_choice' must be \"auto\", \"none\", \"required\" or {\"type\": \"function\", \"name\": …}")
        }
        let choice = try CompatObject(value, path: "tool_choice")
        guard try choice.string("type") == "function" else {
            throw CompatRequestError(param: "tool_choice.type", message: "'tool_choice.type' must be 'function': only function tools are carried")
        }
        return try CompatTools.named(try choice.requiredString("name"), param: "tool_choice.name", tools: tools)
    }

    /// `text.format`, flat as the Responses API has it (`name` and `schema` beside `type`).
    static func responseFormat(_ format: CompatObject) throws -> ResponseFormat? {
        switch try format.requiredString("type") {
        case "text": return nil
        case "json_object": return .jsonObject
        case "json_schema":
            try format.refuseUnknown(["type", "name", "schema", "strict", "description"])
            guard let schema = format.value("schema"), case .object = schema else {
                throw CompatRequestError(param: "text.format.schema", message: "'text.format.schema' is required: a JSON Schema object")
            }
            return .jsonSchema(name: try format.requiredString("name"), schema: schema, strict: try format.bool("strict"))
        default:
            throw CompatRequestError(param: "text.format.type", message: "'text.format.type' must be text, json_object or json_schema")
        }
    }
}
