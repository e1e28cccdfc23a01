import Synchronization

/// A bounded buffer with high/low watermarks between one producer task and one consumer.
///
/// The producer awaits ``send(_:)``: it returns at once while the buffer is below the high
/// watermark, and suspends at it until the consumer has drained the buffer to the low watermark.
/// A producer that reads a socket only when `send` returns therefore stops reading the socket
/// (real TCP backpressure) and memory stays bounded however slow the consumer.
///
/// The consumer iterates it as an `AsyncSequence` (once). Cancelling the consumer's task, or
/// calling ``cancel()``, drops the buffer and makes the producer's `send` return `false`.
public final class BackpressureBuffer<Element: Sendable>: AsyncSequence, Sendable {
    typealias Machine = BackpressureStateMachine<Element, CheckedContinuation<Bool, Never>, CheckedContinuation<Element?, any Error>>

    private let state: Mutex<Machine>

    /// - Parameters:
    ///   - capacity: the most elements held (`streaming.bufferSize`).
    ///   - threshold: the producer stops at `threshold × capacity` (`streaming.backpressureThreshold`).
    ///   - lowFraction: the producer resumes at `lowFraction ×` the high watermark.
    public init(capacity: Int, threshold: Double, lowFraction: Double = 0.5) {
        state = Mutex(Machine(capacity: capacity, threshold: threshold, lowFraction: lowFraction))
    }

    /// The producer stops at this many buffered elements.
    public var highWatermark: Int { state.withLock { $0.highWatermark } }
    /// The producer resumes at this many buffered elements.
    public var lowWatermark: Int { state.withLock { $0.lowWatermark } }
    /// Elements buffered now.
    public var count: Int { state.withLock { $0.count } }
    /// How many times the producer had to stop and wait for the consumer.
    public var backpressureEvents: Int { state.withLock { $0.backpressureEvents } }
    /// The most elements ever buffered at once.
    public var peakDepth: Int { state.withLock { $0.peakDepth } }
    /// Whether the producer is suspended at the high watermark, waiting for the consumer.
    public var isProducerSuspended: Bool { state.withLock { $0.isProducerSuspended } }

    /// Adds an element, suspending while the buffer is full.
    /// - Returns: `false` when the consumer is gone (stop producing; the element was dropped).
    ///   If the producer's task is cancelled while it waits, it returns `true` at once (the element
    ///   stays buffered) and the producer should check `Task.isCancelled`.
    @discardableResult
    public func send(_ element: Element) async -> Bool {
        let action = state.withLock { $0.send(element) }
        switch action {
        case .resumeConsumer(let consumer, let element):
            consumer.resume(returning: element)
            return true
        case .produceMore:
            return true
        case .stop:
            return false
        case .suspendProducer:
            return await withTaskCancellationHandler {
                await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
                    let decision = state.withLock { $0.producerWillSuspend(continuation) }
                    if case .resume(let producer, let more) = decision { producer.resume(returning: more) }
                }
            } onCancel: {
                // The producer's task was cancelled: wake it, but keep the stream for the consumer.
                state.withLock { $0.producerTaskCancelled() }?.resume(returning: true)
            }
        }
    }

    /// The producer is done; `error` (if any) is thrown to the consumer after the buffered elements.
    public func finish(throwing error: (any Error)? = nil) {
        let action = state.withLock { $0.finish(error) }
        if case .resumeConsumer(let consumer, let error) = action {
            if let error { consumer.resume(throwing: error) } else { consumer.resume(returning: nil) }
        }
    }

    /// Drops the buffer and stops the producer (its pending and future `send`s return `false`).
    public func cancel() {
        let action = state.withLock { $0.cancel() }
        if case .resume(let producer, let consumer) = action {
            producer?.resume(returning: false)
            consumer?.resume(returning: nil)
        }
    }

    /// The next element; `nil` at the end. Throws the producer's error, if it finished with one.
    public func next() async throws -> Element? {
        let action = state.withLock { $0.next() }
        switch action {
        case .returnElement(let element, let producer):
            producer?.resume(returning: true)
            return element
        case .finish(let error):
            if let error { throw error }
            return nil
        case .suspendConsumer:
            return try await withTaskCancellationHandler {
                try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Element?, any Error>) in
                    let decision = state.withLock { $0.consumerWillSuspend(continuation) }
                    if case .resume(let consumer, let result, let producer) = decision {
                        producer?.resume(returning: true)
                        consumer.resume(with: result)
                    }
                }
            } onCancel: {
                cancel()
            }
        }
    }

    /// The next element if one is buffered now, without waiting; `nil` when none is (the end of
    /// the stream is left for ``next()``). Lets a consumer gather what is ready into one write.
    public func nextIfBuffered() -> Element? {
        let action: Machine.NextAction? = state.withLock { $0.count > 0 ? $0.next() : nil }
        guard case .returnElement(let element, let producer)? = action else { return nil }
        producer?.resume(returning: true)
        return element
    }

    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(buffer: self)
    }

    /// Iterates the buffer's elements.
    public struct AsyncIterator: AsyncIteratorProtocol {
        let buffer: BackpressureBuffer

        public mutating func next() async throws -> Element? {
            try await buffer.next()
        }
    }
}
