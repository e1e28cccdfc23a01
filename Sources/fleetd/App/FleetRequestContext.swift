import FleetSupport
import Hummingbird
import NIOCore

/// fleetd's request context: Hummingbird's core storage plus the peer's and the client's address
/// (for rate limits and logs; set by ``ClientAddressMiddleware``) and the authenticated caller
/// (set by ``APIAuthMiddleware``).
struct FleetRequestContext: RequestContext, ClientAddressRequestContext, AuthenticatedRequestContext {
    var coreContext: CoreRequestContextStorage
    let remoteAddress: SocketAddress?
    var clientAddress: String?
    /// The connection's event loop as a task executor (see ``EventLoopTaskExecutor``).
    let taskExecutor: EventLoopTaskExecutor
    /// Says when the client has gone (see ``ClientDisconnect``); nil outside fleetd's server.
    let disconnect: ClientDisconnect?
    var caller: Caller?

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
        taskExecutor = .of(source.channel.eventLoop)
        disconnect = ClientDisconnect.of(source.channel)
    }
}
