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

    /// A connection keeps one receive buffer, of at most 4 KiB, started at 1 KiB. NIO keeps a
    /// pool of up to `maxMessagesPerRead` (4) buffers per channel, each up to 64 KiB, for as long
    /// as the channel is open: an SSE stream's connection and an idle keep-alive one kept what
    /// reading its request had needed, and a 5.5 KB chat request left 9 KB of buffers beside its
    /// stream (a short one 1 KiB). So a read event reads once (the loop comes back at once while
    /// more is waiting) and a read takes at most 4 KiB; most requests fit the first read
    /// (docs/performance.md, "Memory per open stream, a third time").
    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        try? channel.syncOptions?.setOption(ChannelOptions.maxMessagesPerRead, value: 1)
        try? channel.syncOptions?.setOption(ChannelOptions.recvAllocator,
                                            value: AdaptiveRecvByteBufferAllocator(minimum: 64, initial: 1_024, maximum: 4_096))
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
