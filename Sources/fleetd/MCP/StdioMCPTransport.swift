import Foundation
import Logging
import MCP

/// `fleetd mcp`'s transport: the SDK's `StdioTransport` (one JSON-RPC message a line), with
/// the lines that are not a JSON-RPC message at all answered here, as JSON-RPC 2.0 asks: a line
/// that is not JSON gets a parse error (-32700), and JSON that is neither an object nor an array
/// gets an invalid request (-32600), both with `"id": null`. The SDK's server would answer both
/// with -32700 and a random id, which no client can match to anything. Every other line goes to
/// the server as it came.
actor StdioMCPTransport: Transport {
    nonisolated let logger: Logger
    private let lines: StdioTransport
    private let messages: AsyncThrowingStream<Data, any Error>
    private let messagesContinuation: AsyncThrowingStream<Data, any Error>.Continuation
    private var relay: Task<Void, Never>?

    init(logger: Logger) {
        self.logger = logger
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
    }

    func receive() -> AsyncThrowingStream<Data, any Error> { messages }

    /// Passes standard input's lines to the server, answering those that are no message.
    private func forward(_ incoming: AsyncThrowingStream<Data, any Error>) async {
        do {
            for try await line in incoming {
                guard let answer = Self.refusal(of: line) else {
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
            messagesContinuation.finish()
        } catch {
            messagesContinuation.finish(throwing: error)
        }
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
