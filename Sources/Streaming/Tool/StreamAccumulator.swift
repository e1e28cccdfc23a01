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
        /// The order text and thinking came in, once there is thinking: each text run's length in
        /// UTF-8 bytes, or a thinking block's index. Empty while the answer is text alone.
        var order: [Segment] = []
    }

    enum Segment: Equatable {
        case text(bytes: Int)
        case thinking(Int)
    }

    let state = Mutex(State())

    /// Whether the consumer got any of the answer: text, or thinking (a retry or another model
    /// would tell a second answer after it).
    var deliveredOutput: Bool { state.withLock { $0.chunks > 0 || !$0.thinking.isEmpty } }

    /// Keeps a thinking piece the consumer is being told.
    func appendThinking(_ delta: ThinkingDelta) {
        state.withLock {
            if $0.order.isEmpty, !$0.text.isEmpty { $0.order.append(.text(bytes: $0.text.utf8.count)) } // text before the first thinking
            if !$0.order.contains(.thinking(delta.index)) { $0.order.append(.thinking(delta.index)) }
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
            if !$0.order.isEmpty {
                if case .text(let bytes) = $0.order[$0.order.count - 1] {
                    $0.order[$0.order.count - 1] = .text(bytes: bytes + text.utf8.count)
                } else {
                    $0.order.append(.text(bytes: text.utf8.count))
                }
            }
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

    /// The answer's thinking and text blocks in the order they came, when it has thinking (empty
    /// otherwise: the text is the whole of it).
    static func content(of state: State) -> [ContentBlock] {
        guard !state.order.isEmpty else { return [] }
        let thinking = state.thinking.blocks
        let utf8 = Array(state.text.utf8)
        var offset = 0
        var blocks: [ContentBlock] = []
        for segment in state.order {
            switch segment {
            case .text(let bytes):
                let end = min(utf8.count, offset + bytes)
                blocks.append(.text(String(decoding: utf8[offset..<end], as: UTF8.self)))
                offset = end
            case .thinking(let index):
                if index < thinking.count { blocks.append(thinking[index]) }
            }
        }
        return blocks
    }

    var toolCalls: [ToolCall] {
        state.withLock { s in
            s.toolCalls.keys.sorted().compactMap { key in
                s.toolCalls[key].map { ToolCall(id: $0.id, name: $0.name, arguments: $0.arguments, signature: $0.signature) }
            }
        }
    }
}
