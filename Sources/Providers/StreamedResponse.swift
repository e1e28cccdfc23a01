import AsyncHTTPClient
import Logging
import NIOCore
import NIOHTTP1
import DequeModule
import Synchronization

/// A provider's streamed answer, read as it arrives through AsyncHTTPClient's delegate API.
///
/// Why not the async API (`execute(_:timeout:)` and its `HTTPClientResponse.Body`): that API
/// starts a Swift task of its own for every request (its cancel handler's registration, on
/// Swift's global pool, waking a thread there), and its body can be stopped only by cancelling
/// the task that reads it. Here the call can be stopped from anywhere with ``cancel()``: a stream
/// watchdog's deadline stops the call in the producer's own task, where the async API needed a
/// task per attempt only to have one to cancel (docs/performance.md, "One task less per stream").
///
/// Backpressure as with the async API: the pieces of the body AsyncHTTPClient has read wait here
/// until ``next()`` takes them, and once ``highWater`` bytes wait it reads no more until the
/// reader has taken them down to ``lowWater``: the socket is read no faster than the consumer
/// reads, and what waits stays bounded. (Holding AsyncHTTPClient back at every piece instead made
/// each piece cost two thread wake-ups: the reader's, then the connection's loop's.)
final class StreamedResponse: HTTPClientResponseDelegate, Sendable {
    typealias Response = Void

    /// AsyncHTTPClient reads no more once this many bytes of the body wait to be taken.
    static let highWater = 64 << 10
    /// ... and reads on once the reader took them down to this many.
    static let lowWater = 16 << 10

    private struct State {
        var head: HTTPResponseHead?
        var headWaiter: CheckedContinuation<Void, any Error>?
        /// Pieces of the body not yet taken, and their size.
        var pieces = Deque<ByteBuffer>()
        var waitingBytes = 0
        /// The promise AsyncHTTPClient waits on before it reads on, while ``highWater`` bytes wait.
        var demand: EventLoopPromise<Void>?
        var bodyWaiter: CheckedContinuation<ByteBuffer?, any Error>?
        var ended = false
        var failure: (any Error)?
        var call: HTTPClient.Task<Void>?
        var cancelRequested = false
        var headTimer: Scheduled<Void>?
    }

    private let state = Mutex(State())

    /// Sends `request` on `client`; the answer's head is then awaited with ``head()``. The call
    /// fails with `HTTPClientError.deadlineExceeded` when no head arrived within `headTimeout`
    /// (the body itself has no deadline here: the stream's watchdog times it).
    static func send(_ request: HTTPClient.Request, on client: HTTPClient, headTimeout: TimeAmount, logger: Logger) -> StreamedResponse {
        let response = StreamedResponse()
        let call = client.execute(request: request, delegate: response, eventLoop: .indifferent, logger: logger)
        let timer = call.eventLoop.scheduleTask(in: headTimeout) { [weak response] () -> Void in
            response?.headTimedOut()
        }
        let (cancelNow, headIn) = response.state.withLock { state in
            state.call = call
            let headIn = state.head != nil || state.ended
            if !headIn { state.headTimer = timer }
            return (state.cancelRequested, headIn)
        }
        // The head came before the timer was kept: didReceiveHead could not stop it.
        if headIn { timer.cancel() }
        if cancelNow { call.cancel() }
        return response
    }

    /// Returns once the answer's head arrived (``receivedHead`` then has it). Throws the call's
    /// failure, or `CancellationError` when the calling task or ``cancel()`` stopped it.
    ///
    /// Nothing is returned through the wait: a head (about 60 bytes) took a slot in each of the
    /// three frames that await it, on the chain a stream's producer keeps (docs/performance.md,
    /// "Memory per open stream").
    func waitForHead() async throws {
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let ready: Result<Void, any Error>? = state.withLock { state in
                    if state.head != nil { return .success(()) }
                    if let failure = state.failure { return .failure(failure) }
                    state.headWaiter = continuation
                    return nil
                }
                if let ready { continuation.resume(with: ready) }
            }
        } onCancel: {
            cancel()
        }
    }

    /// The answer's head, once ``waitForHead()`` returned.
    var receivedHead: HTTPResponseHead? {
        state.withLock { $0.head }
    }

    /// The next piece of the body; `nil` at its end. Throws the call's failure, or
    /// `CancellationError` when the calling task or ``cancel()`` stopped it.
    func next() async throws -> ByteBuffer? {
        if let ready = takeReady(waiter: nil) { return try ready.get() }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<ByteBuffer?, any Error>) in
                if let ready = takeReady(waiter: continuation) { continuation.resume(with: ready) }
            }
        } onCancel: {
            cancel()
        }
    }

    /// The first piece that waits (letting AsyncHTTPClient read on when few bytes are left), the
    /// end, or the failure; when none is, `waiter` is kept to be resumed with it and the result is `nil`.
    private func takeReady(waiter: CheckedContinuation<ByteBuffer?, any Error>?) -> Result<ByteBuffer?, any Error>? {
        let (ready, promise) = state.withLock { state -> (Result<ByteBuffer?, any Error>?, EventLoopPromise<Void>?) in
            if let piece = state.pieces.popFirst() {
                state.waitingBytes -= piece.readableBytes
                guard state.waitingBytes <= Self.lowWater, let demand = state.demand else { return (.success(piece), nil) }
                state.demand = nil
                return (.success(piece), demand)
            }
            if let failure = state.failure { return (.failure(failure), nil) }
            if state.ended { return (.success(nil), nil) }
            state.bodyWaiter = waiter
            return (nil, nil)
        }
        promise?.succeed()
        return ready
    }

    /// Stops the call: a waiting ``head()`` or ``next()`` throws `CancellationError` now, and
    /// AsyncHTTPClient closes the request. Harmless once the answer has ended.
    func cancel() {
        fail(CancellationError(), cancellingCall: true)
    }

    private func headTimedOut() {
        let pending = state.withLock { $0.head == nil && !$0.ended }
        if pending { fail(HTTPClientError.deadlineExceeded, cancellingCall: true) }
    }

    /// Who is woken when the answer ends with a failure.
    private struct Wakeups {
        var call: HTTPClient.Task<Void>?
        var headWaiter: CheckedContinuation<Void, any Error>?
        var bodyWaiter: CheckedContinuation<ByteBuffer?, any Error>?
        var promise: EventLoopPromise<Void>?
        var timer: Scheduled<Void>?
    }

    /// Ends the answer with `error` (the first end wins) and wakes whoever waits for it. A call
    /// cancelled here drops the pieces not yet read; a call that failed keeps them for the reader.
    private func fail(_ error: any Error, cancellingCall: Bool) {
        let wake = state.withLock { state -> Wakeups in
            guard !state.ended else { return Wakeups() }
            state.ended = true
            state.failure = error
            if cancellingCall, state.call == nil { state.cancelRequested = true }
            let promise = state.demand
            state.demand = nil
            if cancellingCall {
                state.pieces.removeAll()
                state.waitingBytes = 0
            }
            defer {
                state.headWaiter = nil
                state.bodyWaiter = nil
                state.headTimer = nil
            }
            return Wakeups(call: cancellingCall ? state.call : nil, headWaiter: state.headWaiter, bodyWaiter: state.bodyWaiter,
                           promise: promise, timer: state.headTimer)
        }
        wake.timer?.cancel()
        // AsyncHTTPClient may wait on the promise before it reports the end; a promise left
        // unfulfilled would also trip NIO's leak check.
        wake.promise?.succeed()
        wake.headWaiter?.resume(throwing: error)
        wake.bodyWaiter?.resume(throwing: error)
        wake.call?.cancel()
    }

    // MARK: HTTPClientResponseDelegate (called on the call's event loop)

    func didReceiveHead(task: HTTPClient.Task<Void>, _ head: HTTPResponseHead) -> EventLoopFuture<Void> {
        let wake = state.withLock { state -> Wakeups in
            guard !state.ended else { return Wakeups() }
            state.head = head
            defer {
                state.headWaiter = nil
                state.headTimer = nil
            }
            return Wakeups(headWaiter: state.headWaiter, timer: state.headTimer)
        }
        wake.timer?.cancel()
        wake.headWaiter?.resume()
        return task.eventLoop.makeSucceededVoidFuture()
    }

    func didReceiveBodyPart(task: HTTPClient.Task<Void>, _ buffer: ByteBuffer) -> EventLoopFuture<Void> {
        enum Then { case handed(CheckedContinuation<ByteBuffer?, any Error>), kept, full(EventLoopPromise<Void>) }
        let then: Then = state.withLock { state in
            if state.ended { return .kept } // cancelled: dropped
            if let waiter = state.bodyWaiter {
                state.bodyWaiter = nil
                return .handed(waiter)
            }
            state.pieces.append(buffer)
            state.waitingBytes += buffer.readableBytes
            guard state.waitingBytes >= Self.highWater else { return .kept }
            let promise = task.eventLoop.makePromise(of: Void.self)
            state.demand = promise
            return .full(promise)
        }
        switch then {
        case .handed(let waiter):
            waiter.resume(returning: buffer)
            return task.eventLoop.makeSucceededVoidFuture()
        case .kept:
            return task.eventLoop.makeSucceededVoidFuture()
        case .full(let promise):
            return promise.futureResult
        }
    }

    /// AsyncHTTPClient's failure: the pieces already here are still read before it (the bytes a
    /// connection carried before it was cut are part of the answer).
    func didReceiveError(task: HTTPClient.Task<Void>, _ error: any Error) {
        fail(error, cancellingCall: false)
    }

    func didFinishRequest(task: HTTPClient.Task<Void>) throws {
        let waiter = state.withLock { state -> CheckedContinuation<ByteBuffer?, any Error>? in
            guard !state.ended else { return nil }
            state.ended = true
            defer { state.bodyWaiter = nil }
            return state.bodyWaiter
        }
        waiter?.resume(returning: nil)
    }
}

/// The reading side of a ``StreamedResponse``, held by whoever reads its body. Dropped before the
/// body's end, it stops the call: AsyncHTTPClient holds the response (its delegate) until the
/// call ends, and would otherwise wait for a reader that is gone, keeping the connection.
final class StreamedBody: Sendable {
    let response: StreamedResponse

    init(_ response: StreamedResponse) {
        self.response = response
    }

    /// The next piece of the body; `nil` at its end.
    func next() async throws -> ByteBuffer? {
        try await response.next()
    }

    deinit {
        response.cancel()
    }
}
