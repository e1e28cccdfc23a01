import Hummingbird
import NIOCore
import Streaming

/// fleetd's request context: Hummingbird's core storage plus the client's address (for rate limits).
struct FleetRequestContext: RequestContext, RemoteAddressRequestContext {
    var coreContext: CoreRequestContextStorage
    let remoteAddress: SocketAddress?
    /// The connection's event loop as a task executor (see ``EventLoopTaskExecutor``).
    let taskExecutor: EventLoopTaskExecutor

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
        taskExecutor = .of(source.channel.eventLoop)
    }
}
