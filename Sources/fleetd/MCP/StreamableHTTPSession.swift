import Foundation
import Logging
import MCP

/// One Streamable HTTP session: the server side of MCP's Streamable HTTP transport, as an MCP
/// `Transport` the swift-sdk's `Server` runs on.
///
/// Written here rather than using the swift-sdk's `StatefulHTTPServerTransport` because that one
/// sends every server notification on the session's GET stream: a `run_task` call's progress
/// then races its result (which comes on the POST's stream), so a client can get the answer
/// before most of its progress, or lose progress sent before it opened the GET stream. Here a
/// request's progress notifications and its response go, in order, on the stream of the POST
/// that carried the request (the spec's "related to the request" routing); other server
/// messages go on the GET stream when one is open.
actor StreamableHTTPSession: Transport {
    nonisolated let logger: Logger
    nonisolated let id: String
    private let incoming: AsyncThrowingStream<Data, any Error>
    private let incomingContinuation: AsyncThrowingStream<Data, any Error>.Continuation
    /// Open POST streams by JSON-RPC request id (as JSON text, so 1 and "1" differ).
    private var requests: [String: AsyncThrowingStream<Data, any Error>.Continuation] = [:]
    /// Which request a progress token belongs to.
    private var progressTokens: [String: String] = [:]
    private var standalone: AsyncThrowingStream<Data, any Error>.Continuation?
    private var standaloneGeneration = 0
    private(set) var closed = false

    init(id: String, logger: Logger) {
        self.id = id
        self.logger = logger
        (incoming, incomingContinuation) = AsyncThrowingStream<Data, any Error>.makeStream()
    }

    // MARK: Transport

    func connect() async throws {}

    func disconnect() async {
        closed = true
        incomingContinuation.finish()
        for stream in requests.values { stream.finish() }
        requests = [:]
        standalone?.finish()
        standalone = nil
    }

    func receive() -> AsyncThrowingStream<Data, any Error> { incoming }

    /// A message from the server: a response ends its request's stream; a progress
    /// notification goes on its request's stream; anything else on the GET stream, if open.
    func send(_ data: Data) async throws {
        guard let message = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return }
        let event = Self.event(data)
        if message["method"] == nil, let id = message["id"] {
            let key = Self.key(id)
            requests.removeValue(forKey: key).map { stream in
                stream.yield(event)
                stream.finish()
            }
            progressTokens = progressTokens.filter { $0.value != key }
            return
        }
        if message["method"] as? String == "notifications/progress",
           let token = (message["params"] as? [String: Any])?["progressToken"],
           let request = progressTokens[Self.key(token)], let stream = requests[request] {
            stream.yield(event)
            return
        }
        standalone?.yield(event)
    }

    // MARK: HTTP

    /// A POST's JSON-RPC message. A request gets an SSE stream that ends with its response; a
    /// notification or a response gets 202. A cancelled request's stream ends at once (it will
    /// get no response).
    func post(_ body: Data) -> MCP.HTTPResponse {
        guard !closed else { return .error(statusCode: 404, .invalidRequest("Not Found: the MCP session has ended")) }
        guard let message = try? JSONSerialization.jsonObject(with: body) as? [String: Any] else {
            return .error(statusCode: 400, .parseError("the body is not one JSON-RPC message"), sessionID: id)
        }
        if message["method"] as? String == "notifications/cancelled",
           let request = (message["params"] as? [String: Any])?["requestId"] {
            let key = Self.key(request)
            requests.removeValue(forKey: key)?.finish()
            progressTokens = progressTokens.filter { $0.value != key }
        }
        guard message["method"] != nil, let requestID = message["id"] else {
            incomingContinuation.yield(body)
            return .accepted(headers: [HTTPHeaderName.sessionID: id])
        }
        let key = Self.key(requestID)
        let (stream, continuation) = AsyncThrowingStream<Data, any Error>.makeStream()
        requests[key] = continuation
        if let meta = (message["params"] as? [String: Any])?["_meta"] as? [String: Any], let token = meta["progressToken"] {
            progressTokens[Self.key(token)] = key
        }
        continuation.onTermination = { [weak self] _ in
            Task { await self?.forget(key) }
        }
        incomingContinuation.yield(body)
        return .stream(stream, headers: Self.streamHeaders(session: id))
    }

    /// The standalone GET stream for server messages not tied to a request (one at a time). A
    /// new GET takes over from the one before, which ends: a client reconnects its GET after a
    /// proxy's idle timeout, and the old stream, dead or not, is not noticed until a write fails.
    func get() -> MCP.HTTPResponse {
        guard !closed else { return .error(statusCode: 404, .invalidRequest("Not Found: the MCP session has ended")) }
        standalone?.finish()
        let (stream, continuation) = AsyncThrowingStream<Data, any Error>.makeStream()
        standalone = continuation
        standaloneGeneration += 1
        let generation = standaloneGeneration
        continuation.onTermination = { [weak self] _ in
            Task { await self?.dropStandalone(generation) }
        }
        return .stream(stream, headers: Self.streamHeaders(session: id))
    }

    private func forget(_ key: String) {
        requests[key] = nil
        progressTokens = progressTokens.filter { $0.value != key }
    }

    /// The GET stream `generation` ended; a later one that took over stays.
    private func dropStandalone(_ generation: Int) {
        if generation == standaloneGeneration { standalone = nil }
    }

    static func streamHeaders(session: String) -> [String: String] {
        ["Content-Type": "text/event-stream", "Cache-Control": "no-cache", HTTPHeaderName.sessionID: session]
    }

    static func event(_ data: Data) -> Data {
        var event = Data("event: message\ndata: ".utf8)
        event.append(data)
        event.append(contentsOf: Array("\n\n".utf8))
        return event
    }

    /// A JSON-RPC id or progress token as a key: its JSON text.
    static func key(_ value: Any) -> String {
        if let string = value as? String { return "\"\(string)\"" }
        return "\(value)"
    }
}
