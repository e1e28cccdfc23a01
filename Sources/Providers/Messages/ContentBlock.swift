import FleetSupport

/// One piece of a message: text, an image, a tool call the assistant made, or a tool's result.
///
/// The provider-neutral message model every client encodes to its own wire format
/// (`AnthropicWire`, `OpenAIWire`, `GeminiWire`, `OllamaWire`) and the compatible endpoints decode
/// into. What a provider's format cannot carry is listed by
/// ``ProviderRequest/unsupportedFeatures(on:)``, never dropped silently.
public enum ContentBlock: Sendable, Hashable, Codable {
    case text(String)
    case image(ImageSource)
    /// A tool call made by the assistant (in an assistant message).
    case toolUse(ToolUse)
    /// The result of a tool call (in a user message).
    case toolResult(ToolResult)
    /// An Anthropic model's extended thinking (in an assistant message), with the signature that
    /// lets it come back in a later turn. Sent back to Anthropic unchanged, as it requires (a tool
    /// loop's last assistant turn must begin with it); no other provider's format has it, and their
    /// encoders leave it out.
    case thinking(text: String, signature: String)
    /// Thinking Anthropic's safety systems encrypted: opaque data, sent back as it came.
    case redactedThinking(data: String)
    /// A document the user gave (Anthropic's `document` block): a PDF, inline or by URL, or
    /// plain text.
    case document(Document)

    /// The text, when this is a text block.
    public var text: String? {
        if case .text(let text) = self { return text }
        return nil
    }

    /// Whether this is a thinking block (plain or redacted).
    public var isThinking: Bool {
        switch self {
        case .thinking, .redactedThinking: true
        case .text, .image, .toolUse, .toolResult, .document: false
        }
    }
}

/// A document in a message: a PDF (Base64, or a URL the provider fetches) or plain text, with
/// the title and context the client gave it.
public struct Document: Sendable, Hashable, Codable {
    public enum Source: Sendable, Hashable, Codable {
        /// Inline bytes, Base64 encoded (`application/pdf`).
        case base64(mediaType: String, data: String)
        /// Plain text.
        case text(String)
        /// A PDF's URL (fleetd never fetches it).
        case url(String)
    }

    public var source: Source
    public var title: String?
    public var context: String?
    /// Anthropic's `citations.enabled`.
    public var citations: Bool?

    public init(source: Source, title: String? = nil, context: String? = nil, citations: Bool? = nil) {
        self.source = source
        self.title = title
        self.context = context
        self.citations = citations
    }

    /// A plain-text document as text for formats without documents: its title, its context, then
    /// its text.
    /// `nil` for a PDF.
    public var plainText: String? {
        guard case .text(let text) = source else { return nil }
        return [title, context, text].compactMap { $0 }.filter { !$0.isEmpty }.joined(separator: "\n\n")
    }

    /// Whether it is a PDF (inline or by URL), which only some formats carry.
    public var isPDF: Bool { plainText == nil }
}

/// Extended thinking as a caller asks for it (Anthropic's `thinking` parameter): relayed to
/// Anthropic models; other providers' formats have no such setting, and answer without it.
public struct ThinkingSetting: Sendable, Hashable, Codable {
    public enum Kind: String, Sendable, Hashable, Codable {
        /// Think with at most ``ThinkingSetting/budgetTokens`` tokens.
        case enabled
        /// The model decides how much to think (Claude's newer models).
        case adaptive
        case disabled
    }

    public var kind: Kind
    /// With `enabled`: at least 1,024, fewer than `max_tokens`.
    public var budgetTokens: Int?
    /// How the thinking text comes back (`summarized`, `omitted`), when the caller said.
    public var display: String?

    public init(kind: Kind, budgetTokens: Int? = nil, display: String? = nil) {
        self.kind = kind
        self.budgetTokens = budgetTokens
        self.display = display
    }

    /// The fewest tokens Anthropic allows a thinking budget.
    public static let minimumBudget = 1_024

    /// The thinking an OpenAI client's `reasoning_effort` asks of a Claude model: a budget of
    /// 1,024 tokens for `low`, 2,048 for `medium`, 4,096 for `high` and 8,192 for `xhigh` (the
    /// budgets LiteLLM maps them to); none for `none` and `minimal`.
    public static func forEffort(_ effort: String) -> ThinkingSetting? {
        // (For Claude 4.6 and later, `AnthropicWireRequest.thinkingForEffort` sends adaptive
        // thinking and the effort instead.)
        let budgets = ["low": 1_024, "medium": 2_048, "high": 4_096, "xhigh": 8_192]
        return budgets[effort].map { ThinkingSetting(kind: .enabled, budgetTokens: $0) }
    }

    /// Whether a Claude model id names a model that can think: Claude 3.7 Sonnet and the models
    /// after it (the Claude 4 families), not the Claude 3 and 3.5 models before it. A `claude-` id
    /// without a version (an alias) is taken as a current model.
    public static func claudeThinks(model: String) -> Bool {
        guard model.lowercased().hasPrefix("claude-") else { return false }
        guard let version = claudeVersion(model: model) else { return true }
        return version >= (3, 7)
    }

    /// Whether a Claude model thinks adaptively, told how much by `output_config.effort`: Claude
    /// 4.6 and later (Opus 4.7 and later refuse a thinking budget).
    public static func claudeThinksAdaptively(model: String) -> Bool {
        guard let version = claudeVersion(model: model) else { return false }
        return version >= (4, 6)
    }

    /// A Claude model id's version (``ModelIdRule/claudeVersion(model:)``): `claude-opus-4-7` is
    /// 4.7, `claude-sonnet-4-20250514` 4.0; `nil` for an id that is not Claude's.
    public static func claudeVersion(model: String) -> (Int, Int)? {
        ModelIdRule.claudeVersion(model: model)
    }

    /// The setting for a call whose answer may be at most `maxTokens` long: a budget that does not
    /// fit below it (a fallback with a smaller `maxOutputTokens`) is cut to half of it, and
    /// thinking is left off when even the minimum does not fit, since Anthropic refuses a budget
    /// not below `max_tokens`.
    public func fitting(maxTokens: Int) -> ThinkingSetting? {
        guard kind == .enabled, let budget = budgetTokens, budget >= maxTokens else { return self }
        let half = maxTokens / 2
        guard half >= Self.minimumBudget else { return nil }
        var fitted = self
        fitted.budgetTokens = half
        return fitted
    }
}

/// Where an image's bytes are.
public enum ImageSource: Sendable, Hashable, Codable {
    /// Inline bytes, Base64 encoded, with their media type (`image/png`, `image/jpeg`, `image/gif`, `image/webp`).
    case base64(mediaType: String, data: String)
    /// A URL the provider fetches itself (fleetd never fetches it).
    case url(String)

    /// The `data:` URL form of inline bytes, or the URL itself.
    public var urlForm: String {
        switch self {
        case .base64(let mediaType, let data): "data:\(mediaType);base64,\(data)"
        case .url(let url): url
        }
    }

    /// Parses a `data:<media type>;base64,<data>` URL into inline bytes; any other URL stays a URL.
    public static func fromURL(_ url: String) -> ImageSource {
        guard url.hasPrefix("data:"), let comma = url.firstIndex(of: ",") else { return .url(url) }
        let header = url[url.index(url.startIndex, offsetBy: 5)..<comma]
        guard header.hasSuffix(";base64") else { return .url(url) }
        let mediaType = header.dropLast(";base64".count)
        return .base64(mediaType: mediaType.isEmpty ? "image/png" : String(mediaType), data: String(url[url.index(after: comma)...]))
    }
}

/// A tool call the assistant made.
public struct ToolUse: Sendable, Hashable, Codable {
    /// The call's id; a ``ToolResult`` answers it by this id.
    public var id: String
    public var name: String
    /// The arguments, a JSON object.
    public var input: JSONValue
    /// The provider's opaque signature of the call (Gemini's `thoughtSignature`), sent back with
    /// it; `nil` when the call came from a client or another provider.
    public var signature: String?

    public init(id: String, name: String, input: JSONValue, signature: String? = nil) {
        self.id = id
        self.name = name
        self.input = input
        self.signature = signature
    }
}

/// What a tool call returned.
public struct ToolResult: Sendable, Hashable, Codable {
    /// The ``ToolUse/id`` it answers.
    public var toolUseId: String
    /// The tool's name (Gemini and Ollama address results by name, not id).
    public var name: String?
    /// Text and image blocks.
    public var content: [ContentBlock]
    /// Whether the tool failed (Anthropic's `is_error`; carried as a marked text elsewhere).
    public var isError: Bool

    public init(toolUseId: String, name: String? = nil, content: [ContentBlock], isError: Bool = false) {
        self.toolUseId = toolUseId
        self.name = name
        self.content = content
        self.isError = isError
    }

    /// The text blocks and plain-text documents joined with blank lines, for formats whose tool
    /// results carry text only.
    public var text: String {
        content.compactMap { block -> String? in
            if case .document(let document) = block { return document.plainText }
            return block.text
        }.joined(separator: "\n\n")
    }

    /// ``text``, an error marked `[tool error]` first, for formats without an error flag (OpenAI,
    /// Ollama).
    public var textForFlaglessFormats: String {
        isError ? "[tool error] " + text : text
    }

    /// Whether it holds an image.
    public var hasImage: Bool {
        content.contains { if case .image = $0 { return true } else { return false } }
    }

    /// Whether it holds a PDF.
    public var hasPDF: Bool {
        content.contains { if case .document(let document) = $0 { return document.isPDF } else { return false } }
    }
}
