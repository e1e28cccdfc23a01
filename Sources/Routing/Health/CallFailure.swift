import Foundation

/// How a model call failed, as the router's health tracking needs to know it.
///
/// The caller maps the Providers module's error classification (`ProviderError`) onto this
/// (module Agents does: `TaskRuntime.swift`).
public enum CallFailure: Sendable, Codable, Hashable, CustomStringConvertible {
    /// HTTP 429: rate limited. Opens the model's breaker at once, for `retryAfter` seconds or the cooldown.
    case rateLimited(retryAfter: TimeInterval?)
    /// HTTP 529 / 503 overloaded: the provider as a whole is overloaded. Opens the provider's breaker at once.
    case overloaded(retryAfter: TimeInterval?)
    /// The key was refused (401/403). Counts as a failure.
    case authentication
    /// HTTP 5xx other than overloaded. Counts as a failure.
    case server(status: Int)
    /// Connection refused, reset, DNS, TLS. Counts as a failure.
    case network
    /// No answer in time. Counts as a failure.
    case timeout
    /// The request itself was wrong (400, 404, 422): the model is healthy, so this is recorded but not counted.
    case badRequest(status: Int)
    /// Anything else, with a short description (never containing a key). Counts as a failure.
    case other(String)

    /// Whether the failure says something about the model's health.
    public var countsAgainstHealth: Bool {
        if case .badRequest = self { return false }
        return true
    }

    public var description: String {
        switch self {
        case .rateLimited(let after): "rate limited (429)" + (after.map { ", retry after \(Int($0.rounded(.up)))s" } ?? "")
        case .overloaded(let after): "overloaded (529)" + (after.map { ", retry after \(Int($0.rounded(.up)))s" } ?? "")
        case .authentication: "authentication failed"
        case .server(let status): "server error \(status)"
        case .network: "network error"
        case .timeout: "timed out"
        case .badRequest(let status): "bad request \(status)"
        case .other(let text): text
        }
    }
}
