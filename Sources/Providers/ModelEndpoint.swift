/// Where and how to reach one model: what a provider client needs, in Providers' own terms
/// (module Agents maps Routing's `ModelConfiguration` onto this: `TaskRuntime.endpoint(for:streaming:)`).
public struct ModelEndpoint: Sendable, Hashable, Codable {
    /// The name tasks, logs and metrics use (the config's model name).
    public var name: String
    public var provider: ProviderKind
    /// The provider's model id sent on the wire.
    public var model: String
    /// Base URL as the provider's SDK takes it; `nil` uses ``ProviderKind/defaultBaseURL``.
    public var baseURL: String?
    /// Environment variable holding the key; `nil` uses ``ProviderKind/defaultAPIKeyVariable``.
    public var apiKeyVariable: String?
    /// Whether the model can stream; when false, ``StreamingTool`` calls it synchronously.
    public var supportsStreaming: Bool
    /// The longest answer the model may be asked for (its `maxOutputTokens`), if it has one: a
    /// request built for another model is cut to it.
    public var maxOutputTokens: Int?

    public init(
        name: String? = nil, provider: ProviderKind, model: String, baseURL: String? = nil,
        apiKeyVariable: String? = nil, supportsStreaming: Bool = true, maxOutputTokens: Int? = nil
    ) {
        self.maxOutputTokens = maxOutputTokens
        self.name = name ?? model
        self.provider = provider
        self.model = model
        self.baseURL = baseURL
        self.apiKeyVariable = apiKeyVariable
        self.supportsStreaming = supportsStreaming
    }

    /// The base URL in use, without a trailing slash.
    public var resolvedBaseURL: String {
        var url = baseURL ?? provider.defaultBaseURL
        while url.hasSuffix("/") { url.removeLast() }
        return url
    }

    /// The environment variable the key is read from, if this provider takes one.
    public var resolvedAPIKeyVariable: String? {
        apiKeyVariable ?? provider.defaultAPIKeyVariable
    }

    /// Whether a call without a key is an error: cloud providers need one, except when the base URL
    /// points at this machine (a local gateway or Ollama's OpenAI-compatible `/v1`) and no
    /// per-model variable was named.
    public var requiresAPIKey: Bool {
        switch provider {
        case .ollama, .builtin: return apiKeyVariable != nil
        case .anthropic, .openai, .google, .xai:
            return apiKeyVariable != nil || !Self.isLoopback(resolvedBaseURL)
        }
    }

    static func isLoopback(_ url: String) -> Bool {
        guard let schemeEnd = url.range(of: "://") else { return false }
        var host = url[schemeEnd.upperBound...].prefix { $0 != "/" }
        if host.hasPrefix("[") { return host.hasPrefix("[::1]") }
        host = host.prefix { $0 != ":" }
        return host == "localhost" || host.hasPrefix("127.")
    }
}

/// Reads API keys from an injected environment. Errors name the variable, never the value.
public struct ProviderCredentials: Sendable {
    private let environment: [String: String]

    /// - Parameter environment: defaults to the process environment.
    public init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.environment = environment
    }

    /// The key for an endpoint, or `nil` when it takes none.
    /// - Throws: ``ProviderError`` of kind `.missingCredentials` naming the variable.
    public func apiKey(for endpoint: ModelEndpoint) throws -> String? {
        guard let variable = endpoint.resolvedAPIKeyVariable else { return nil }
        if let value = environment[variable]?.trimmingCharacters(in: .whitespacesAndNewlines), !value.isEmpty {
            return value
        }
        if endpoint.requiresAPIKey {
            throw ProviderError(
                kind: .missingCredentials, provider: endpoint.provider,
                message: "no API key for model '\(endpoint.name)': environment variable \(variable) is not set"
            )
        }
        return nil
    }
}

import FleetSupport
import Foundation
