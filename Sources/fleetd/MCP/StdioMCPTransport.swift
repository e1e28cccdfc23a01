import Foundation
import Logging
import MCP

/// `fleetd mcp`'s transport: the SDK's `StdioTransport` (one JSON-RPC message a line), with
/// the lines that are not a JSON-RPC message at all answered here, as JSON-RPC 2.0 asks: a line
/// that is not JSON gets a parse error (-32700), and JSON that is neither an object nor an array
/// gets an invalid request (-32600), both with `"id": null`. The SDK's server would answer both
/// with -32700 and a random id, which no client can match to anything. Every other line goes to
/// the server as it came.
///
/// When standard input ends (`printf '…' | fleetd mcp`, a client that closes its end once it has
/// asked), the requests already read are answered before the session ends: the end is passed to
/// the server once every request forwarded has had its answer sent (or was cancelled), within
/// `drainLimit`. SIGTERM and SIGINT still end the session at once.
actor StdioMCPTransport: Transport {
    nonisolated let logger: Logger
    private let lines: StdioTransport
    private let messages: AsyncThrowingStream<Data, any Error>
    private let messagesContinuation: AsyncThrowingStream<Data, any Error>.Continuation
    private var relay: Task<Void, Never>?
    /// The ids of the requests forwarded and not answered yet (their JSON text, so 7 and "7" differ).
    private var unanswered: Set<String> = []
    /// Whether standard input has ended; the server's stream ends once `unanswered` is empty.
    private var inputEnded = false
    private let drainLimit: Duration

    init(logger: Logger, drainLimit: Duration = .seconds(300)) {
        self.logger = logger
        self.drainLimit = drainLimit
        lines = StdioTransport(logger: logger)
        (messages, messagesContinuation) = AsyncThrowingStream<Data, any Error>.makeStream()
    }

    func connect() async throws {
        try await lines.connect()
        let incoming = await lines.receive()
        relay = Task { await self.forward(incoming) }
    }

    func disconnect() async {
        relay?.cancel()
        relay = nil
        await lines.disconnect()
        messagesContinuation.finish()
    }

    func send(_ data: Data) async throws {
        try await lines.send(data)
        guard !unanswered.isEmpty else { return }
        for id in Self.ids(in: data, requestsOnly: false) { unanswered.remove(id) }
        if inputEnded, unanswered.isEmpty { messagesContinuation.finish() }
    }

    func receive() -> AsyncThrowingStream<Data, any Error> { messages }

    /// Passes standard input's lines to the server, answering those that are no message.
    private func forward(_ incoming: AsyncThrowingStream<Data, any Error>) async {
        do {
            for try await line in incoming {
                guard let answer = Self.refusal(of: line) else {
                    noteRequests(in: line)
                    messagesContinuation.yield(line)
                    continue
                }
                logger.warning("MCP: a line on standard input is not a JSON-RPC message", metadata: ["bytes": "\(line.count)"])
                do {
                    try await lines.send(answer)
                } catch {
                    logger.error("MCP: could not answer on standard output", metadata: ["error": "\(error)"])
                }
            }
            await inputDidEnd()
        } catch {
            messagesContinuation.finish(throwing: error)
        }
    }

    /// Standard input ended: the server's stream ends now, or once the requests in flight are
    /// answered (at most `drainLimit` later).
    private func inputDidEnd() async {
        inputEnded = true
        guard !unanswered.isEmpty else { return messagesContinuation.finish() }
        logger.info("MCP: standard input ended; answering the requests in flight first", metadata: ["requests": "\(unanswered.count)"])
        let deadline = ContinuousClock.now + drainLimit
        while !unanswered.isEmpty, ContinuousClock.now < deadline, !Task.isCancelled {
            try? await Task.sleep(for: .milliseconds(50))
        }
        if !unanswered.isEmpty {
            logger.warning("MCP: requests still unanswered when the session ends", metadata: ["requests": "\(unanswered.count)"])
        }
        messagesContinuation.finish()
    }

    /// Keeps the ids of the requests in `line` (a message or a batch), and forgets one a
    /// `notifications/cancelled` names: the server answers no cancelled request.
    private func noteRequests(in line: Data) {
        for id in Self.ids(in: line, requestsOnly: true) { unanswered.insert(id) }
        guard let message = try? JSONSerialization.jsonObject(with: line) as? [String: Any],
              message["method"] as? String == "notifications/cancelled",
              let params = message["params"] as? [String: Any], let id = params["requestId"] else { return }
        if let text = Self.idText(id) { unanswered.remove(text) }
    }

    /// The ids in a message or a batch: of requests (they have a method) or of any message.
    static func ids(in data: Data, requestsOnly: Bool) -> [String] {
        guard let json = try? JSONSerialization.jsonObject(with: data) else { return [] }
        let messages = (json as? [[String: Any]]) ?? ((json as? [String: Any]).map { [$0] } ?? [])
        return messages.compactMap { message in
            guard !requestsOnly || message["method"] != nil, let id = message["id"] else { return nil }
            return idText(id)
        }
    }

    /// A JSON-RPC id as JSON text (`7`, `"7"`); `nil` for null or anything else.
    static func idText(_ id: Any) -> String? {
        if let text = id as? String { return "\"" + text + "\"" }
        if let number = id as? NSNumber { return number.stringValue }
        return nil
    }

    /// The JSON-RPC error response to `line` when it is not a JSON-RPC message (not JSON, or JSON
    /// that is neither an object nor a batch); `nil` when it is one for the server to read.
    static func refusal(of line: Data) -> Data? {
        let problem: MCPError
        if let json = try? JSONSerialization.jsonObject(with: line, options: [.fragmentsAllowed]) {
            if json is [String: Any] || json is [Any] { return nil }
            problem = .invalidRequest("a JSON-RPC message is an object, or an array of them (a batch)")
        } else {
            problem = .parseError("the line is not JSON")
        }
        let response: [String: Any] = [
            "jsonrpc": "2.0",
            "id": NSNull(),
            "error": ["code": problem.code, "message": problem.errorDescription ?? "Invalid JSON-RPC message"] as [String: Any],
        ]
        return try? JSONSerialization.data(withJSONObject: response)
    }
}
