import Agents
import FleetSupport
import Hummingbird
import NIOCore
import Synchronization

/// Tells a request that its client has gone, without taking over the connection.
///
/// An SSE task must stop its provider call (and free its cost reservation) when the client
/// leaves, even while nothing is being written. Hummingbird's `consumeWithCancellationOnInboundClose`
/// does that by reading the connection's inbound side itself, which costs the connection: it is
/// closed after every stream, and clients pay a new TCP connection per task. This handler sits in
/// the pipeline after HTTP decoding instead and watches for the end of input (the connection
/// allows half-closure) or the channel going inactive; requests on the connection register what
/// to do then.
final class ClientDisconnect: Sendable {
    private struct State {
        var gone = false
        var actions: [Int: @Sendable () -> Void] = [:]
        var nextToken = 0
    }

    private let state = Mutex(State())

    /// Runs `action` when the client goes (at once if it has). Returns a token for ``remove(_:)``.
    @discardableResult
    func onDisconnect(_ action: @escaping @Sendable () -> Void) -> Int {
        let token = state.withLock { state -> Int? in
            if state.gone { return nil }
            state.nextToken += 1
            state.actions[state.nextToken] = action
            return state.nextToken
        }
        guard let token else {
            action()
            return 0
        }
        return token
    }

    func remove(_ token: Int) {
        _ = state.withLock { $0.actions.removeValue(forKey: token) }
    }

    fileprivate func clientWent() {
        let actions = state.withLock { state -> [@Sendable () -> Void] in
            state.gone = true
            defer { state.actions.removeAll() }
            return Array(state.actions.values)
        }
        for action in actions { action() }
    }

    // MARK: One per connection

    private static let connections = Mutex<[ObjectIdentifier: ClientDisconnect]>([:])

    /// The watcher of `channel`'s connection, when the server pipeline has one.
    static func of(_ channel: any Channel) -> ClientDisconnect? {
        connections.withLock { $0[ObjectIdentifier(channel)] }
    }

    /// The channel handler that feeds the watcher; one per connection.
    final class Handler: ChannelInboundHandler, RemovableChannelHandler {
        typealias InboundIn = NIOAny
        private var watcher: ClientDisconnect?
        private var key: ObjectIdentifier?

        func handlerAdded(context: ChannelHandlerContext) {
            let watcher = ClientDisconnect()
            let key = ObjectIdentifier(context.channel)
            self.watcher = watcher
            self.key = key
            ClientDisconnect.connections.withLock { $0[key] = watcher }
        }

        func handlerRemoved(context: ChannelHandlerContext) {
            forget()
        }

        func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
            if let event = event as? ChannelEvent, event == .inputClosed { watcher?.clientWent() }
            context.fireUserInboundEventTriggered(event)
        }

        func channelInactive(context: ChannelHandlerContext) {
            watcher?.clientWent()
            forget()
            context.fireChannelInactive()
        }

        private func forget() {
            if let key { _ = ClientDisconnect.connections.withLock { $0.removeValue(forKey: key) } }
            key = nil
        }
    }
}

extension Optional where Wrapped == ClientDisconnect {
    /// Runs `body` with a signal the client's leaving cancels: a JSON request's task stops (its
    /// wait for an agent, or its provider call, which is billed for what the provider accepted)
    /// rather than running on, holding its agent, for a client that will never read the answer.
    func whileConnected<Value>(_ body: (CancellationSignal?) async throws(TaskFailure) -> Value) async throws(TaskFailure) -> Value {
        guard let disconnect = self else { return try await body(nil) }
        let cancellation = CancellationSignal()
        let token = disconnect.onDisconnect { cancellation.cancel() }
        defer { disconnect.remove(token) }
        return try await body(cancellation)
    }
}
