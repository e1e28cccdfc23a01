import Providers

/// `POST /v1/messages`: an Anthropic Messages body translated into a ``CompatCall``.
///
/// `system` (a string or text blocks), turns of blocks (`text`, `image` from Base64 or URL,
/// `tool_use`, `tool_result` with `is_error` and text or image content, and the assistant's
/// `thinking` and `redacted_thinking` blocks), custom tools,
/// `tool_choice` (`auto`, `any`, `tool`, `none`, `disable_parallel_tool_use`), `stop_sequences`,
/// `temperature`, `top_p`, `top_k`, `max_tokens` (required, as Anthropic requires it), `stream`
/// and `metadata.user_id` are carried, and so are `cache_control` breakpoints (on tools, system
/// blocks, content blocks, and the request's own top-level one) to Anthropic models, whose prompt
/// cache makes a repeated prefix cost a tenth; other providers cache on their own and get none.
/// `output_config.effort` (how much the newer Claude models spend; with `thinking: adaptive` it
/// replaces a budget) reaches Anthropic models as it is, and OpenAI reasoning models as their
/// `reasoning_effort`. `output_config.format` (structured outputs: a JSON schema the answer follows)
/// reaches every model that can hold an answer to a schema (``outputFormat(_:)``), and a tool's
/// `strict` reaches Claude 4.5 and later, and OpenAI when the schema fits its strict mode.
/// `thinking` (`enabled` with `budget_tokens`, `adaptive`, `disabled`) reaches Anthropic models,
/// whose thinking blocks come back in the answer and, sent back in a later turn, go back to them
/// unchanged; another provider's model (a fallback, a routed pick) answers without thinking,
/// and is not sent the blocks. What Claude Code sends besides is accepted: a `system` message
/// inside `messages` (a mid-conversation instruction kept in its place: Anthropic models get it
/// as `AnthropicWireRequest.turns` says; Gemini models are left out of the choice), and, not
/// carried, `context_management` (Anthropic's server-side context editing, a beta fleetd does not
/// ask for), `betas`, `diagnostics`, a breakpoint's `scope`, a tool's `eager_input_streaming`, and
/// `service_tier: auto` (what a call without a tier gets). Documents
/// (`document`: a PDF inline or by URL, or text) go where a format can carry them; citations are
/// not relayed, so `citations.enabled: true` is refused. Anything else is refused with a 400
/// naming it.
enum AnthropicMessagesRequest {
    static let known: Set<String> = [
        "model", "max_tokens", "messages", "system", "metadata", "stop_sequences", "stream", "temperature", "top_p", "top_k",
        "tools", "tool_choice", "cache_control", "thinking", "output_config", "output_format",
        // Accepted and not carried (Claude Code sends them; see above).
        "context_management", "betas", "diagnostics",
        // Accepted as `auto`, what fleetd's calls get anyway.
        "service_tier",
    ]

    static let reasons: [String: String] = [
        "container": "code-execution containers are not carried",
        "mcp_servers": "MCP servers are not carried", "context_management": "context management is not carried",
    ]

    static func parse(_ body: JSONValue) throws -> CompatCall {
        let top = try CompatObject(body, path: "")
        try top.refuseUnknown(known, reasons: reasons)
        // `auto` is what a call without a tier gets; `standard_only` may differ (priority capacity).
        try top.acceptDefault("service_tier", why: "service tiers exist per provider (only 'auto' is accepted)") { $0 == .string("auto") }
        let model = try top.requiredString("model")
        let requestCacheMark = try cacheMark(top)
        guard let maxTokens = try top.int("max_tokens", atLeast: 1) else {
            throw CompatRequestError(param: "max_tokens", message: "'max_tokens' is required")
        }
        guard let rawMessages = try top.array("messages"), !rawMessages.isEmpty else {
            throw CompatRequestError(param: "messages", message: "'messages' is required and must not be empty")
        }
        var request = ProviderRequest(model: "", messages: [])
        (request.system, request.systemCacheBreak) = try system(top)
        request.cacheMark = requestCacheMark
        var calls: [String: String] = [:]
        for (index, value) in rawMessages.enumerated() {
            let message = try CompatObject(value, path: "messages[\(index)]")
            try message.refuseUnknown(["role", "content"])
            let role: ProviderMessage.Role
            switch try message.requiredString("role") {
            case "user": role = .user
            case "assistant": role = .assistant
            case "system": role = .system // an instruction in the conversation, kept in its place
            default:
                throw CompatRequestError(param: message.param("role"), message: "'\(message.param("role"))' must be user, assistant or system")
            }
            var marks: [Int: CacheMark] = [:]
            let blocks = try content(message, role: role, calls: &calls, marks: &marks)
            if blocks.isEmpty, role == .user {
                throw CompatRequestError(param: message.param("content"), message: "'\(message.param("content"))' must not be empty")
            }
            var turn = ProviderMessage(role: role, blocks: blocks)
            if !marks.isEmpty { turn.cacheMarks = marks }
            request.messages.append(turn)
        }
        // A final assistant message is a prefill: the answer continues it.
        if let last = request.messages.last, last.role == .assistant, !last.blocks.isEmpty { request.continuesLastAssistantTurn = true }
        if let tools = try top.array("tools") {
            request.tools = try tools.enumerated().map { try tool($1, path: "tools[\($0)]") }
        }
        if let choice = try top.object("tool_choice") {
            try choice.refuseUnknown(["type", "name", "disable_parallel_tool_use"])
            switch try choice.requiredString("type") {
            case "auto": request.toolChoice = .auto
            case "any": request.toolChoice = .required
            case "none": request.toolChoice = ToolChoice.none
            case "tool":
                let name = try choice.requiredString("name")
                guard request.tools.contains(where: { $0.name == name }) else {
                    throw CompatRequestError(param: "tool_choice.name", message: "'tool_choice.name' is '\(name)', which names no tool in 'tools'")
                }
                request.toolChoice = .tool(name)
            default:
                throw CompatRequestError(param: "tool_choice.type", message: "'tool_choice.type' must be auto, any, tool or none")
            }
            if try choice.bool("disable_parallel_tool_use") == true { request.parallelToolCalls = false }
        }
        request.temperature = try top.double("temperature", in: 0...1)
        request.topP = try top.double("top_p", in: 0...1)
        request.topK = try top.int("top_k", atLeast: 1)
        request.stopSequences = try top.strings("stop_sequences") ?? []
        request.thinking = try thinking(top, maxTokens: maxTokens)
        if let output = try top.object("output_config") {
            try output.refuseUnknown(["effort", "format"])
            if let effort = try output.string("effort") {
                guard ["low", "medium", "high", "xhigh", "max"].contains(effort) else {
                    throw CompatRequestError(param: "output_config.effort", message: "'output_config.effort' must be low, medium, high, xhigh or max")
                }
                request.effort = effort
            }
            if let format = try output.object("format") { request.responseFormat = try outputFormat(format) }
        }
        // The structured-outputs beta's name for it, which Anthropic still takes.
        if let format = try top.object("output_format") {
            guard request.responseFormat == nil else {
                throw CompatRequestError(param: "output_format", message: "'output_format' and 'output_config.format' are the same setting; send one ('output_format' is the beta's name)")
            }
            request.responseFormat = try outputFormat(format)
        }
        var userId: String?
        if let metadata = try top.object("metadata") {
            try metadata.refuseUnknown(["user_id"])
            userId = try metadata.string("user_id")
        }
        return CompatCall(model: model, request: request, maxTokens: maxTokens, stream: try top.bool("stream") ?? false, userId: userId)
    }

    /// `output_config.format` (or the beta's `output_format`): `{"type": "json_schema", "schema": {…}}`,
    /// the answer's text a JSON value the schema describes. Claude 4.5 and later take it
    /// (`ClaudeSchema` makes a schema one their grammar compiles), OpenAI-format models as a
    /// `json_schema` response format (strict when the schema fits OpenAI's strict mode), Gemini and
    /// Ollama as their JSON output with the schema. Older Claude models are left out of the choice.
    static func outputFormat(_ format: CompatObject) throws -> ResponseFormat {
        try format.refuseUnknown(["type", "schema"])
        guard try format.requiredString("type") == "json_schema" else {
            throw CompatRequestError(param: format.param("type"), message: "'\(format.param("type"))' must be json_schema")
        }
        guard let schema = format.value("schema"), case .object = schema else {
            throw CompatRequestError(param: format.param("schema"), message: "'\(format.param("schema"))' is required and must be a JSON Schema object")
        }
        // OpenAI asks a name of a schema; Anthropic's has none.
        return .jsonSchema(name: "response", schema: schema, strict: true)
    }

    /// `thinking`: `{"type": "enabled", "budget_tokens": N}` (at least 1,024 and below
    /// `max_tokens`, as Anthropic requires), `{"type": "adaptive"}` or `{"type": "disabled"}`;
    /// with `display` (`summarized` or `omitted`) when the client sets it.
    static func thinking(_ top: CompatObject, maxTokens: Int) throws -> ThinkingSetting? {
        guard let thinking = try top.object("thinking") else { return nil }
        let display = try thinking.string("display")
        if let display, display != "summarized", display != "omitted" {
            throw CompatRequestError(param: "thinking.display", message: "'thinking.display' must be summarized or omitted")
        }
        switch try thinking.requiredString("type") {
        case "enabled":
            try thinking.refuseUnknown(["type", "budget_tokens", "display"])
            guard let budget = try thinking.int("budget_tokens", atLeast: ThinkingSetting.minimumBudget) else {
                throw CompatRequestError(param: "thinking.budget_tokens", message: "'thinking.budget_tokens' is required when thinking is enabled")
            }
            guard budget < maxTokens else {
                throw CompatRequestError(param: "thinking.budget_tokens",
                                         message: "'thinking.budget_tokens' (\(budget)) must be less than 'max_tokens' (\(maxTokens))")
            }
            return ThinkingSetting(kind: .enabled, budgetTokens: budget, display: display)
        case "adaptive":
            try thinking.refuseUnknown(["type", "display"])
            return ThinkingSetting(kind: .adaptive, display: display)
        case "disabled":
            try thinking.refuseUnknown(["type"])
            return ThinkingSetting(kind: .disabled)
        default:
            throw CompatRequestError(param: "thinking.type", message: "'thinking.type' must be enabled, adaptive or disabled")
        }
    }

    /// A `cache_control` breakpoint (`{"type": "ephemeral"}`, with `ttl` 5m or 1h); `nil` when absent.
    static func cacheMark(_ object: CompatObject) throws -> CacheMark? {
        guard let control = try object.object("cache_control") else { return nil }
        try control.refuseUnknown(["type", "ttl", "scope"]) // `scope` (Claude Code's "global") is not carried
        guard try control.requiredString("type") == "ephemeral" else {
            throw CompatRequestError(param: control.param("type"), message: "'\(control.param("type"))' must be 'ephemeral'")
        }
        let ttl = try control.string("ttl")
        if let ttl, ttl != "5m", ttl != "1h" {
            throw CompatRequestError(param: control.param("ttl"), message: "'\(control.param("ttl"))' must be '5m' or '1h'")
        }
        return CacheMark(ttl: ttl)
    }

    /// `system`: a string or text blocks (an image there is refused), and the last breakpoint a
    /// block carries, with the text after it (kept out of the cached prefix).
    static func system(_ top: CompatObject) throws -> (String?, SystemCacheBreak?) {
        guard let value = top.value("system") else { return (nil, nil) }
        if case .string(let text) = value { return (text.isEmpty ? nil : text, nil) }
        guard case .array(let blocks) = value else {
            throw CompatRequestError(param: "system", message: "'system' must be a string or an array of text blocks")
        }
        var texts: [String] = []
        var mark: (mark: CacheMark, texts: Int)?
        for (index, blockValue) in blocks.enumerated() {
            let block = try CompatObject(blockValue, path: "system[\(index)]")
            let type = try block.requiredString("type")
            guard type == "text" else {
                let why = type == "image"
                    ? "images in the system turn are refused: no provider takes an image in a system prompt; send it in a user message"
                    : "the system prompt takes text blocks only"
                throw CompatRequestError(param: block.param("type"), message: why)
            }
            try block.refuseUnknown(["type", "text", "cache_control", "citations"])
            let text = try block.requiredString("text")
            if !text.isEmpty { texts.append(text) }
            if let blockMark = try cacheMark(block), !texts.isEmpty { mark = (blockMark, texts.count) }
        }
        guard !texts.isEmpty else { return (nil, nil) }
        let cacheBreak = mark.map { SystemCacheBreak(mark: $0.mark, textAfter: texts[$0.texts...].joined(separator: "\n\n")) }
        return (texts.joined(separator: "\n\n"), cacheBreak)
    }

    /// A message's content: a string or blocks. `tool_use` only from the assistant, `tool_result`
    /// only from the user, answering a call made earlier. `marks` gets the blocks' breakpoints, by
    /// block index (one on an empty text block, which is left out, goes to the block before it;
    /// one inside a tool result, to the result).
    static func content(_ message: CompatObject, role: ProviderMessage.Role, calls: inout [String: String],
                        marks: inout [Int: CacheMark]) throws -> [ContentBlock] {
        guard let value = message.value("content") else {
            throw CompatRequestError(param: message.param("content"), message: "'\(message.param("content"))' is required")
        }
        if case .string(let text) = value { return text.isEmpty ? [] : [.text(text)] }
        guard case .array(let items) = value else {
            throw CompatRequestError(param: message.param("content"), message: "'\(message.param("content"))' must be a string or an array of content blocks")
        }
        var blocks: [ContentBlock] = []
        for (index, itemValue) in items.enumerated() {
            let block = try CompatObject(itemValue, path: message.param("content[\(index)]"))
            let type = try block.requiredString("type")
            let mark = try cacheMark(block)
            switch type {
            case "text":
                try block.refuseUnknown(["type", "text", "cache_control", "citations"])
                let text = try block.requiredString("text")
                if !text.isEmpty { blocks.append(.text(text)) }
            case "image":
                guard role == .user else {
                    throw CompatRequestError(param: block.param("type"), message: "images are carried in user messages only")
                }
                blocks.append(.image(try image(block)))
            case "tool_use":
                guard role == .assistant else {
                    throw CompatRequestError(param: block.param("type"), message: "'tool_use' blocks belong to assistant messages")
                }
                try block.refuseUnknown(["type", "id", "name", "input", "cache_control"])
                let input = block.value("input") ?? .object([:])
                guard case .object = input else {
                    throw CompatRequestError(param: block.param("input"), message: "'\(block.param("input"))' must be an object")
                }
                let use = ToolUse(id: try block.requiredString("id"), name: try block.requiredString("name"), input: input)
                calls[use.id] = use.name
                blocks.append(.toolUse(use))
            case "tool_result":
                guard role == .user else {
                    throw CompatRequestError(param: block.param("type"), message: "'tool_result' blocks belong to user messages")
                }
                try block.refuseUnknown(["type", "tool_use_id", "content", "is_error", "cache_control"])
                let id = try block.requiredString("tool_use_id")
                guard let name = calls[id] else {
                    throw CompatRequestError(param: block.param("tool_use_id"),
                                             message: "'\(block.param("tool_use_id"))' is '\(id)', which answers no tool_use block of an earlier assistant message")
                }
                var innerMark: CacheMark?
                blocks.append(.toolResult(ToolResult(toolUseId: id, name: name, content: try resultContent(block, mark: &innerMark),
                                                     isError: try block.bool("is_error") ?? false)))
                if let innerMark { marks[blocks.count - 1] = innerMark }
            case "document":
                guard role == .user else {
                    throw CompatRequestError(param: block.param("type"), message: "documents are carried in user messages only")
                }
                blocks.append(.document(try document(block)))
            case "thinking", "redacted_thinking":
                guard role == .assistant else {
                    throw CompatRequestError(param: block.param("type"), message: "'\(type)' blocks belong to assistant messages")
                }
                if type == "thinking" {
                    try block.refuseUnknown(["type", "thinking", "signature"])
                    blocks.append(.thinking(text: try block.requiredString("thinking"), signature: try block.requiredString("signature")))
                } else {
                    try block.refuseUnknown(["type", "data"])
                    blocks.append(.redactedThinking(data: try block.requiredString("data")))
                }
            default:
                throw CompatRequestError(param: block.param("type"),
                                         message: "'\(type)' blocks are not carried: fleetd relays text, image, document, tool_use, tool_result, thinking and redacted_thinking blocks")
            }
            if let mark, !blocks.isEmpty { marks[blocks.count - 1] = mark }
        }
        return blocks
    }

    /// A `document` block: a PDF (`base64` with `application/pdf`, or `url`) or plain text (`text`
    /// with `text/plain`), with its `title`, `context` and `citations`.
    static func document(_ block: CompatObject) throws -> Document {
        try block.refuseUnknown(["type", "source", "title", "context", "citations", "cache_control"])
        guard let source = try block.object("source") else {
            throw CompatRequestError(param: block.param("source"), message: "'\(block.param("source"))' is required")
        }
        let kind: Document.Source
        switch try source.requiredString("type") {
        case "base64":
            try source.refuseUnknown(["type", "media_type", "data"])
            let mediaType = try source.requiredString("media_type")
            guard mediaType == "application/pdf" else {
                throw CompatRequestError(param: source.param("media_type"), message: "'\(source.param("media_type"))' must be application/pdf")
            }
            kind = .base64(mediaType: mediaType, data: try source.requiredString("data"))
        case "text":
            try source.refuseUnknown(["type", "media_type", "data"])
            if let mediaType = try source.string("media_type"), mediaType != "text/plain" {
                throw CompatRequestError(param: source.param("media_type"), message: "'\(source.param("media_type"))' must be text/plain")
            }
            kind = .text(try source.requiredString("data"))
        case "url":
            try source.refuseUnknown(["type", "url"])
            kind = .url(try source.requiredString("url"))
        default:
            throw CompatRequestError(param: source.param("type"),
                                     message: "'\(source.param("type"))' must be base64, text or url (files uploaded to Anthropic and content blocks are not carried)")
        }
        var citations: Bool?
        if let object = try block.object("citations") {
            try object.refuseUnknown(["enabled"])
            citations = try object.bool("enabled")
            if citations == true {
                throw CompatRequestError(param: object.param("enabled"), message: "citations are not relayed: fleetd's answers carry the text without them")
            }
        }
        return Document(source: kind, title: try block.string("title"), context: try block.string("context"), citations: citations)
    }

    static func image(_ block: CompatObject) throws -> ImageSource {
        try block.refuseUnknown(["type", "source", "cache_control"])
        guard let source = try block.object("source") else {
            throw CompatRequestError(param: block.param("source"), message: "'\(block.param("source"))' is required")
        }
        switch try source.requiredString("type") {
        case "base64":
            try source.refuseUnknown(["type", "media_type", "data"])
            return .base64(mediaType: try source.requiredString("media_type"), data: try source.requiredString("data"))
        case "url":
            try source.refuseUnknown(["type", "url"])
            return .url(try source.requiredString("url"))
        default:
            throw CompatRequestError(param: source.param("type"), message: "'\(source.param("type"))' must be base64 or url")
        }
    }

    /// A tool result's content: a string, or text and image blocks; `mark` gets a breakpoint one of
    /// them carries.
    static func resultContent(_ block: CompatObject, mark: inout CacheMark?) throws -> [ContentBlock] {
        guard let value = block.value("content") else { return [] }
        if case .string(let text) = value { return text.isEmpty ? [] : [.text(text)] }
        guard case .array(let items) = value else {
            throw CompatRequestError(param: block.param("content"), message: "'\(block.param("content"))' must be a string or an array of blocks")
        }
        var blocks: [ContentBlock] = []
        for (index, itemValue) in items.enumerated() {
            let item = try CompatObject(itemValue, path: block.param("content[\(index)]"))
            mark = try cacheMark(item) ?? mark
            switch try item.requiredString("type") {
            case "text":
                try item.refuseUnknown(["type", "text", "cache_control", "citations"])
                let text = try item.requiredString("text")
                if !text.isEmpty { blocks.append(.text(text)) }
            case "image":
                blocks.append(.image(try image(item)))
            case "document":
                blocks.append(.document(try document(item)))
            default:
                throw CompatRequestError(param: item.param("type"), message: "a tool result carries text, image and document blocks only")
            }
        }
        return blocks
    }

    static func tool(_ value: JSONValue, path: String) throws -> ToolDefinition {
        let tool = try CompatObject(value, path: path)
        if let type = try tool.string("type"), type != "custom" {
            throw CompatRequestError(param: tool.param("type"), message: "'\(type)' tools are not carried: Anthropic's server tools run only at Anthropic; define a custom tool")
        }
        try tool.refuseUnknown(["type", "name", "description", "input_schema", "cache_control", "strict", "eager_input_streaming"])
        guard let schema = tool.value("input_schema"), case .object = schema else {
            throw CompatRequestError(param: tool.param("input_schema"), message: "'\(tool.param("input_schema"))' is required and must be a JSON Schema object")
        }
        var definition = ToolDefinition(name: try tool.requiredString("name"), description: try tool.string("description"), parameters: schema,
                                        strict: try tool.bool("strict"))
        // Not carried: a streaming hint for Anthropic's own servers.
        _ = try tool.bool("eager_input_streaming")
        definition.cacheMark = try cacheMark(tool)
        return definition
    }
}
