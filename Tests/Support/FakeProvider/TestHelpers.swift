import AsyncHTTPClient
import FleetSupport
import Logging
import Providers
import Synchronization

/// A recognisable fake key: tests check it never leaks.
public let testKey = "sk-test-DO-NOT-LEAK-7f3a9c2e5b"

/// Collects every log line (message and metadata) at trace level.
public final class LogCapture: Sendable {
    public init() {}
    public let lines = Mutex<[String]>([])

    public var logger: Logger {
        Logger(label: "test") { _ in CapturingLogHandler(capture: self) }
    }

    public var all: [String] { lines.withLock { $0 } }
}

public struct CapturingLogHandler: LogHandler {
    public init(capture: LogCapture) { self.capture = capture }
    public let capture: LogCapture
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .trace

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        let merged = metadata.merging(event.metadata ?? [:]) { $1 }
        capture.lines.withLock { $0.append("\(event.level) \(event.message) \(merged)") }
    }
}

/// A factory whose environment holds `testKey` under every provider's default variable.
/// `httpClient`: fleetd's own (``ProviderClientFactory/makeHTTPClient(maxConnectionsPerHost:connectTimeout:)``)
/// reports a refused connection at once; the shared default re-dials until the head deadline.
public func makeFactory(logger: Logger = Logger(label: "test"), environment: [String: String]? = nil, headTimeout: Duration = .seconds(10),
                        answerTimeout: Duration? = nil, httpClient: HTTPClient = .shared) -> ProviderClientFactory {
    let env = environment ?? [
        "ANTHROPIC_API_KEY": testKey, "OPENAI_API_KEY": testKey, "GOOGLE_API_KEY": testKey, "XAI_API_KEY": testKey,
    ]
    return ProviderClientFactory(httpClient: httpClient, credentials: ProviderCredentials(environment: env), logger: logger, headTimeout: headTimeout,
                                 answerTimeout: answerTimeout ?? headTimeout)
}

public func endpoint(_ provider: ProviderKind, _ server: FakeProviderServer, model: String = "test-model", supportsStreaming: Bool = true) -> ModelEndpoint {
    endpoint(provider, baseURL: server.baseURL, model: model, supportsStreaming: supportsStreaming)
}

/// An endpoint at a port that refuses connections.
public func endpoint(_ provider: ProviderKind, _ refusing: RefusingPort, model: String = "test-model") -> ModelEndpoint {
    endpoint(provider, baseURL: refusing.baseURL, model: model, supportsStreaming: true)
}

private func endpoint(_ provider: ProviderKind, baseURL: String, model: String, supportsStreaming: Bool) -> ModelEndpoint {
    let base: String = switch provider {
    case .openai, .xai: baseURL + "/v1"
    default: baseURL
    }
    // A per-model variable makes the key required even on loopback.
    return ModelEndpoint(
        name: "\(provider.rawValue)-\(model)", provider: provider, model: model, baseURL: base,
        apiKeyVariable: provider.defaultAPIKeyVariable, supportsStreaming: supportsStreaming
    )
}

/// Everything a stream produced, assembled.
public struct Collected: Sendable {
    public init() {}
    public var text = ""
    public var usage: [TokenUsage] = []
    public var finish: [String] = []
    public var toolArguments: [Int: String] = [:]
    public var toolNames: [Int: String] = [:]
    public var invalid = 0
    /// The thinking pieces, in order.
    public var thinking: [ThinkingDelta] = []
}

public func collect(_ stream: ProviderEventStream) async throws -> Collected {
    var c = Collected()
    for try await event in stream {
        switch event {
        case .textDelta(let t): c.text += t
        case .usage(let u): c.usage.append(u)
        case .finish(let r): c.finish.append(r)
        case .toolCallDelta(let d):
            c.toolArguments[d.index, default: ""] += d.argumentsFragment
            if let name = d.name { c.toolNames[d.index] = name }
        case .invalidChunk: c.invalid += 1
        case .thinking(let delta): c.thinking.append(delta)
        }
    }
    return c
}

/// Runs `body` with a fake server playing `script`, then shuts it down.
public func withServer<T>(_ script: FakeScript, _ body: (FakeProviderServer) async throws -> T) async throws -> T {
    let server = try await FakeProviderServer.start(script: script)
    do {
        let value = try await body(server)
        await server.shutdown()
        return value
    } catch {
        await server.shutdown()
        throw error
    }
}
