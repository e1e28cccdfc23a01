import FleetSupport

extension ProviderRequest {
    /// What this request asks for that `kind`'s wire format cannot carry, one phrase each (empty
    /// when it carries everything). The router keeps such models out of the task's choice
    /// (`RoutingTask.providerLimits`), so nothing is dropped on the way to a provider.
    public func unsupportedFeatures(on kind: ProviderKind) -> [String] {
        var missing: [String] = []
        let imageURL = messages.contains { message in
            message.blocks.contains { if case .image(.url) = $0 { return true } else { return false } }
        }
        let imageInToolResult = messages.contains { $0.toolResults.contains(where: \.hasImage) }
        let prefill = continuesLastAssistantTurn == true && messages.last?.role == .assistant
        let laterSystem = messages.contains { $0.role == .system }
        let documents = messages.flatMap { message in
            message.blocks.compactMap { if case .document(let document) = $0 { return document } else { return nil } }
        }
        let pdfInToolResult = messages.contains { $0.toolResults.contains(where: \.hasPDF) }
        let pdf = documents.contains(where: \.isPDF)
        let pdfURL = documents.contains { if case .url = $0.source { return true } else { return false } }
        switch kind {
        case .anthropic:
            switch responseFormat {
            case .jsonObject?:
                missing.append("a JSON response_format without a schema (Claude's structured outputs need a schema)")
            case .jsonSchema?:
                if prefill { missing.append("a final assistant message to continue beside a JSON schema (Anthropic refuses prefill with structured outputs)") }
            case nil:
                break
            }
            if let temperature, temperature > 1 { missing.append("temperature above 1 (Anthropic's range is 0 to 1)") }
            if seed != nil { missing.append("seed (Anthropic has no seed)") }
            if presencePenalty != nil || frequencyPenalty != nil {
                missing.append("presence/frequency penalties (Anthropic has none)")
            }
        case .openai, .xai:
            if topK != nil { missing.append("top_k (Chat Completions has no top_k)") }
            if pdfURL { missing.append("PDF URLs (Chat Completions takes inline files; fleetd does not fetch URLs)") }
            if pdfInToolResult { missing.append("PDFs inside tool results (Chat Completions tool messages carry text only)") }
            if pdf, kind == .xai { missing.append("PDF documents (xAI's Chat Completions takes no files)") }
            if imageInToolResult { missing.append("images inside tool results (Chat Completions tool messages carry text only)") }
            if prefill { missing.append("a final assistant message to continue (Chat Completions answers after it instead)") }
        case .google:
            if imageURL { missing.append("image URLs (Gemini takes inline Base64 images; fleetd does not fetch URLs)") }
            if imageInToolResult { missing.append("images inside tool results (Gemini's functionResponse carries JSON only)") }
            if pdfURL { missing.append("PDF URLs (Gemini takes inline files; fleetd does not fetch URLs)") }
            if pdfInToolResult { missing.append("PDFs inside tool results (Gemini's functionResponse carries JSON only)") }
            if parallelToolCalls == false { missing.append("parallel_tool_calls: false (Gemini has no such switch)") }
            if prefill { missing.append("a final assistant message to continue (Gemini answers after it instead)") }
            if laterSystem { missing.append("a system message after the conversation started (Gemini takes a system instruction only before the first turn)") }
        case .ollama:
            if imageURL { missing.append("image URLs (Ollama takes inline Base64 images; fleetd does not fetch URLs)") }
            if imageInToolResult { missing.append("images inside tool results (Ollama tool messages carry text only)") }
            if pdf || pdfInToolResult { missing.append("PDF documents (Ollama takes text and images only)") }
            if toolChoice?.forcesCall == true { missing.append("a tool_choice forcing a tool call (Ollama has no tool_choice)") }
            if parallelToolCalls == false { missing.append("parallel_tool_calls: false (Ollama has no such switch)") }
        case .builtin:
            if pdf || pdfInToolResult { missing.append("PDF documents (the built-in responder reads text only)") }
            if responseFormat != nil { missing.append("a JSON response_format (the built-in responder answers in plain text)") }
            if toolChoice?.forcesCall == true { missing.append("a tool_choice forcing a tool call (the built-in responder never calls tools)") }
        }
        return missing
    }

    /// What this request asks for that only `kind`'s older models cannot carry, one phrase each
    /// with the rule that tells those models by id (``ModelIdRule``): the router keeps them out of
    /// the task's choice, and takes the newer ones.
    public func featuresOlderModelsLack(on kind: ProviderKind) -> [(reason: String, models: ModelIdRule)] {
        guard kind == .anthropic, case .jsonSchema? = responseFormat else { return [] }
        return [("a JSON schema response format (Claude's structured outputs begin with Claude 4.5 and Opus 4.1; other models "
                 + "behind an Anthropic-format endpoint are not trusted to hold one)", Self.withoutStructuredOutputs)]
    }

    /// The models of the Anthropic format without structured outputs (`output_config.format`, a
    /// tool's `strict`): Claude before 4.5 but Opus 4.1, and models that are not Claude.
    public static let withoutStructuredOutputs = ModelIdRule.withoutClaudeStructuredOutputs

    /// Whether any message carries a PDF, in a tool result too (the router's `document` input modality).
    public var hasPDFs: Bool {
        messages.contains { message in
            message.blocks.contains { block in
                switch block {
                case .document(let document): document.isPDF
                case .toolResult(let result): result.hasPDF
                default: false
                }
            }
        }
    }

    /// Whether any message carries an image (the router's `image` input modality).
    public var hasImages: Bool {
        messages.contains { message in
            message.blocks.contains { block in
                switch block {
                case .image: true
                case .toolResult(let result): result.hasImage
                case .text, .toolUse, .thinking, .redactedThinking, .document: false
                }
            }
        }
    }

    /// Whether the call offers tools or its history holds tool calls (the router's `supportsTools`).
    public var usesTools: Bool {
        !tools.isEmpty || messages.contains { !$0.toolUses.isEmpty || !$0.toolResults.isEmpty }
    }

    /// The first message whose thinking blocks a provider counts as input. Anthropic drops the
    /// thinking of earlier turns, and keeps that of a tool loop still going: the assistant turns
    /// after the last user turn that is more than tool results. Other providers are sent none.
    public var firstCountedThinkingMessage: Int {
        let lastPrompt = messages.lastIndex { message in
            message.role == .user && message.blocks.contains { if case .toolResult = $0 { return false } else { return true } }
        }
        return (lastPrompt ?? -1) + 1
    }

    /// A PDF counted as images (Anthropic reads each page as text and as an image): one for about
    /// every 30 KB of its bytes, at least one; a PDF by URL, of unknown size, as ten.
    static func imagesPerPDF(_ document: Document) -> Int {
        guard case .base64(_, let data) = document.source else { return 10 }
        return max(1, data.utf8.count * 3 / 4 / 30_000)
    }

    /// Tokens an image is counted as before the provider reports usage: Anthropic's figure for an
    /// image at its largest unscaled size (about 1.15 megapixels ≈ 1,600 tokens).
    public static let approximateTokensPerImage = 1_600

    /// fleetd's estimate of the input tokens, without calling a model: about four characters per
    /// token over the system prompt, every text, tool call and result, and the tool definitions,
    /// plus ``approximateTokensPerImage`` per image. `POST /v1/messages/count_tokens` answers it.
    public var approximateInputTokens: Int {
        var characters = system?.count ?? 0
        var images = 0
        var pieces = 0
        var countsThinking = false
        func count(_ block: ContentBlock) {
            pieces += 1
            switch block {
            case .text(let text): characters += text.count
            case .image: images += 1
            case .toolUse(let use): characters += use.name.count + ((try? FastJSONEncoder().encodeToString(use.input))?.count ?? 0)
            case .toolResult(let result): result.content.forEach(count)
            case .thinking(let text, _): if countsThinking { characters += text.count } else { pieces -= 1 }
            case .redactedThinking(let data): if countsThinking { characters += data.count } else { pieces -= 1 }
            case .document(let document):
                switch document.source {
                case .text(let text): characters += text.count + (document.title?.count ?? 0) + (document.context?.count ?? 0)
                case .base64, .url: images += Self.imagesPerPDF(document)
                }
            }
        }
        let firstThinking = firstCountedThinkingMessage
        for (index, message) in messages.enumerated() {
            countsThinking = index >= firstThinking
            message.blocks.forEach(count)
        }
        for tool in tools {
            characters += tool.name.count + (tool.description?.count ?? 0) + ((try? FastJSONEncoder().encodeToString(tool.parameters))?.count ?? 0)
        }
        // A few tokens of framing per message and block, as the providers' counts show.
        return (characters + 3) / 4 + images * Self.approximateTokensPerImage + messages.count * 3 + pieces
    }
}
