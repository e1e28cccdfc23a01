import FleetSupport
import HummingbirdCore
import Logging
import NIOCore

/// Hummingbird's HTTP/1.1 connection handling, with each connection's task preferring its own
/// channel's event loop as its task executor (``EventLoopTaskExecutor``, SE-0417).
///
/// Why: Hummingbird starts a task per connection on Swift's global pool, and that task reads each
/// request's head and body from the channel and writes the response. The channel's reads and
/// writes happen on its event loop, so every request crossed between the loop's thread and a pool
/// thread several times, each crossing a wake-up (a futex or an eventfd, and a context switch).
/// With the preference the connection's task, the request's child task and the tasks they start
/// run on the loop that already holds the connection; only the first job of a connection starts on
/// the pool. Nothing here blocks a thread, and code that must not run on a loop (SQLite through
/// GRDB) has its own queue as before. Measured in docs/performance.md, "Tasks kept on their loop".
struct ConnectionLoopChannel<Inner: ServerChildChannel>: ServerChildChannel {
    typealias Value = Inner.Value
    let inner: Inner

    /// A connection's reads start with 1 KiB buffers instead of NIO's 2 KiB: the channel keeps
    /// its receive buffer for as long as it is open, an SSE stream's connection and an idle
    /// keep-alive one too, and most requests fit (a larger one grows the buffer within the same
    /// read; docs/performance.md, "Memory per open stream, again").
    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        try? channel.syncOptions?.setOption(ChannelOptions.recvAllocator,
                                            value: AdaptiveRecvByteBufferAllocator(minimum: 64, initial: 1_024, maximum: 65_536))
        return inner.setup(channel: channel, logger: logger)
    }

    func handle(value: Value, logger: Logger) async {
        await withTaskExecutorPreference(EventLoopTaskExecutor.of(value.channel.eventLoop)) {
            await inner.handle(value: value, logger: logger)
        }
    }
}

extension HTTPServerBuilder {
    /// `.http1(configuration:)`, each connection's task on its channel's event loop.
    static func http1OnConnectionLoops(configuration: HTTP1Channel.Configuration) -> HTTPServerBuilder {
        .init { responder in
            ConnectionLoopChannel(inner: HTTP1Channel(responder: responder, configuration: configuration))
        }
    }
}
