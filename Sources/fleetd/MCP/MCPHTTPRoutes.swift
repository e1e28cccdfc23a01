import Foundation
import HTTPTypes
import Hummingbird
import Logging
import MCP
import NIOCore
import ServiceLifecycle

/// Streamable HTTP at `/mcp` (POST, GET, DELETE), behind the same authentication as the other
/// routes. One MCP session per `initialize` (``StreamableHTTPSession``, `Mcp-Session-Id`), served by
/// a fresh ``FleetMCPServer`` as the caller who opened it; a request for a session from another
/// caller is refused. Sessions idle for an hour are closed.
struct MCPHTTPRoutes {
    let sessions: MCPSessions
    let maxBodyBytes: @Sendable () -> Int
    /// Counts each `tools/call` against the caller's key's `rpm` (the transport's own requests,
    /// initialize, notifications, the GET stream and DELETE, do not count: ``APIAuthMiddleware``).
    var requestCounter: KeyRequestCounter? = nil

    func register(_ router: some RouterMethods<FleetRequestContext>) {
        for method in [HTTPRequest.Method.post, .get, .delete] {
            router.on("mcp", method: method) { request, context -> Response in
                var request = request
                let body = method == .post ? try await request.collectBody(upTo: maxBodyBytes()) : nil
                if let requestCounter, let body {
                    let data = Data(body.readableBytesView)
                    do {
                        for _ in 0..<Self.toolCalls(in: data) { try await requestCounter.count(context.caller) }
                    } catch let error as APIError {
                        return MCPHTTPError(error, requestBody: data).response()
                    }
                }
                var headers: [String: String] = [:]
                for field in request.headers {
                    let name = field.name.canonicalName
                    headers[name] = headers[name].map { "\($0), \(field.value)" } ?? field.value
                }
                let mcpRequest = MCP.HTTPRequest(method: method.rawValue, headers: headers,
                                                 body: body.map { Data($0.readableBytesView) }, path: request.uri.path)
                let answer = await sessions.handle(mcpRequest, caller: context.caller)
                return Self.response(answer, endsOnShutdown: method == .get)
            }
        }
    }

    /// How many `tools/call` requests a POST body holds (a JSON-RPC batch may hold several).
    static func toolCalls(in body: Data) -> Int {
        guard let json = try? JSONSerialization.jsonObject(with: body) else { return 0 }
        let messages = (json as? [Any]) ?? [json]
        return messages.filter { ($0 as? [String: Any])?["method"] as? String == "tools/call" }.count
    }

    /// - Parameter endsOnShutdown: a GET stream (server messages not tied to a request) ends when
    ///   fleetd shuts down, rather than holding the drain open for `drainTimeoutSeconds`: fleetd
    ///   cannot tell a GET stream whose client is gone until a write fails, and it seldom writes.
    ///   A POST's stream is a request in flight and drains like one.
    private static func relay(_ chunks: some AsyncSequence<Data, any Error>, to writer: inout any ResponseBodyWriter) async throws {
        for try await chunk in chunks {
            try await writer.write(ByteBuffer(bytes: chunk))
        }
    }

    static func response(_ answer: MCP.HTTPResponse, endsOnShutdown: Bool = false) -> Response {
        var fields = HTTPFields()
        for (name, value) in answer.headers {
            if let field = HTTPField.Name(name) { fields[field] = value }
        }
        let status = HTTPResponse.Status(code: answer.statusCode)
        if case .stream(let stream, _) = answer {
            return Response(status: status, headers: fields, body: ResponseBody { writer in
                do {
                    if endsOnShutdown {
                        try await relay(stream.cancelOnGracefulShutdown(), to: &writer)
                    } else {
                        try await relay(stream, to: &writer)
                    }
                } catch {
                    // The session ended or the client left; the response ends here.
                }
                try await writer.finish(nil)
            })
        }
        let data = answer.bodyData ?? Data()
        return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}

/// The open MCP sessions of the HTTP endpoint.
actor MCPSessions {
    private struct Session {
        let server: Server
        let fleet: FleetMCPServer
        let transport: StreamableHTTPSession
        let owner: String
        var lastUsed: ContinuousClock.Instant
    }

    private var sessions: [String: Session] = [:]
    private let makeServer: @Sendable (Caller?) -> FleetMCPServer
    private let loopbackOnly: Bool
    private let logger: Logger
    static let idleLimit = Duration.seconds(3_600)

    /// - Parameter loopbackOnly: fleetd listens on a loopback address: a browser page from
    ///   another origin may not drive it (DNS-rebinding protection, as the MCP spec asks). On other
    ///   addresses callers authenticate.
    init(loopbackOnly: Bool, logger: Logger, makeServer: @escaping @Sendable (Caller?) -> FleetMCPServer) {
        self.makeServer = makeServer
        self.loopbackOnly = loopbackOnly
        self.logger = logger
    }

    /// Who a caller is, for matching a session to the caller that opened it.
    static func owner(_ caller: Caller?) -> String {
        guard let caller else { return "open" }
        return [caller.kind.rawValue, caller.tenantId ?? "", caller.userId ?? "", caller.keyId ?? ""].joined(separator: "|")
    }

    func handle(_ request: MCP.HTTPRequest, caller: Caller?) async -> MCP.HTTPResponse {
        closeIdleSessions()
        let method = request.method.uppercased()
        if loopbackOnly, let origin = request.header("Origin"), !Self.isLoopback(origin: origin) {
            return .error(statusCode: 403, .invalidRequest("Forbidden: origin \(origin) may not use this loopback MCP endpoint"))
        }
        if method == "POST", let type = request.header("Content-Type"), !type.lowercased().hasPrefix("application/json") {
            return .error(statusCode: 415, .invalidRequest("Unsupported Media Type: send application/json"))
        }
        guard let sessionID = request.header(HTTPHeaderName.sessionID) else {
            if method == "POST", Self.isInitialize(request.body) { return await open(request, caller: caller) }
            return .error(statusCode: 400, .invalidRequest("Bad Request: send initialize first, or the \(HTTPHeaderName.sessionID) header of an open session"))
        }
        guard var session = sessions[sessionID] else {
            return .error(statusCode: 404, .invalidRequest("Not Found: no MCP session with that id (it ended or expired); initialize a new one"))
        }
        guard session.owner == Self.owner(caller) else {
            return .error(statusCode: 403, .invalidRequest("Forbidden: this MCP session belongs to another caller"))
        }
        session.lastUsed = .now
        sessions[sessionID] = session
        switch method {
        case "POST":
            return await session.transport.post(request.body ?? Data())
        case "GET":
            return await session.transport.get()
        case "DELETE":
            sessions[sessionID] = nil
            await Self.end(session)
            logger.info("MCP session ended by its client", metadata: ["session": "\(sessionID)"])
            return .ok(headers: [:])
        default:
            return .error(statusCode: 405, .invalidRequest("Method Not Allowed"))
        }
    }

    private func open(_ request: MCP.HTTPRequest, caller: Caller?) async -> MCP.HTTPResponse {
        let id = UUID().uuidString.lowercased()
        let transport = StreamableHTTPSession(id: id, logger: logger)
        let fleet = makeServer(caller)
        let server = await fleet.makeServer()
        do {
            try await server.start(transport: transport)
        } catch {
            return .error(statusCode: 500, .internalError("the MCP session could not start: \(error)"))
        }
        sessions[id] = Session(server: server, fleet: fleet, transport: transport, owner: Self.owner(caller), lastUsed: .now)
        logger.info("MCP session opened", metadata: ["session": "\(id)"])
        return await transport.post(request.body ?? Data())
    }

    private func closeIdleSessions() {
        let now = ContinuousClock.now
        for (id, session) in sessions where now - session.lastUsed > Self.idleLimit {
            sessions[id] = nil
            Task { await Self.end(session) }
            logger.info("MCP session closed after an hour idle", metadata: ["session": "\(id)"])
        }
    }

    /// Ends a session: its running tool calls are cancelled (the SDK runs each request in a task
    /// that stopping the server does not reach), then the server and the transport stop.
    private static func end(_ session: Session) async {
        session.fleet.running.cancelAll()
        await session.server.stop()
        await session.transport.disconnect()
    }

    /// Whether a POST body is a JSON-RPC `initialize` request.
    static func isInitialize(_ body: Data?) -> Bool {
        guard let body, let object = try? JSONSerialization.jsonObject(with: body) as? [String: Any] else { return false }
        return object["method"] as? String == "initialize"
    }

    static func isLoopback(origin: String) -> Bool {
        guard let host = URL(string: origin)?.host else { return false }
        return ["localhost", "127.0.0.1", "::1", "[::1]"].contains(host.lowercased())
    }
}
