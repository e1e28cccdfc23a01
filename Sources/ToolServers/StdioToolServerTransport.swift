import Foundation
import Logging
import MCP
import SystemPackage

/// The SDK's `StdioTransport` on a tool server's pipes, except that the end of the server's
/// output is told to fleetd (``onOutputEnded``) instead of ending the stream the client reads.
///
/// The SDK's `Client` reads its transport in a `repeat { for try await … } while true` loop that
/// asks for the stream again once it ends. A stream that has ended (the server died, or closed its
/// output and stayed) ends again at once, so that loop spins on an event-loop thread until the
/// client disconnects, and the timers that would end the call (its tool timeout, the task's) are
/// starved on that thread: a server that closed its output held fleetd at 100% CPU with the task
/// far past both timeouts. Here the stream the client reads ends only with ``disconnect()``, which
/// the connection calls when told the output ended, failing the calls in flight at once.
actor StdioToolServerTransport: Transport {
    nonisolated let logger: Logger
    private let lines: StdioTransport
    private let messages: AsyncThrowingStream<Data, any Error>
    private let continuation: AsyncThrowingStream<Data, any Error>.Continuation
    private var relay: Task<Void, Never>?
    /// Told why the server's output ended (once, unless ``disconnect()`` came first).
    private let onOutputEnded: @Sendable (String) async -> Void

    /// - Parameters:
    ///   - input: the read end of the server's standard output.
    ///   - output: the write end of its standard input.
    init(input: FileDescriptor, output: FileDescriptor, logger: Logger, onOutputEnded: @escaping @Sendable (String) async -> Void) {
        self.logger = logger
        self.onOutputEnded = onOutputEnded
        lines = StdioTransport(input: input, output: output, logger: logger)
        (messages, continuation) = AsyncThrowingStream<Data, any Error>.makeStream()
    }

    func connect() async throws {
        try await lines.connect()
        let incoming = await lines.receive()
        relay = Task { [continuation, onOutputEnded] in
            var reason = "its output ended"
            do {
                for try await line in incoming { continuation.yield(line) }
            } catch {
                reason = "its output could not be read: \(error)"
            }
            guard !Task.isCancelled else { return }
            // In a task of its own: the connection's answer is to disconnect, which cancels this one.
            Task { await onOutputEnded(reason) }
        }
    }

    func disconnect() async {
        relay?.cancel()
        relay = nil
        await lines.disconnect()
        continuation.finish()
    }

    func send(_ data: Data) async throws {
        try await lines.send(data)
    }

    func receive() -> AsyncThrowingStream<Data, any Error> { messages }
}
