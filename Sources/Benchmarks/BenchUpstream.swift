import FakeProvider
import Foundation
import Synchronization

/// The benchmarks' upstream: the tests' fake provider on loopback, answering at once in the wire
/// format of the path it is called on, so `config/fleet.yaml` as shipped can point every provider
/// at it (`ANTHROPIC_BASE_URL`, `OPENAI_BASE_URL`, `GOOGLE_GEMINI_BASE_URL`, `XAI_BASE_URL`):
/// Anthropic's `/v1/messages`, Gemini's `:generateContent` / `:streamGenerateContent` and Ollama's
/// `/api/chat` get their recorded transcripts (Tests/Fixtures/providers); anything else is
/// OpenAI's Chat Completions: model `fast-N` streams N chunks; model `hold` (or a prompt with
/// `HOLDME`) sends one chunk and then holds the stream open until ``release()``; any other model
/// gets 10 tokens, as one JSON body or, when the request asks for a stream, 10 chunks.
final class BenchUpstream: Sendable {
    let server: FakeProviderServer
    /// Set when it serves HTTPS (HTTP/2 by ALPN): clients must trust its CA.
    let tls: FakeTLS?
    private let gate: GateHolder

    /// The gate held streams wait on now; replaced by a closed one on each release.
    private final class GateHolder: Sendable {
        let current = Mutex(FakeGate())
    }

    private init(server: FakeProviderServer, tls: FakeTLS?, gate: GateHolder) {
        self.server = server
        self.tls = tls
        self.gate = gate
    }

    /// `tls`: serve HTTPS with HTTP/2, as the cloud providers do, instead of plain HTTP/1.1.
    static func start(tls: FakeTLS? = nil) async throws -> BenchUpstream {
        let gate = GateHolder()
        // Read once: the script runs per request.
        let anthropic = (stream: try FakeResponse.fixture("providers/anthropic-stream-sdkfixture-basic.sse"),
                         json: try FakeResponse.fixture("providers/anthropic-nonstream-docs-example.json"))
        let gemini = (stream: try FakeResponse.fixture("providers/gemini-stream-firebase-basic-short.sse"),
                      json: try FakeResponse.fixture("providers/gemini-nonstream-firebase-basic-short.json"))
        let ollama = (stream: try FakeResponse.fixture("providers/ollama-chat-stream-docs.ndjson"),
                      json: try FakeResponse.fixture("providers/ollama-chat-nonstream-docs.json"))
        let script = FakeScript { request, _ in
            let path = request.path
            let body = request.jsonBody ?? [:]
            let model = body["model"] as? String ?? ""
            let stream = body["stream"] as? Bool == true
            if path.hasSuffix("/v1/messages") { return stream ? anthropic.stream : anthropic.json }
            if path.hasSuffix(":streamGenerateContent") { return gemini.stream }
            if path.hasSuffix(":generateContent") { return gemini.json }
            if path.hasSuffix("/api/chat") { return stream ? ollama.stream : ollama.json }
            if model == "hold" || request.body.count < 4_096 && String(decoding: request.body, as: UTF8.self).contains("HOLDME") {
                return .openAIHeld(gate: gate.current.withLock { $0 })
            }
            if model.hasPrefix("fast-"), let chunks = Int(model.dropFirst(5)) { return .openAIText(stream: stream, chunks: chunks) }
            return .openAIText(stream: stream)
        }
        let server = try await FakeProviderServer.start(script: script, recordsRequests: false, tls: tls)
        return BenchUpstream(server: server, tls: tls, gate: gate)
    }

    var port: Int { server.port }
    /// The Chat Completions URL, for calling the upstream directly.
    var url: String { server.baseURL + "/v1/chat/completions" }

    /// Lets every held stream finish; streams started later hold again.
    func release() {
        gate.current.withLock { gate in
            gate.open()
            gate = FakeGate()
        }
    }

    func stop() async {
        release()
        await server.shutdown()
    }
}
