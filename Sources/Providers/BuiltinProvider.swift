import FleetSupport

/// fleetd's offline local default (``ProviderKind/builtin``): answers when no API key is
/// configured. It calls no model, and every answer says so in its first words, followed by a
/// short deterministic summary of the prompt (word and character counts, its opening words).
///
/// It streams word by word and reports usage counted approximately (about 4 characters per token).
public struct BuiltinProvider: ProviderClient {
    public var kind: ProviderKind { .builtin }

    /// The label every answer starts with.
    public static let label = "[fleetd built-in local responder — no model was called]"

    public init() {}

    /// The answer text for a request.
    public func answer(for request: ProviderRequest) -> String {
        let prompt = request.messages.last { $0.role == .user }?.content ?? ""
        let words = prompt.split(whereSeparator: { $0.isWhitespace || $0.isNewline })
        let opening = words.prefix(12).joined(separator: " ")
        var text = Self.label + " Received a prompt of \(words.count) word\(words.count == 1 ? "" : "s")"
        text += " (\(prompt.count) characters) in \(request.messages.count) message\(request.messages.count == 1 ? "" : "s")."
        if !opening.isEmpty {
            text += " It begins: \"\(opening)\(words.count > 12 ? " …" : "")\"."
        }
        text += " Configure a provider API key to get a model's answer."
        return text
    }

    /// Approximate token count: one token per 4 characters, at least one per word.
    public static func approximateTokens(_ text: String) -> Int {
        // One pass over the UTF-8 bytes: scalars are the non-continuation bytes; words start
        // after ASCII whitespace.
        var scalars = 0
        var words = 0
        var inWord = false
        for byte in text.utf8 {
            if byte & 0xC0 != 0x80 { scalars += 1 }
            let space = byte == 0x20 || (byte >= 0x09 && byte <= 0x0D)
            if !space, !inWord { words += 1 }
            inWord = !space
        }
        return max(words, (scalars + 3) / 4)
    }

    private func usage(for request: ProviderRequest, answer: String) -> TokenUsage {
        let input = request.messages.map(\.content).joined(separator: "\n") + (request.system ?? "")
        return TokenUsage(inputTokens: Self.approximateTokens(input), outputTokens: Self.approximateTokens(answer))
    }

    public func complete(_ request: ProviderRequest) async throws -> ProviderResponse {
        let text = answer(for: request)
        return ProviderResponse(text: text, finishReason: "stop", usage: usage(for: request, answer: text), model: "fleetd-builtin")
    }

    public func stream(_ request: ProviderRequest) async throws -> ProviderEventStream {
        let text = answer(for: request)
        var events: [ProviderEvent] = []
        var word = ""
        for character in text {
            word.append(character)
            if character == " " {
                events.append(.textDelta(word))
                word = ""
            }
        }
        if !word.isEmpty { events.append(.textDelta(word)) }
        events.append(.finish(reason: "stop"))
        events.append(.usage(usage(for: request, answer: text)))
        return ProviderEventStream(events: events)
    }
}
