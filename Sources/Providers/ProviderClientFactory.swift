import AsyncHTTPClient
import FleetSupport
import Logging
import NIOCore
import NIOSSL

/// Builds the right ``ProviderClient`` for a model endpoint, with its key read from the
/// injected environment.
public struct ProviderClientFactory: Sendable {
    /// The clients provider calls go out on (``ProviderHTTPClients``).
    public let httpClients: ProviderHTTPClients
    /// The first of them, for calls that are not a provider's (Streamable HTTP tool servers, budget alert webhooks).
    public var httpClient: HTTPClient { httpClients.primary }
    public let credentials: ProviderCredentials
    public let logger: Logger
    /// Time allowed until a stream's response head arrives (the body is timed by ``StreamingTool``).
    public let headTimeout: Duration
    /// Time allowed for a non-streamed answer, whose head comes only once the whole answer is
    /// generated: a long one takes minutes. The caller's own deadline (``StreamingTool``'s, the
    /// task's time limit) normally ends the call first; this only bounds a caller without one.
    public let answerTimeout: Duration
    public let wallClock: any WallClock

    /// One client for every call (no extra lanes: AsyncHTTPClient's own pooling).
    public init(
        httpClient: HTTPClient = .shared, credentials: ProviderCredentials = ProviderCredentials(),
        logger: Logger = Logger(label: "fleetd.provider"), headTimeout: Duration = .seconds(60),
        answerTimeout: Duration = .seconds(1_800), wallClock: any WallClock = SystemWallClock()
    ) {
        self.init(httpClients: ProviderHTTPClients(primary: httpClient), credentials: credentials, logger: logger,
                  headTimeout: headTimeout, answerTimeout: answerTimeout, wallClock: wallClock)
    }

    public init(
        httpClients: ProviderHTTPClients, credentials: ProviderCredentials = ProviderCredentials(),
        logger: Logger = Logger(label: "fleetd.provider"), headTimeout: Duration = .seconds(60),
        answerTimeout: Duration = .seconds(1_800), wallClock: any WallClock = SystemWallClock()
    ) {
        self.httpClients = httpClients
        self.credentials = credentials
        self.logger = logger
        self.headTimeout = headTimeout
        self.answerTimeout = max(headTimeout, answerTimeout)
        self.wallClock = wallClock
    }

    /// An HTTP client for provider traffic. AsyncHTTPClient's default pool allows 8 HTTP/1.1
    /// connections per host, which would queue concurrent streams to one plain-HTTP host (Ollama, a
    /// gateway); this one allows `maxConnectionsPerHost`. Each open stream to such a host holds one
    /// connection, so the default is as many as fleetd can hold streams (an HTTPS provider speaking
    /// HTTP/2 carries many streams per connection). With 1,024, the 1,025th concurrent stream to
    /// one host waited for a connection and failed (`getConnectionFromPoolTimeout`), found by
    /// `fleetd-bench serve --streams 9000`. `trust`: the CA certificates HTTPS connections accept
    /// (the system's, plus `FLEETD_EXTRA_CA_CERTS`'). The caller owns it: `try await client.shutdown()`.
    public static func makeHTTPClient(maxConnectionsPerHost: Int = 65_536, connectTimeout: Duration = .seconds(10),
                                      trust: ProviderTrust = .system) -> HTTPClient {
        var configuration = HTTPClient.Configuration()
        if !trust.extraCertificates.isEmpty {
            // Added to the system's roots, not instead of them. AsyncHTTPClient still sets ALPN
            // (h2, then http/1.1) on this configuration itself.
            var tls = TLSConfiguration.makeClientConfiguration()
            tls.additionalTrustRoots = [.certificates(trust.extraCertificates)]
            configuration.tlsConfiguration = tls
        }
        configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = max(1, maxConnectionsPerHost)
        configuration.timeout.connect = TimeAmount(max(.milliseconds(1), connectTimeout))
        // A refused or failed connection fails the attempt at once: StreamingTool retries with
        // backoff and falls back to the next model itself. AsyncHTTPClient's own re-dialling would
        // hide a provider that is down until the request deadline (60 s).
        configuration.connectionPool.retryConnectionEstablishment = false
        // fleetd bootstraps no distributed-tracing backend, so AsyncHTTPClient's default (the
        // global no-op tracer) opened a span per call for nothing, parsing each URL again with
        // Foundation to label it: about 1% of fleetd's CPU in a `perf` profile under load.
        configuration.tracing.tracer = nil
        // No redirects: AsyncHTTPClient strips only `Authorization` and `Cookie` when a redirect
        // changes host, so Anthropic's `x-api-key` and Gemini's `x-goog-api-key` (and, on 307/308,
        // the request body) would go to wherever a base URL or a gateway redirects. A redirect is
        // the provider's answer, reported as an error naming the status.
        configuration.redirectConfiguration = .disallow
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    /// The clients `serve` and `mcp` call providers with: ``makeHTTPClient(maxConnectionsPerHost:connectTimeout:trust:)``
    /// first, and another like it for each further HTTP/2 connection a host needs.
    public static func makeHTTPClients(trust: ProviderTrust = .system) -> ProviderHTTPClients {
        ProviderHTTPClients(primary: makeHTTPClient(trust: trust)) { makeHTTPClient(trust: trust) }
    }

    /// A client for the endpoint.
    /// - Throws: ``ProviderError`` `.missingCredentials` naming the variable when a needed key is not set.
    public func makeClient(for endpoint: ModelEndpoint) throws -> any ProviderClient {
        if endpoint.provider == .builtin { return BuiltinProvider() }
        let secret = try credentials.apiKey(for: endpoint)
        var logger = logger
        logger[metadataKey: "model"] = "\(endpoint.name)"
        let http = ProviderHTTP(
            clients: httpClients, provider: endpoint.provider, secret: secret, logger: logger,
            headTimeout: TimeAmount(headTimeout), answerTimeout: TimeAmount(answerTimeout), wallClock: wallClock
        )
        switch endpoint.provider {
        case .anthropic: return AnthropicClient(endpoint: endpoint, http: http)
        case .openai, .xai: return OpenAIChatClient(endpoint: endpoint, http: http)
        case .google: return GeminiClient(endpoint: endpoint, http: http)
        case .ollama: return OllamaChatClient(endpoint: endpoint, http: http)
        case .builtin: return BuiltinProvider()
        }
    }
}
