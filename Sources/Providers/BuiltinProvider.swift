import FleetSupport

/// fleetd's offline local default (``ProviderKind/builtin``): answers when no API key is
/// configured, or as the last resort when the configured models failed or cannot be used now. It
/// calls no model, and every answer says so in its first words (``label``, or ``failoverLabel``
/// after models failed), then why it answers (``Role``), then a short deterministic summary of the
/// prompt (word and character counts, its opening words).
///
/// It streams word by word and reports usage counted approximately (about 4 characters per token).
public struct BuiltinProvider: ProviderClient {
    public var kind: ProviderKind { .builtin }

    /// The label an answer starts with when no model was called for it.
    public static let label = "[fleetd built-in local responder — no model was called]"
    /// The label an answer starts with when models were called for the request and every one failed.
    public static let failoverLabel = "[fleetd built-in local responder — no model answered]"

    /// Why the responder answers, which its text says: an answer must never tell an operator with
    /// keys configured to configure one.
    public enum Role: Sendable, Hashable {
        /// It is the model this fleet has (no provider key set, or the only model configured).
        case onlyModel
        /// Every model tried for this request failed before answering; `last` is the last one and
        /// how it failed (`claude-sonnet-4.5: rate limited (HTTP 429)`).
        case afterFailures(last: String)
        /// The configured models could not be used for this request (breakers open after
        /// failures, budget or quota spent); `why` names them and the reason.
        case standingIn(why: String)
    }

    public var role: Role

    public init(role: Role = .onlyModel) {
        self.role = role
    }

    /// The answer text for a request.
    public func answer(for request: ProviderRequest) -> String {
        let prompt = request.messages.last { $0.role == .user }?.content ?? ""
        let words = prompt.split(whereSeparator: { $0.isWhitespace || $0.isNewline })
        let opening = words.prefix(12).joined(separator: " ")
        var text: String
        switch role {
        case .onlyModel:
            text = Self.label
        case .afterFailures(let last):
            text = Self.failoverLabel + " Every configured model tried for this request failed (last: \(last));"
            text += " this is fleetd's built-in local responder, not a model's answer."
        case .standingIn(let why):
            text = Self.label + " The configured models cannot be used right now (\(why));"
            text += " this is fleetd's built-in local responder, not a model's answer."
        }
        text += " Received a prompt of \(words.count) word\(words.count == 1 ? "" : "s")"
        text += " (\(prompt.count) characters) in \(request.messages.count) message\(request.messages.count == 1 ? "" : "s")."
        if !opening.isEmpty {
            text += " It begins: \"\(opening)\(words.count > 12 ? " …" : "")\"."
        }
        if role == .onlyModel {
            text += " Configure a provider API key to get a model's answer."
        }
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

    /// Answers at once: there is no wait for `cancellation` to stop.
    public func complete(_ request: ProviderRequest, cancellation: CancellationSignal?) async throws -> ProviderResponse {
        let text = answer(for: request)
        return ProviderResponse(text: text, finishReason: "stop", usage: usage(for: request, answer: text), model: "fleetd-builtin")
    }

    /// Every event is made before this returns and none waits, so there is no wait for
    /// `cancellation` to stop.
    public func send(streaming request: ProviderRequest, cancellation: CancellationSignal?) throws -> SentStream {
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
        return SentStream(ready: ProviderEventStream(events: events))
    }
}
