import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// A local HTTP/1.1 server on 127.0.0.1 that plays scripted provider answers byte for byte,
/// injects faults, records the requests it got and counts how far its writes got.
///
/// ```swift
/// let server = try await FakeProviderServer.start(script: .always(.fixture("providers/x.sse")))
/// // … point a client at server.baseURL …
/// await server.shutdown()
/// ```
public final class FakeProviderServer: Sendable {
    /// `http://127.0.0.1:<port>`.
    public let baseURL: String
    public let port: Int
    private let serverChannel: any Channel
    let state: Mutex<State>
    let script: FakeScript

    struct State {
        var requests: [RecordedRequest] = []
        var bytesWritten = 0
        var bytesQueued = 0
        var children: [ObjectIdentifier: any Channel] = [:]
        var writers: [Task<Void, Never>] = []
        var connectionsAccepted = 0
    }

    private init(channel: any Channel, script: FakeScript) throws {
        guard let port = channel.localAddress?.port else { throw FakeProviderError.noPort }
        self.serverChannel = channel
        self.port = port
        self.baseURL = "http://127.0.0.1:\(port)"
        self.script = script
        self.state = Mutex(State())
    }

    /// Starts a server on a free loopback port.
    public static func start(script: FakeScript) async throws -> FakeProviderServer {
        let holder = ServerHolder()
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { child in
                child.eventLoop.makeCompletedFuture {
                    try child.pipeline.syncOperations.addHandler(ByteToMessageHandler(HTTPRequestDecoder()))
                    try child.pipeline.syncOperations.addHandler(FakeConnectionHandler(server: holder))
                }
            }
            .bind(host: "127.0.0.1", port: 0)
            .get()
        let server = try FakeProviderServer(channel: channel, script: script)
        holder.set(server)
        return server
    }

    /// Every request received so far, in order.
    public var requests: [RecordedRequest] { state.withLock { $0.requests } }

    /// Bytes whose write completed (handed to the kernel). Plateaus when the client stops reading.
    public var bytesWritten: Int { state.withLock { $0.bytesWritten } }

    /// Bytes handed to NIO for writing (written or still queued).
    public var bytesQueued: Int { state.withLock { $0.bytesQueued } }

    /// Connections accepted so far.
    public var connectionsAccepted: Int { state.withLock { $0.connectionsAccepted } }

    /// Connections currently open.
    public var openConnections: Int { state.withLock { $0.children.count } }

    /// Stops writing, closes every connection and the listening socket.
    public func shutdown() async {
        let (children, writers) = state.withLock { ($0.children.values.map { $0 }, $0.writers) }
        for writer in writers { writer.cancel() }
        for child in children { try? await child.close() }
        try? await serverChannel.close()
        for writer in writers { await writer.value }
    }
}

/// Errors of the fake itself.
public enum FakeProviderError: Error {
    case noPort
}

/// Lets the child initializer reach the server created after bind.
final class ServerHolder: Sendable {
    private let server = Mutex<FakeProviderServer?>(nil)
    func set(_ value: FakeProviderServer) { server.withLock { $0 = value } }
    var value: FakeProviderServer? { server.withLock { $0 } }
}
