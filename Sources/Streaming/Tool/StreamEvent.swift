import FleetSupport
import Foundation
import Providers

/// One event of a streamed call, as ``StreamingTool/executeStreaming(_:targets:)`` emits them:
/// `start`, then `chunk`s (with `progress` now and then), then exactly one of `complete` or a
/// terminal `error`. A non-terminal `error` (STREAM_003) reports a discarded chunk.
public enum StreamEvent: Sendable, Hashable {
    // The start, an error and the end are indirect (boxed): once per call, or seldom. Inline they
    // set every event's size (81 bytes, a chunk needs 40), and an event takes a slot in each async
    // frame that awaits one, on the chains an open stream keeps (docs/performance.md, "Memory").
    indirect case start(StreamStartMetadata)
    case chunk(StreamChunk)
    /// A piece of the model's extended thinking (Anthropic), told as it comes, before the text.
    case thinking(ThinkingDelta)
    case progress(StreamProgress)
    indirect case error(StreamFailure)
    indirect case complete(StreamResult)

    /// The SSE event name fleetd uses for it on the wire.
    public var name: String {
        switch self {
        case .start: "start"
        case .chunk: "chunk"
        case .thinking: "thinking"
        case .progress: "progress"
        case .error: "error"
        case .complete: "complete"
        }
    }
}

/// Sent first.
public struct StreamStartMetadata: Sendable, Hashable, Codable {
    /// e.g. `stream-1729080000000-x7k2q9`.
    public var streamId: String
    /// The model name (config name) of the first target.
    public var model: String
    public var provider: ProviderKind
    public var startedAt: Date
    public var bufferSize: Int
    public var backpressureThreshold: Double
    public var timeoutMs: Int
}

/// A piece of answer text.
public struct StreamChunk: Sendable, Hashable, Codable {
    public var streamId: String
    /// 0, 1, 2… in the order the consumer receives them.
    public var sequence: Int
    public var text: String

    public init(streamId: String, sequence: Int, text: String) {
        self.streamId = streamId
        self.sequence = sequence
        self.text = text
    }
}

/// How far the answer got.
public struct StreamProgress: Sendable, Hashable, Codable {
    public var streamId: String
    public var chunks: Int
    /// Output tokens so far: approximate (≈ 4 characters per token) until the provider reports usage.
    public var tokensSoFar: Int
}

/// An error: terminal (the stream ends) or not (a discarded chunk, STREAM_003).
public struct StreamFailure: Sendable, Hashable, Codable {
    /// A stable code: STREAM_001/002/003 or a provider code such as `PROVIDER_RATE_LIMITED`.
    public var code: ErrorCode
    public var message: String
    /// A label fit for a metric.
    public var shortDescription: String
    /// Whether the stream ends with this error.
    public var terminal: Bool
    /// Whether the caller may try again later.
    public var retryable: Bool
    /// The model the failure came from, if any.
    public var model: String?
    /// How long the provider asked to wait (its Retry-After), when it said.
    public var retryAfter: Duration? = nil

    public init(code: ErrorCode, message: String, shortDescription: String, terminal: Bool, retryable: Bool,
                model: String?, retryAfter: Duration? = nil) {
        self.code = code
        self.message = message
        self.shortDescription = shortDescription
        self.terminal = terminal
        self.retryable = retryable
        self.model = model
        self.retryAfter = retryAfter
    }
}

/// The assembled answer, sent last.
public struct StreamResult: Sendable, Hashable {
    public var text: String
    public var toolCalls: [ToolCall]
    public var finishReason: String?
    /// As reported by the provider; `nil` if it reported none.
    public var usage: TokenUsage?
    public var metadata: StreamResultMetadata
    /// When the answer has thinking (Anthropic's extended thinking, when asked for): its thinking
    /// and text blocks in the order they came; empty otherwise (``text`` is then the whole of it).
    public var content: [ContentBlock] = []

    /// The answer as content blocks (without its tool calls): in order with its thinking, or its text.
    public var answerBlocks: [ContentBlock] {
        if !content.isEmpty { return content }
        return text.isEmpty ? [] : [.text(text)]
    }
}

/// What happened during the call.
public struct StreamResultMetadata: Sendable, Hashable, Codable {
    public var streamId: String
    /// The model (config name) that produced the answer.
    public var model: String
    public var provider: ProviderKind
    public var totalChunks: Int
    /// Total tokens (input + output) from the provider's usage, or approximated when it reported none.
    public var totalTokens: Int
    public var duration: Duration
    /// Calls made, including retries and fallbacks.
    public var attempts: Int
    /// Whether the answer came from a synchronous call rather than a stream.
    public var synchronous: Bool
    /// Whether that synchronous call was a fallback: a stream was tried first and failed (not a
    /// run that never streamed: the flag off, or a model that cannot stream).
    public var synchronousFallback: Bool
    /// Chunks dropped as invalid (STREAM_003).
    public var discardedChunks: Int
    /// How many times reading from the provider paused for the consumer.
    public var backpressureEvents: Int
}

/// Stored in `streaming/metadata` with the call's time as `durationMs`, a number of milliseconds
/// as the task API shows it, not `Duration`'s own `[seconds, attoseconds]` pair, which no one
/// reading the store could take for a duration. A record stored in that pair still reads.
extension StreamResultMetadata {
    private enum CodingKeys: String, CodingKey {
        case streamId, model, provider, totalChunks, totalTokens, durationMs, duration, attempts, synchronous, synchronousFallback
        case discardedChunks, backpressureEvents
    }

    public init(from decoder: any Decoder) throws {
        let values = try decoder.container(keyedBy: CodingKeys.self)
        streamId = try values.decode(String.self, forKey: .streamId)
        model = try values.decode(String.self, forKey: .model)
        provider = try values.decode(ProviderKind.self, forKey: .provider)
        totalChunks = try values.decode(Int.self, forKey: .totalChunks)
        totalTokens = try values.decode(Int.self, forKey: .totalTokens)
        if let milliseconds = try values.decodeIfPresent(Double.self, forKey: .durationMs) {
            duration = .nanoseconds(Int64((milliseconds * 1_000_000).rounded()))
        } else {
            duration = try values.decode(Duration.self, forKey: .duration)
        }
        attempts = try values.decode(Int.self, forKey: .attempts)
        synchronous = try values.decode(Bool.self, forKey: .synchronous)
        synchronousFallback = try values.decode(Bool.self, forKey: .synchronousFallback)
        discardedChunks = try values.decode(Int.self, forKey: .discardedChunks)
        backpressureEvents = try values.decode(Int.self, forKey: .backpressureEvents)
    }

    public func encode(to encoder: any Encoder) throws {
        var values = encoder.container(keyedBy: CodingKeys.self)
        try values.encode(streamId, forKey: .streamId)
        try values.encode(model, forKey: .model)
        try values.encode(provider, forKey: .provider)
        try values.encode(totalChunks, forKey: .totalChunks)
        try values.encode(totalTokens, forKey: .totalTokens)
        try values.encode(duration.inMilliseconds, forKey: .durationMs)
        try values.encode(attempts, forKey: .attempts)
        try values.encode(synchronous, forKey: .synchronous)
        try values.encode(synchronousFallback, forKey: .synchronousFallback)
        try values.encode(discardedChunks, forKey: .discardedChunks)
        try values.encode(backpressureEvents, forKey: .backpressureEvents)
    }
}
