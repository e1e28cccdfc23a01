import FleetSupport

/// A failed provider call, classified so callers can decide to retry, wait, or give up.
///
/// Never holds an API key: messages taken from provider bodies are redacted with the key
/// that was used before they are stored here.
public struct ProviderError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What went wrong.
    public enum Kind: String, Sendable, Hashable, Codable {
        /// 429: too many requests or tokens; wait `retryAfter`.
        case rateLimited
        /// 529 (or a provider's `overloaded_error`): try again later or elsewhere.
        case overloaded
        /// 401/403: the key is wrong, missing or not allowed.
        case auth
        /// 400/404/413/422: the request itself is wrong; retrying will not help.
        case badRequest
        /// 5xx (and 408/409): the provider failed.
        case server
        /// Could not connect, or the connection broke.
        case network
        /// No answer in time.
        case timeout
        /// The provider reported an error inside a stream that had already started.
        case midStream
        /// No API key configured for a provider that needs one.
        case missingCredentials
        /// The answer could not be understood (bad JSON, unexpected shape, bad URL).
        case invalidResponse
    }

    public var kind: Kind
    public var provider: ProviderKind
    /// The HTTP status, when there was one.
    public var status: Int?
    /// How long the provider asked us to wait, from `retry-after-ms`, `retry-after` or reset headers.
    public var retryAfter: Duration?
    /// The provider's own error type, e.g. `rate_limit_error`, `RESOURCE_EXHAUSTED`.
    public var providerCode: String?
    /// What happened, for people (never contains a key).
    public var message: String
    /// Whether trying the same call again may succeed. `x-should-retry` overrides the default.
    public var isRetryable: Bool

    public init(
        kind: Kind, provider: ProviderKind, status: Int? = nil, retryAfter: Duration? = nil,
        providerCode: String? = nil, message: String, isRetryable: Bool? = nil
    ) {
        self.kind = kind
        self.provider = provider
        self.status = status
        self.retryAfter = retryAfter
        self.providerCode = providerCode
        self.message = message
        self.isRetryable = isRetryable ?? Self.defaultRetryable(kind)
    }

    /// The default retry decision for a kind.
    public static func defaultRetryable(_ kind: Kind) -> Bool {
        switch kind {
        case .rateLimited, .overloaded, .server, .network, .timeout, .midStream: true
        case .auth, .badRequest, .missingCredentials, .invalidResponse: false
        }
    }

    /// A stable code for logs, error bodies and SSE `error` events, e.g. `PROVIDER_RATE_LIMITED`.
    public var code: ErrorCode {
        switch kind {
        case .rateLimited: .providerRateLimited
        case .overloaded: .providerOverloaded
        case .auth: .providerAuth
        case .badRequest: .providerBadRequest
        case .server: .providerServerError
        case .network: .providerNetwork
        case .timeout: .providerTimeout
        case .midStream: .providerMidStreamError
        case .missingCredentials: .providerMissingCredentials
        case .invalidResponse: .providerInvalidResponse
        }
    }

    /// A short label fit for a metric, e.g. `rate_limited`.
    public var shortDescription: String {
        switch kind {
        case .rateLimited: "rate_limited"
        case .overloaded: "overloaded"
        case .auth: "auth"
        case .badRequest: "bad_request"
        case .server: "server_error"
        case .network: "network"
        case .timeout: "timeout"
        case .midStream: "mid_stream"
        case .missingCredentials: "missing_credentials"
        case .invalidResponse: "invalid_response"
        }
    }

    public var description: String {
        var text = "\(code): \(provider.rawValue)"
        if let status { text += " HTTP \(status)" }
        if let providerCode { text += " (\(providerCode))" }
        text += ": \(message)"
        if let retryAfter { text += " [retry after \(retryAfter)]" }
        return text
    }
}
