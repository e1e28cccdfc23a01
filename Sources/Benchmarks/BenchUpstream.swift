import FakeProvider
import Foundation
import Synchronization

/// The benchmarks' upstream: the tests' fake provider on loopback, answering as OpenAI's Chat
/// Completions does, at once. Model `fast-N` streams N chunks; model `hold` sends one chunk and
/// then holds the stream open until ``release()``; any other model gets 10 tokens, as one JSON
/// body or, when the request asks for a stream, 10 chunks.
final class BenchUpstream: Sendable {
    let server: FakeProviderServer
    private let gate: GateHolder

    /// The gate held streams wait on now; replaced by a closed one on each release.
    private final class GateHolder: Sendable {
        let current = Mutex(FakeGate())
    }

    private init(server: FakeProviderServer, gate: GateHolder) {
        self.server = server
        self.gate = gate
    }

    static func start() async throws -> BenchUpstream {
        let gate = GateHolder()
        let script = FakeScript { request, _ in
            let body = request.jsonBody ?? [:]
            let model = body["model"] as? String ?? ""
            let stream = body["stream"] as? Bool == true
            if model == "hold" { return .openAIHeld(gate: gate.current.withLock { $0 }) }
            if model.hasPrefix("fast-"), let chunks = Int(model.dropFirst(5)) { return .openAIText(stream: stream, chunks: chunks) }
            return .openAIText(stream: stream)
        }
        let server = try await FakeProviderServer.start(script: script, recordsRequests: false)
        return BenchUpstream(server: server, gate: gate)
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
