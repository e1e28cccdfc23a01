import AsyncHTTPClient
import FakeProvider
import Logging
import Synchronization
@testable import Streaming

/// A recognisable fake key: tests check it never leaks.
let testKey = "sk-test-DO-NOT-LEAK-7f3a9c2e5b"

/// Collects every log line (message and metadata) at trace level.
final class LogCapture: Sendable {
    let lines = Mutex<[String]>([])

    var logger: Logger {
        Logger(label: "test") { _ in CapturingLogHandler(capture: self) }
    }

    var all: [String] { lines.withLock { $0 } }
}

struct CapturingLogHandler: LogHandler {
    let capture: LogCapture
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let merged = metadata.merging(event.metadata ?? [:]) { $1 }
        capture.lines.withLock { $0.append("\(event.level) \(event.message) \(merged)") }
    }
}

/// A factory whose environment holds `testKey` under every provider's default variable.
func makeFactory(logger: Logger = Logger(label: "test"), environment: [String: String]? = nil, headTimeout: Duration = .seconds(10)) -> ProviderClientFactory {
    let env = environment ?? [
        "ANTHROPIC_API_KEY": testKey, "OPENAI_API_KEY": testKey, "GOOGLE_API_KEY": testKey, "XAI_API_KEY": testKey,
    ]
    return ProviderClientFactory(credentials: ProviderCredentials(environment: env), logger: logger, headTimeout: headTimeout)
}

func endpoint(_ provider: ProviderKind, _ server: FakeProviderServer, model: String = "test-model", supportsStreaming: Bool = true) -> ModelEndpoint {
    let base: String = switch provider {
    case .openai, .xai: server.baseURL + "/v1"
    default: server.baseURL
    }
    // A per-model variable makes the key required even on loopback.
    return ModelEndpoint(
        name: "\(provider.rawValue)-\(model)", provider: provider, model: model, baseURL: base,
        apiKeyVariable: provider.defaultAPIKeyVariable, supportsStreaming: supportsStreaming
    )
}

/// Everything a stream produced, assembled.
struct Collected {
    var text = ""
    var usage: [TokenUsage] = []
    var finish: [String] = []
    var toolArguments: [Int: String] = [:]
    var toolNames: [Int: String] = [:]
    var invalid = 0
}

func collect(_ stream: ProviderEventStream) async throws -> Collected {
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
        }
    }
    return c
}

/// Runs `body` with a fake server playing `script`, then shuts it down.
func withServer<T>(_ script: FakeScript, _ body: (FakeProviderServer) async throws -> T) async throws -> T {
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
