import NIOCore
import NIOHTTP1
import NIOHTTP2
import NIOPosix
import NIOSSL
import Synchronization

/// A local HTTP/1.1 server on 127.0.0.1 that plays scripted provider answers byte for byte,
/// injects faults, records the requests it got and counts how far its writes got. With `tls` it
/// serves HTTPS instead, HTTP/2 to a client that offers it (as the cloud providers do) and
/// HTTP/1.1 to one that does not.
///
/// ```swift
/// let server = try await FakeProviderServer.start(script: .always(.fixture("providers/x.sse")))
/// // … point a client at server.baseURL …
/// await server.shutdown()
/// ```
public final class FakeProviderServer: Sendable {
    /// `http://127.0.0.1:<port>`, or `https://` with `tls`.
    public let baseURL: String
    public let port: Int
    private let serverChannel: any Channel
    let state: Mutex<State>
    let script: FakeScript
    /// Whether ``requests`` keeps every request (off for benchmarks: it would grow without bound).
    let recordsRequests: Bool

    struct State {
        var requests: [RecordedRequest] = []
        var bytesWritten = 0
        var bytesQueued = 0
        var children: [ObjectIdentifier: any Channel] = [:]
        /// Connections (by their channel) on which a request began to arrive.
        var carried: Set<ObjectIdentifier> = []
        /// Writers still playing an answer, by id; each removes itself when done.
        var writers: [Int: Task<Void, Never>] = [:]
        var nextWriter = 0
        var requestCount = 0
        var connectionsAccepted = 0
        var openStreams = 0
    }

    private init(channel: any Channel, script: FakeScript, recordsRequests: Bool, secure: Bool) throws {
        guard let port = channel.localAddress?.port else { throw FakeProviderError.noPort }
        self.serverChannel = channel
        self.port = port
        self.baseURL = "\(secure ? "https" : "http")://127.0.0.1:\(port)"
        self.script = script
        self.recordsRequests = recordsRequests
        self.state = Mutex(State())
    }

    /// Starts a server on a free loopback port. `recordsRequests: false` keeps only a count (for
    /// benchmarks, which send more requests than are worth keeping). `tls`: serve HTTPS with its
    /// certificate (HTTP/2 or HTTP/1.1 by ALPN); a client must trust ``FakeTLS/caPEM``.
    public static func start(script: FakeScript, recordsRequests: Bool = true, tls: FakeTLS? = nil) async throws -> FakeProviderServer {
        let holder = ServerHolder()
        let context = try tls.map { try NIOSSLContext(configuration: $0.serverConfiguration()) }
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 4_096)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { child in
                let http1: @Sendable (any Channel) -> EventLoopFuture<Void> = { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(HTTPRequestDecoder()))
                        try channel.pipeline.syncOperations.addHandler(FakeConnectionHandler(server: holder))
                    }
                }
                let tracked = child.eventLoop.makeCompletedFuture {
                    try child.pipeline.syncOperations.addHandler(FakeConnectionTracker(server: holder))
                }
                guard let context else { return tracked.flatMap { http1(child) } }
                return tracked.flatMapThrowing {
                    try child.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: context))
                }.flatMap {
                    child.configureHTTP2SecureUpgrade(
                        h2ChannelConfigurator: { connection in
                            connection.configureHTTP2Pipeline(mode: .server) { stream in
                                stream.eventLoop.makeCompletedFuture {
                                    try stream.pipeline.syncOperations.addHandler(HTTP2FramePayloadToHTTP1ServerCodec())
                                    try stream.pipeline.syncOperations.addHandler(FakeConnectionHandler(server: holder, framing: .http2))
                                }
                            }.map { _ in }
                        },
                        http1ChannelConfigurator: http1
                    )
                }
            }
            .bind(host: "127.0.0.1", port: 0)
            .get()
        let server = try FakeProviderServer(channel: channel, script: script, recordsRequests: recordsRequests, secure: tls != nil)
        holder.set(server)
        return server
    }

    /// Every request received so far, in order.
    public var requests: [RecordedRequest] { state.withLock { $0.requests } }

    /// How many requests arrived, recorded or not.
    public var requestCount: Int { state.withLock { $0.requestCount } }

    /// Bytes whose write completed (handed to the kernel). Plateaus when the client stops reading.
    public var bytesWritten: Int { state.withLock { $0.bytesWritten } }

    /// Bytes handed to NIO for writing (written or still queued).
    public var bytesQueued: Int { state.withLock { $0.bytesQueued } }

    /// Connections accepted so far.
    public var connectionsAccepted: Int { state.withLock { $0.connectionsAccepted } }

    /// Connections currently open (TCP connections: an HTTP/2 connection's streams are not counted).
    public var openConnections: Int { state.withLock { $0.children.count } }

    /// Connections still open that carried a request, or began to: an open one that did not is an
    /// idle keep-alive connection in the client's pool, such as AsyncHTTPClient keeps when a call
    /// is cancelled while its connection is still being made. The count a test of a cancelled
    /// call wants at zero (HTTP/1.1; an HTTP/2 connection is counted once any stream began on it).
    public var openConnectionsThatCarriedARequest: Int {
        state.withLock { state in state.children.keys.filter { state.carried.contains($0) }.count }
    }

    /// HTTP/2 streams currently open, over all connections (HTTPS mode).
    public var openHTTP2Streams: Int { state.withLock { $0.openStreams } }

    /// Stops writing, closes every connection and the listening socket.
    public func shutdown() async {
        let (children, writers) = state.withLock { ($0.children.values.map { $0 }, Array($0.writers.values)) }
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
