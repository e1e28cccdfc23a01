import FleetSupport

/// The `streaming:` section of the configuration: how ``StreamingTool`` buffers, times out and retries.
public struct StreamingConfiguration: Sendable, Hashable, Codable {
    /// Whether streaming is on (the feature flag's default). Default `false`: the v1.0.4 synchronous path.
    public var enabled: Bool
    /// The most chunks buffered per stream between the provider and the consumer. Default 1024; 1…1,000,000.
    public var bufferSize: Int
    /// Fraction of `bufferSize` at which fleetd stops reading from the provider (high watermark).
    /// Reading resumes when the buffer drains to half of that (low watermark). Default 0.8; (0, 1].
    public var backpressureThreshold: Double
    /// Total time allowed for one call, first byte to last chunk, in ms. Default 30000; ≥ 1.
    public var timeoutMs: Int
    /// Time allowed until the first chunk arrives, in ms; `nil` uses `timeoutMs`. ≥ 1.
    public var firstChunkTimeoutMs: Int?
    /// Longest gap allowed between two chunks, in ms; `nil` uses `timeoutMs`. ≥ 1.
    public var idleTimeoutMs: Int?
    /// Retries before the first chunk reaches the consumer, of the last target only (earlier
    /// targets hand over to the next one at once).
    public var retryConfig: RetryConfiguration

    public init(
        enabled: Bool = false, bufferSize: Int = 1024, backpressureThreshold: Double = 0.8, timeoutMs: Int = 30_000,
        firstChunkTimeoutMs: Int? = nil, idleTimeoutMs: Int? = nil, retryConfig: RetryConfiguration = RetryConfiguration()
    ) {
        self.enabled = enabled
        self.bufferSize = bufferSize
        self.backpressureThreshold = backpressureThreshold
        self.timeoutMs = timeoutMs
        self.firstChunkTimeoutMs = firstChunkTimeoutMs
        self.idleTimeoutMs = idleTimeoutMs
        self.retryConfig = retryConfig
    }

    /// Problems with the values, each naming its field (empty when valid).
    public func validationProblems() -> [String] {
        var problems: [String] = []
        if !(1...1_000_000).contains(bufferSize) { problems.append("streaming.bufferSize must be 1…1000000, got \(bufferSize)") }
        if !(backpressureThreshold > 0 && backpressureThreshold <= 1) {
            problems.append("streaming.backpressureThreshold must be in (0, 1], got \(backpressureThreshold)")
        }
        if timeoutMs < 1 { problems.append("streaming.timeoutMs must be ≥ 1, got \(timeoutMs)") }
        if let v = firstChunkTimeoutMs, v < 1 { problems.append("streaming.firstChunkTimeoutMs must be ≥ 1, got \(v)") }
        if let v = idleTimeoutMs, v < 1 { problems.append("streaming.idleTimeoutMs must be ≥ 1, got \(v)") }
        problems += retryConfig.validationProblems()
        return problems
    }
}

/// `streaming.retryConfig`: exponential backoff with jitter.
public struct RetryConfiguration: Sendable, Hashable, Codable {
    /// Retries after the first attempt, of the last target (nothing else can serve). Default 3; 0…20.
    public var maxRetries: Int
    /// Delay before the first retry, in ms. Default 1000; ≥ 0.
    public var backoffMs: Int
    /// Each further retry waits this many times longer. Default 2; ≥ 1.
    public var backoffMultiplier: Double
    /// The longest wait between attempts, in ms (a provider's longer Retry-After still wins). Default 30000.
    public var maxBackoffMs: Int
    /// Random spread: the delay is multiplied by a factor in [1 − jitter, 1 + jitter]. Default 0.2; 0…1.
    public var jitter: Double

    public init(maxRetries: Int = 3, backoffMs: Int = 1000, backoffMultiplier: Double = 2, maxBackoffMs: Int = 30_000, jitter: Double = 0.2) {
        self.maxRetries = maxRetries
        self.backoffMs = backoffMs
        self.backoffMultiplier = backoffMultiplier
        self.maxBackoffMs = maxBackoffMs
        self.jitter = jitter
    }

    /// The wait before retry number `retry` (1-based), without jitter.
    public func baseDelay(retry: Int) -> Duration {
        let factor = pow(backoffMultiplier, Double(max(0, retry - 1)))
        let ms = min(Double(maxBackoffMs), Double(backoffMs) * factor)
        return .milliseconds(Int64(ms))
    }

    /// The wait before retry number `retry`, with jitter drawn from `random` in [0, 1);
    /// a provider's `retryAfter` wins when it is longer.
    public func delay(retry: Int, providerRetryAfter: Duration?, random: Double) -> Duration {
        let base = baseDelay(retry: retry).inMilliseconds
        let spread = 1 + jitter * (2 * random - 1)
        let jittered = Duration.milliseconds(Int64(max(0, base * spread)))
        if let providerRetryAfter, providerRetryAfter > jittered { return providerRetryAfter }
        return jittered
    }

    func validationProblems() -> [String] {
        var problems: [String] = []
        if !(0...20).contains(maxRetries) { problems.append("streaming.retryConfig.maxRetries must be 0…20, got \(maxRetries)") }
        if backoffMs < 0 { problems.append("streaming.retryConfig.backoffMs must be ≥ 0, got \(backoffMs)") }
        if backoffMultiplier < 1 { problems.append("streaming.retryConfig.backoffMultiplier must be ≥ 1, got \(backoffMultiplier)") }
        if maxBackoffMs < 0 { problems.append("streaming.retryConfig.maxBackoffMs must be ≥ 0, got \(maxBackoffMs)") }
        if !(0...1).contains(jitter) { problems.append("streaming.retryConfig.jitter must be 0…1, got \(jitter)") }
        return problems
    }
}

import Foundation
