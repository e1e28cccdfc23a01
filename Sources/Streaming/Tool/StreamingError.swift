import FleetSupport
import Providers

/// The streaming product errors: STREAM_001–003 of ``ErrorCode`` (docs/streaming.md).
public struct StreamingError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Code: String, Sendable, Hashable, Codable {
        /// STREAM_001 BufferOverflow: the stream buffer is full.
        case bufferOverflow = "STREAM_001"
        /// STREAM_002 StreamTimeout: no first chunk, too long a gap, or over the total time.
        case timeout = "STREAM_002"
        /// STREAM_003 ChunkValidationFailed: an invalid chunk (discarded; the stream goes on).
        case chunkValidationFailed = "STREAM_003"
    }

    public var code: Code
    public var message: String

    /// The code in the product's vocabulary.
    public var errorCode: ErrorCode {
        switch code {
        case .bufferOverflow: .bufferOverflow
        case .timeout: .streamTimeout
        case .chunkValidationFailed: .chunkValidationFailed
        }
    }

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    /// A label fit for a metric.
    public var shortDescription: String {
        switch code {
        case .bufferOverflow: "buffer_overflow"
        case .timeout: "stream_timeout"
        case .chunkValidationFailed: "chunk_validation_failed"
        }
    }

    public var description: String { "\(code.rawValue): \(message)" }
}

extension StreamFailure {
    init(_ error: StreamingError, terminal: Bool, model: String?) {
        self.init(
            code: error.errorCode, message: error.message, shortDescription: error.shortDescription,
            terminal: terminal, retryable: error.code == .timeout, model: model
        )
    }

    init(_ error: ProviderError, model: String?) {
        self.init(
            code: error.code, message: error.description, shortDescription: error.shortDescription,
            terminal: true, retryable: error.isRetryable, model: model,
            retryAfterSeconds: error.retryAfter.map { Int(($0 / .seconds(1)).rounded(.up)) }
        )
    }
}
