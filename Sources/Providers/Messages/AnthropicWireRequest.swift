/// The body of Anthropic's `POST /v1/messages` for a ``ProviderRequest``: system prompt, turns
/// of content blocks (text, image from Base64 or URL, tool_use, tool_result with `is_error`),
/// tools with `input_schema`, `tool_choice` (`auto` / `any` / `tool` / `none`, with
/// `disable_parallel_tool_use`), stop sequences, sampling, prompt-cache breakpoints
/// (`cache_control` on tools, the system prompt, blocks, and the request itself), extended
/// thinking (`thinking`), and earlier turns' thinking blocks sent back as they came.
struct AnthropicWireRequest: Encodable {
    var model: String
    var max_tokens: Int
    var system: Content?
    var messages: [Message]
    var temperature: Double?
    var top_p: Double?
    var top_k: Int?
    var stop_sequences: [String]?
    var tools: [Tool]?
    var tool_choice: Choice?
    var cache_control: CacheControl?
    var thinking: Thinking?
    var output_config: OutputConfig?
    var stream: Bool

    init(_ request: ProviderRequest, stream: Bool) {
        model = request.model
        max_tokens = request.maxTokens
        let (systemText, turns) = Self.turns(request)
        system = systemText.map { Self.systemContent($0, cacheBreak: request.systemCacheBreak) }
        messages = turns.map(Message.init)
        cache_control = request.cacheMark.map(CacheControl.init)
        temperature = request.temperature
        // Claude's newer models (Opus 4.1 on, the 4.5 and 4.6 families) refuse both at once with
        // a 400; `temperature` is the one Anthropic asks callers to set.
        top_p = request.temperature == nil ? request.topP : nil
        top_k = request.topK
        stop_sequences = request.stopSequences.isEmpty ? nil : request.stopSequences
        if !request.tools.isEmpty {
            let strictTools = Self.takesStructuredOutputs(model: request.model)
            tools = request.tools.map {
                // A strict tool's schema as the grammar takes it (`ClaudeSchema`); older models get it as guidance.
                let strict = strictTools && $0.strict == true
                return Tool(name: $0.name, description: $0.description, input_schema: strict ? ClaudeSchema.transform($0.parameters) : $0.parameters,
                            cache_control: $0.cacheMark.map(CacheControl.init), strict: strict ? true : nil)
            }
            // `tool_choice` only beside tools: Anthropic refuses it alone (a bare
            // `parallel_tool_calls: false` would make one).
            tool_choice = Choice(request.toolChoice, parallel: request.parallelToolCalls)
        } else if case let used = Self.toolsUsedInHistory(request), !used.isEmpty {
            // A history with tool_use / tool_result blocks needs its tools defined (Anthropic
            // answers 400 otherwise; OpenAI does not ask): the calls' names are declared, with an
            // open schema, and none may be called this turn, since the client offered none.
            tools = used.map { Tool(name: $0, description: "A tool an earlier turn of this conversation called.",
                                    input_schema: .object(["type": .string("object")])) }
            tool_choice = Choice(ToolChoice.none, parallel: nil)
        }
        thinking = Self.thinking(for: request).map(Thinking.init)
        let effort = Self.effort(for: request), format = Self.format(for: request)
        output_config = effort == nil && format == nil ? nil : OutputConfig(effort: effort, format: format)
        self.stream = stream
    }

    /// The request's thinking setting as it can be sent: fitted below `max_tokens`, and left off
    /// when the request continues a tool loop whose assistant turn does not begin with thinking (a
    /// turn another provider's model answered): Anthropic refuses thinking then.
    static func thinking(for request: ProviderRequest) -> ThinkingSetting? {
        guard let setting = (request.thinking ?? thinkingForEffort(request))?.fitting(maxTokens: request.maxTokens) else { return nil }
        guard setting.kind != .disabled else { return setting }
        let loopStart = request.firstCountedThinkingMessage
        if let turn = request.messages.indices.last(where: { $0 >= loopStart && request.messages[$0].role == .assistant }),
           request.messages[turn].blocks.first?.isThinking != true {
            return nil
        }
        return setting
    }

    /// The thinking an OpenAI client's `reasoning_effort` asks for, when the model can think and
    /// the request allows it: Anthropic refuses thinking beside a temperature other than 1, a
    /// `top_k`, a `top_p` below 0.95, or a tool choice that forces a call, and the client set
    /// those for the answer it wants.
    static func thinkingForEffort(_ request: ProviderRequest) -> ThinkingSetting? {
        guard let effort = request.reasoningEffort, ThinkingSetting.claudeThinks(model: request.model),
              request.temperature.map({ $0 == 1 }) ?? true, request.topK == nil, request.topP.map({ $0 >= 0.95 }) ?? true,
              request.toolChoice?.forcesCall != true, let budget = ThinkingSetting.forEffort(effort)
        else { return nil }
        // Claude 4.6 and later think adaptively, told how much by the effort (Opus 4.7 and later
        // refuse a budget).
        return ThinkingSetting.claudeThinksAdaptively(model: request.model) ? ThinkingSetting(kind: .adaptive) : budget
    }

    /// The `output_config.effort` to send: the client's, for a Claude model that takes it (4.5
    /// and later, or an alias without a version), capped at what the model takes (`max` from 4.6,
    /// `xhigh` from 4.7; above that, `high`); or what ``effortForReasoning(_:)`` gives. A routed
    /// pick or a fallback of an older model answers without it, as it would refuse it.
    static func effort(for request: ProviderRequest) -> String? {
        guard let effort = request.effort else { return effortForReasoning(request) }
        guard let version = ThinkingSetting.claudeVersion(model: request.model) else {
            return request.model.lowercased().hasPrefix("claude-") ? effort : nil
        }
        guard version >= (4, 5) else { return nil }
        if effort == "xhigh", version < (4, 7) { return "high" }
        if effort == "max", version < (4, 6) { return "high" }
        return effort
    }

    /// The `output_config.effort` an OpenAI client's `reasoning_effort` gives a Claude model that
    /// thinks adaptively (`xhigh` as `high`), when it thinks for it (``thinkingForEffort(_:)``).
    static func effortForReasoning(_ request: ProviderRequest) -> String? {
        guard request.thinking == nil, let effort = request.reasoningEffort, ThinkingSetting.claudeThinksAdaptively(model: request.model),
              thinkingForEffort(request) != nil else { return nil }
        return effort == "xhigh" ? "high" : effort
    }

    /// Whether a Claude model has structured outputs (`output_config.format`, a tool's `strict`):
    /// Claude 4.5 and later, or an id without a version. The router keeps older ones away from a
    /// request with a schema (``ProviderRequest/featuresOlderModelsLack(on:)``).
    static func takesStructuredOutputs(model: String) -> Bool {
        !ProviderRequest.withoutStructuredOutputs.matches(model)
    }

    /// The `output_config.format` for a request with a JSON schema, when the model takes it.
    static func format(for request: ProviderRequest) -> OutputConfig.Format? {
        guard case .jsonSchema(_, let schema, _)? = request.responseFormat, takesStructuredOutputs(model: request.model) else { return nil }
        return OutputConfig.Format(type: "json_schema", schema: ClaudeSchema.transform(schema))
    }

    struct OutputConfig: Encodable {
        var effort: String?
        var format: Format?

        struct Format: Encodable {
            var type: String
            var schema: JSONValue
        }
    }

    struct Thinking: Encodable {
        var type: String
        var budget_tokens: Int?
        var display: String?

        init(_ setting: ThinkingSetting) {
            type = setting.kind.rawValue
            budget_tokens = setting.kind == .enabled ? setting.budgetTokens : nil
            display = setting.display
        }
    }

    /// The conversation as Anthropic takes it. A system message before the first turn joins the
    /// system prompt (Anthropic refuses one at `messages[0]`); one later in the conversation (an
    /// OpenAI client's, or Claude Code's) becomes text of a user turn in its place, which every
    /// Claude model takes: those before Opus 4.8 refuse a system message inside `messages`, and a
    /// user turn keeps the cached prefix before it. Then turns alternate and, where a folded
    /// message joined a user turn, that turn's tool results come first, as Anthropic requires
    /// after a tool call.
    static func turns(_ request: ProviderRequest) -> (system: String?, messages: [ProviderMessage]) {
        guard request.messages.contains(where: { $0.role == .system }) else { return (request.system, request.alternatingTurns) }
        var system = request.system
        var messages: [ProviderMessage] = []
        for message in request.messages {
            guard message.role == .system else {
                messages.append(message)
                continue
            }
            let text = message.content
            if text.isEmpty { continue }
            if messages.allSatisfy({ $0.blocks.isEmpty }) {
                system = [system, text].compactMap { $0 }.filter { !$0.isEmpty }.joined(separator: "\n\n")
            } else {
                messages.append(ProviderMessage(role: .user, content: text))
            }
        }
        var folded = request
        folded.messages = messages
        return (system, folded.alternatingTurns.map(toolResultsFirst))
    }

    /// A user turn with its tool results moved before its other blocks (each block keeps its
    /// breakpoint); any other turn as it is.
    static func toolResultsFirst(_ message: ProviderMessage) -> ProviderMessage {
        guard message.role == .user else { return message }
        func isResult(_ block: ContentBlock) -> Bool { if case .toolResult = block { true } else { false } }
        let order = message.blocks.indices.filter { isResult(message.blocks[$0]) } + message.blocks.indices.filter { !isResult(message.blocks[$0]) }
        guard order != Array(message.blocks.indices) else { return message }
        var moved = message
        moved.blocks = order.map { message.blocks[$0] }
        if let marks = message.cacheMarks {
            moved.cacheMarks = Dictionary(uniqueKeysWithValues: order.enumerated().compactMap { new, old in marks[old].map { (new, $0) } })
        }
        return moved
    }

    /// The names of the tools the history's calls used, in order of first use.
    static func toolsUsedInHistory(_ request: ProviderRequest) -> [String] {
        var names: [String] = []
        for message in request.messages {
            for name in message.toolUses.map(\.name) + message.toolResults.compactMap(\.name) where !names.contains(name) && !name.isEmpty {
                names.append(name)
            }
        }
        return names
    }

    struct Message: Encodable {
        var role: String
        var content: Content

        init(_ message: ProviderMessage) {
            role = message.role.rawValue
            let marks = message.cacheMarks ?? [:]
            if message.blocks.count == 1, marks.isEmpty, case .text(let text) = message.blocks[0] {
                content = .text(text)
            } else {
                // An empty text block beside others carries nothing, and Anthropic refuses it; a
                // breakpoint after one moves to the block before it.
                var blocks: [Block] = []
                for (index, block) in message.blocks.enumerated() {
                    if block.text?.isEmpty != true { blocks.append(Block(block)) }
                    if let mark = marks[index], !blocks.isEmpty { blocks[blocks.count - 1].cache_control = CacheControl(mark) }
                }
                content = .blocks(blocks)
            }
        }
    }

    enum Content: Encodable {
        case text(String)
        case blocks([Block])

        func encode(to encoder: any Encoder) throws {
            var container = encoder.singleValueContainer()
            switch self {
            case .text(let text): try container.encode(text)
            case .blocks(let blocks): try container.encode(blocks)
            }
        }
    }

    /// The system prompt: its text, or text blocks when it carries a breakpoint (the marked one,
    /// then the text after the breakpoint when there is any).
    static func systemContent(_ text: String, cacheBreak: SystemCacheBreak?) -> Content {
        guard let cacheBreak else { return .text(text) }
        let after = cacheBreak.textAfter
        guard !after.isEmpty, text.hasSuffix("\n\n" + after), text.count > after.count + 2 else {
            return .blocks([Block(text: text, cache: cacheBreak.mark)])
        }
        return .blocks([Block(text: String(text.dropLast(after.count + 2)), cache: cacheBreak.mark), Block(text: after, cache: nil)])
    }

    struct CacheControl: Encodable {
        var type = "ephemeral"
        var ttl: String?

        init(_ mark: CacheMark) {
            ttl = mark.ttl
        }
    }

    struct Source: Encodable {
        var type: String
        var media_type: String?
        var data: String?
        var url: String?

        init(_ document: Document.Source) {
            switch document {
            case .base64(let mediaType, let data):
                type = "base64"
                media_type = mediaType
                self.data = data
            case .text(let text):
                type = "text"
                media_type = "text/plain"
                data = text
            case .url(let url):
                type = "url"
                self.url = url
            }
        }

        /// An image's source is written as a document's of the same kind.
        init(_ image: ImageSource) {
            switch image {
            case .base64(let mediaType, let data): self.init(Document.Source.base64(mediaType: mediaType, data: data))
            case .url(let url): self.init(Document.Source.url(url))
            }
        }
    }

    struct Block: Encodable {
        var type: String
        var text: String?
        var source: Source?
        var id: String?
        var name: String?
        var input: JSONValue?
        var tool_use_id: String?
        var content: [Block]?
        var is_error: Bool?
        var thinking: String?
        var signature: String?
        var data: String?
        var title: String?
        var context: String?
        var citations: Citations?
        var cache_control: CacheControl?

        init(text: String, cache: CacheMark?) {
            type = "text"
            self.text = text
            cache_control = cache.map(CacheControl.init)
        }

        init(_ block: ContentBlock) {
            switch block {
            case .text(let text):
                type = "text"
                self.text = text
            case .image(let image):
                type = "image"
                source = Source(image)
            case .toolUse(let use):
                type = "tool_use"
                id = use.id
                name = use.name
                input = use.input
            case .toolResult(let result):
                type = "tool_result"
                tool_use_id = result.toolUseId
                let blocks = result.content.filter { $0.text?.isEmpty != true }.map(Block.init)
                content = blocks.isEmpty ? nil : blocks
                is_error = result.isError ? true : nil
            case .thinking(let text, let signature):
                type = "thinking"
                thinking = text
                self.signature = signature
            case .redactedThinking(let data):
                type = "redacted_thinking"
                self.data = data
            case .document(let document):
                type = "document"
                source = Source(document.source)
                title = document.title
                context = document.context
                citations = document.citations.map(Citations.init)
            }
        }
    }

    struct Citations: Encodable {
        var enabled: Bool
    }

    struct Tool: Encodable {
        var name: String
        var description: String?
        var input_schema: JSONValue
        var cache_control: CacheControl?
        var strict: Bool?
    }

    struct Choice: Encodable {
        var type: String
        var name: String?
        var disable_parallel_tool_use: Bool?

        init?(_ choice: ToolChoice?, parallel: Bool?) {
            let single = parallel == false ? true : nil
            switch choice {
            case nil:
                guard single != nil else { return nil }
                type = "auto"
            case .auto?: type = "auto"
            case .none?: type = "none"
            case .required?: type = "any"
            case .tool(let name)?:
                type = "tool"
                self.name = name
            }
            if type != "none" { disable_parallel_tool_use = single }
        }
    }
}
