import AsyncHTTPClient
import Logging
import NIOCore
import NIOHTTP1
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
/// Backpressure as with the async API: AsyncHTTPClient reads the next piece of the body only once
/// the one before was taken by ``next()``, so at most one piece waits here and the socket is read
/// no faster than the consumer reads.
final class StreamedResponse: HTTPClientResponseDelegate, Sendable {
    typealias Response = Void

    private struct State {
        var head: HTTPResponseHead?
        var headWaiter: CheckedContinuation<HTTPResponseHead, any Error>?
        /// A piece of the body not yet taken, with the promise that lets AsyncHTTPClient read on
        /// (none once the call failed: AsyncHTTPClient waits for nothing then).
        var piece: (ByteBuffer, EventLoopPromise<Void>?)?
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

    /// The answer's head, once it arrived. Throws the call's failure, or `CancellationError`
    /// when the calling task or ``cancel()`` stopped it.
    func head() async throws -> HTTPResponseHead {
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<HTTPResponseHead, any Error>) in
                let ready: Result<HTTPResponseHead, any Error>? = state.withLock { state in
                    if let head = state.head { return .success(head) }
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

    /// The piece that is here (its promise fulfilled, so AsyncHTTPClient reads on), the end, or
    /// the failure; when none is, `waiter` is kept to be resumed with it and the result is `nil`.
    private func takeReady(waiter: CheckedContinuation<ByteBuffer?, any Error>?) -> Result<ByteBuffer?, any Error>? {
        let (ready, promise) = state.withLock { state -> (Result<ByteBuffer?, any Error>?, EventLoopPromise<Void>?) in
            if let (piece, promise) = state.piece {
                state.piece = nil
                return (.success(piece), promise)
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
        var headWaiter: CheckedContinuation<HTTPResponseHead, any Error>?
        var bodyWaiter: CheckedContinuation<ByteBuffer?, any Error>?
        var promise: EventLoopPromise<Void>?
        var timer: Scheduled<Void>?
    }

    /// Ends the answer with `error` (the first end wins) and wakes whoever waits for it. A call
    /// cancelled here drops the piece not yet read; a call that failed keeps it for the reader.
    private func fail(_ error: any Error, cancellingCall: Bool) {
        let wake = state.withLock { state -> Wakeups in
            guard !state.ended else { return Wakeups() }
            state.ended = true
            state.failure = error
            if cancellingCall, state.call == nil { state.cancelRequested = true }
            let promise = state.piece?.1
            if cancellingCall { state.piece = nil } else { state.piece?.1 = nil }
            defer {
                state.headWaiter = nil
                state.bodyWaiter = nil
                state.headTimer = nil
            }
            return Wakeups(call: cancellingCall ? state.call : nil, headWaiter: state.headWaiter, bodyWaiter: state.bodyWaiter,
                           promise: promise, timer: state.headTimer)
        }
        wake.timer?.cancel()
        // AsyncHTTPClient waits for a piece's promise before it reports the end; a promise left
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
        wake.headWaiter?.resume(returning: head)
        return task.eventLoop.makeSucceededVoidFuture()
    }

    func didReceiveBodyPart(task: HTTPClient.Task<Void>, _ buffer: ByteBuffer) -> EventLoopFuture<Void> {
        enum Then { case handed(CheckedContinuation<ByteBuffer?, any Error>), kept(EventLoopPromise<Void>), dropped }
        let then: Then = state.withLock { state in
            if state.ended { return .dropped }
            if let waiter = state.bodyWaiter {
                state.bodyWaiter = nil
                return .handed(waiter)
            }
            let promise = task.eventLoop.makePromise(of: Void.self)
            state.piece = (buffer, promise)
            return .kept(promise)
        }
        switch then {
        case .handed(let waiter):
            // The reader was waiting: it has this piece, and the next is read at once (at most
            // one more then waits here).
            waiter.resume(returning: buffer)
            return task.eventLoop.makeSucceededVoidFuture()
        case .kept(let promise):
            return promise.futureResult
        case .dropped:
            return task.eventLoop.makeSucceededVoidFuture()
        }
    }

    /// AsyncHTTPClient's failure: the piece already here is still read before it (the bytes a
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
