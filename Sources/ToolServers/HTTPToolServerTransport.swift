import AsyncHTTPClient
import FleetSupport
import Foundation
import Logging
import MCP
import NIOCore
import NIOHTTP1

/// The client side of MCP's Streamable HTTP transport, for agents' tool servers given by URL.
///
/// Written here rather than using the swift-sdk's `HTTPClientTransport` because on Linux that one
/// reads a POST's whole answer with `URLSession.data(for:)` and passes an SSE answer on as one raw
/// blob, which its client cannot decode: most servers (the Python SDK's by default) answer calls
/// with SSE. This one posts each message with AsyncHTTPClient and reads a JSON or SSE answer as it
/// comes, keeping the server's `Mcp-Session-Id` and, once `initialize` is answered, sending the
/// negotiated version as `MCP-Protocol-Version` on every later request (the spec's "Protocol
/// Version Header", 2025-06-18). It opens no standalone GET stream: fleetd needs only the answers
/// to its own requests.
///
/// A request whose caller gives up is not left holding its connection until the server answers:
/// the `notifications/cancelled` the client sends for it (a cancelled task, a tool call's
/// timeout) cancels its POST, which AsyncHTTPClient ends by closing the connection; so does
/// cancelling the task that sends it, and ``disconnect()``.
actor HTTPToolServerTransport: Transport {
    nonisolated let logger: Logger
    private let endpoint: URL
    private let headers: [String: String]
    private var sessionID: String?
    /// The protocol version in the server's answer to `initialize`; `nil` until then.
    private(set) var protocolVersion: String?
    private let messages: AsyncThrowingStream<Data, any Error>
    private let continuation: AsyncThrowingStream<Data, any Error>.Continuation
    /// The longest an answer may take; tool calls have their own, shorter timeout in fleetd.
    private let requestTimeout: TimeAmount = .seconds(600)
    /// The largest answer read (a tool's result is cut much smaller before the model sees it).
    private let maxAnswerBytes = 16 * 1024 * 1024
    /// The POSTs of requests still waiting for their answers, by JSON-RPC id.
    private var inFlight: [ID: Task<Void, any Error>] = [:]
    /// Ids cancelled before their request was sent (the SDK's client sends from a task of its own,
    /// so its `notifications/cancelled` may come first): such a request is not sent. The newest 64.
    private var cancelledBeforeSending: [ID] = []

    /// The client every request goes out on (fleetd's providers' first client, so the same CA
    /// certificates are trusted: `FLEETD_EXTRA_CA_CERTS`).
    private let httpClient: HTTPClient

    init(endpoint: URL, headers: [String: String], httpClient: HTTPClient = .shared, logger: Logger) {
        self.endpoint = endpoint
        self.headers = headers
        self.httpClient = httpClient
        self.logger = logger
        (messages, continuation) = AsyncThrowingStream<Data, any Error>.makeStream()
    }

    func connect() async throws {}

    func disconnect() async {
        continuation.finish()
        for request in inFlight.values { request.cancel() }
        inFlight = [:]
        guard sessionID != nil else { return }
        var request = HTTPClientRequest(url: endpoint.absoluteString)
        request.method = .DELETE
        addSessionHeaders(to: &request)
        sessionID = nil
        _ = try? await httpClient.execute(request, timeout: .seconds(5))
    }

    func send(_ data: Data) async throws {
        let message = try? JSONDecoder().decode(Envelope.self, from: data)
        if message?.method == CancelledNotification.name, let id = message?.params?.requestId {
            cancelInFlight(id)
        }
        guard let message, message.method != nil, let id = message.id else {
            try await post(data) // a notification, or the answer to a server's request
            return
        }
        if let index = cancelledBeforeSending.firstIndex(of: id) {
            cancelledBeforeSending.remove(at: index)
            throw CancellationError()
        }
        let request = Task { try await self.post(data) }
        inFlight[id] = request
        defer { inFlight[id] = nil }
        try await withTaskCancellationHandler {
            try await request.value
        } onCancel: {
            request.cancel()
        }
    }

    /// Cancels the POST of request `id`: cancelling the task that executes or reads it makes
    /// AsyncHTTPClient cancel the request and close its connection.
    private func cancelInFlight(_ id: ID) {
        if let request = inFlight.removeValue(forKey: id) {
            request.cancel()
        } else {
            cancelledBeforeSending.append(id)
            if cancelledBeforeSending.count > 64 { cancelledBeforeSending.removeFirst() }
        }
    }

    /// What ``send(_:)`` needs of a message: whether it is a request (a method and an id) and,
    /// for `notifications/cancelled`, the request it cancels.
    private struct Envelope: Decodable {
        struct Parameters: Decodable {
            var requestId: ID?
        }

        var method: String?
        var id: ID?
        var params: Parameters?
    }

    /// Posts one message and passes on the answer (JSON or SSE) as it comes.
    private func post(_ data: Data) async throws {
        var request = HTTPClientRequest(url: endpoint.absoluteString)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "Accept", value: "application/json, text/event-stream")
        let initializing = Self.isInitializeRequest(data)
        // A new `initialize` negotiates again: it carries no version, and the answer sets one.
        if initializing { protocolVersion = nil }
        addSessionHeaders(to: &request)
        request.body = .bytes(ByteBuffer(bytes: data))
        let response = try await httpClient.execute(request, timeout: requestTimeout)
        if let id = response.headers.first(name: "Mcp-Session-Id") { sessionID = id }
        if response.status.code == 404, sessionID != nil {
            // The server no longer knows the session (it restarted, or the session expired): per
            // the spec the client starts a new one with `initialize`; the connection does that.
            sessionID = nil
            throw MCPError.internalError(Self.sessionEnded)
        }
        guard (200..<300).contains(response.status.code) else {
            let body = try? await response.body.collect(upTo: 4_096)
            let text = body.map { String(buffer: $0) } ?? ""
            throw MCPError.internalError("the server answered \(response.status.code): \(text.prefix(300))")
        }
        if response.status.code == 202 { return } // a notification or response was accepted
        let type = response.headers.first(name: "Content-Type")?.lowercased() ?? ""
        if type.hasPrefix("text/event-stream") {
            var parser = SSEParser()
            var read = 0
            for try await buffer in response.body {
                read += buffer.readableBytes
                guard read <= maxAnswerBytes else { throw MCPError.internalError("the server's answer is over \(maxAnswerBytes) bytes") }
                for event in parser.parse(buffer) where event.type == "message" && !event.data.isEmpty {
                    deliver(Data(event.data.utf8), answeringInitialize: initializing)
                }
            }
        } else {
            let body = try await response.body.collect(upTo: maxAnswerBytes)
            if body.readableBytes > 0 { deliver(Data(body.readableBytesView), answeringInitialize: initializing) }
        }
    }

    /// The configured headers, the session's id and the negotiated protocol version, as far as
    /// they are known.
    private func addSessionHeaders(to request: inout HTTPClientRequest) {
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let sessionID { request.headers.add(name: "Mcp-Session-Id", value: sessionID) }
        if let protocolVersion { request.headers.add(name: "MCP-Protocol-Version", value: protocolVersion) }
    }

    /// Passes a message on to the client. The version is taken from the answer to `initialize`
    /// before the client sees it: the client sends `notifications/initialized` as soon as it
    /// does, and that request must carry the version already.
    private func deliver(_ message: Data, answeringInitialize: Bool) {
        if answeringInitialize, let version = Self.negotiatedVersion(in: message) { protocolVersion = version }
        continuation.yield(message)
    }

    /// Whether `data` is an `initialize` request.
    static func isInitializeRequest(_ data: Data) -> Bool {
        guard let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else { return false }
        return object["method"] as? String == "initialize"
    }

    /// The `protocolVersion` of a response's `result` (an answer to `initialize`), when it is a
    /// plain token fit for a header (a date such as `2025-06-18`).
    static func negotiatedVersion(in message: Data) -> String? {
        guard let object = (try? JSONSerialization.jsonObject(with: message)) as? [String: Any], object["method"] == nil,
              let version = (object["result"] as? [String: Any])?["protocolVersion"] as? String,
              (1...64).contains(version.count),
              version.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == ".") }) else { return nil }
        return version
    }

    nonisolated func receive() -> AsyncThrowingStream<Data, any Error> { messages }

    /// The error a request gets when the server answered 404 to the session it carried.
    static let sessionEnded = "the server ended the session (404): a new one starts with the next connection"
}
