import FleetSupport
import Foundation

/// Where ``StreamingTool`` writes session state and metadata. Module Agents implements it on
/// Store's `MemoryStore` and `WriteBehindRecorder` (`streaming/sessions` and `streaming/metadata`
/// partitions); Streaming only knows this seam.
public protocol StreamSessionRecorder: Sendable {
    /// A session's state, written when it starts and again when it ends (same `streamId`).
    func recordSession(_ session: StreamSessionRecord) async throws
    /// The metadata of a completed stream.
    func recordMetadata(_ metadata: StreamResultMetadata) async throws
}

/// The state of one stream.
public struct StreamSessionRecord: Sendable, Hashable, Codable {
    public enum State: String, Sendable, Hashable, Codable {
        case streaming, completed, failed, cancelled
    }

    public var streamId: String
    public var state: State
    public var model: String
    public var provider: ProviderKind
    public var startedAt: Date
    public var endedAt: Date?
    /// The terminal error's code, when it failed.
    public var errorCode: ErrorCode?
    public var chunks: Int
    public var bufferSize: Int
    public var backpressureThreshold: Double
    public var timeoutMs: Int

    public init(
        streamId: String, state: State, model: String, provider: ProviderKind, startedAt: Date, endedAt: Date? = nil,
        errorCode: ErrorCode? = nil, chunks: Int = 0, bufferSize: Int, backpressureThreshold: Double, timeoutMs: Int
    ) {
        self.streamId = streamId
        self.state = state
        self.model = model
        self.provider = provider
        self.startedAt = startedAt
        self.endedAt = endedAt
        self.errorCode = errorCode
        self.chunks = chunks
        self.bufferSize = bufferSize
        self.backpressureThreshold = backpressureThreshold
        self.timeoutMs = timeoutMs
    }
}
