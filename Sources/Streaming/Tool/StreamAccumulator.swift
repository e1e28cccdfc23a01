import Providers
import Synchronization

/// What a stream has produced so far, shared by the attempt task and the watchdog's owner.
final class StreamAccumulator: Sendable {
    struct State {
        var text = ""
        var chunks = 0
        /// Approximate output tokens so far (summed per chunk, for progress events).
        var approximateTokens = 0
        var toolCalls: [Int: (id: String?, name: String, arguments: String, signature: String?)] = [:]
        var finishReason: String?
        var usage: TokenUsage?
        var discarded = 0
        var attempts = 0
        var progressSent = 0
        /// This attempt: the provider accepted the call, and the output it sent (approximate tokens).
        var attemptAccepted = false
        var attemptOutputTokens = 0
        /// A stream was tried and failed before a synchronous call.
        var streamFailed = false
        /// This attempt was a synchronous call cut (timed out, or its caller gone) while the
        /// provider was producing an answer fleetd never received.
        var attemptAnswerUnseen = false
        /// The thinking delivered, put together block by block.
        var thinking = ThinkingAssembly()
    }

    let state = Mutex(State())

    /// Whether the consumer got any of the answer: text, or thinking (a retry or another model
    /// would tell a second answer after it).
    var deliveredOutput: Bool { state.withLock { $0.chunks > 0 || !$0.thinking.isEmpty } }

    /// Keeps a thinking piece the consumer is being told.
    func appendThinking(_ delta: ThinkingDelta) {
        state.withLock {
            $0.thinking.add(delta)
            if case .text(let text) = delta.part { $0.attemptOutputTokens += BuiltinProvider.approximateTokens(text) }
        }
    }

    /// Forgets what a failed attempt gathered but never delivered (tool calls, finish reason, usage),
    /// so a retry or fallback starts clean. Delivered text is kept.
    func resetUndelivered() {
        state.withLock {
            $0.toolCalls = [:]
            $0.finishReason = nil
            $0.usage = nil
            $0.attemptAccepted = false
            $0.attemptOutputTokens = 0
            $0.attemptAnswerUnseen = false
        }
    }

    /// Appends text; returns the chunk's sequence number.
    func appendText(_ text: String) -> Int {
        state.withLock {
            $0.text += text
            $0.chunks += 1
            let tokens = BuiltinProvider.approximateTokens(text)
            $0.approximateTokens += tokens
            $0.attemptOutputTokens += tokens
            return $0.chunks - 1
        }
    }

    func add(_ delta: ToolCallDelta) {
        state.withLock {
            var call = $0.toolCalls[delta.index] ?? (id: nil, name: "", arguments: "", signature: nil)
            if let id = delta.id { call.id = id }
            if let name = delta.name { call.name = name }
            if let signature = delta.signature { call.signature = signature }
            call.arguments += delta.argumentsFragment
            $0.toolCalls[delta.index] = call
            $0.attemptOutputTokens += BuiltinProvider.approximateTokens(delta.argumentsFragment)
        }
    }

    var toolCalls: [ToolCall] {
        state.withLock { s in
            s.toolCalls.keys.sorted().compactMap { key in
                s.toolCalls[key].map { ToolCall(id: $0.id, name: $0.name, arguments: $0.arguments, signature: $0.signature) }
            }
        }
    }
}
