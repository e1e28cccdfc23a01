import DequeModule

/// The rules of the bounded buffer between a producer (the upstream reader) and a consumer,
/// as a pure value: every method returns what to do, and the caller does it (outside any lock).
///
/// The producer may add elements until the buffer holds `highWatermark` of them; then it must
/// suspend, and it is resumed only when the consumer has drained the buffer to `lowWatermark`.
/// The buffer therefore never holds more than `highWatermark` elements (≤ `capacity`).
///
/// Generic over the tokens that stand for a suspended producer and consumer (continuations in
/// ``BackpressureBuffer``, plain values in tests).
struct BackpressureStateMachine<Element, Producer, Consumer> {
    let capacity: Int
    let highWatermark: Int
    let lowWatermark: Int

    private(set) var buffer = Deque<Element>()
    private var producer: Producer?
    /// Whether the producer is suspended, waiting for the consumer to drain to the low watermark.
    public var isProducerSuspended: Bool { producer != nil }
    private var consumer: Consumer?
    private var finished = false
    private var failure: (any Error)?
    private var cancelled = false
    private var producerCancelPending = false
    /// How many times the producer had to stop for the consumer.
    private(set) var backpressureEvents = 0
    /// The most elements ever held at once.
    private(set) var peakDepth = 0

    /// - Parameters:
    ///   - capacity: the most elements the buffer may hold (`streaming.bufferSize`).
    ///   - threshold: the fraction of `capacity` at which the producer stops (`backpressureThreshold`).
    ///   - lowFraction: where the producer resumes, as a fraction of the high watermark.
    init(capacity: Int, threshold: Double, lowFraction: Double = 0.5) {
        self.capacity = max(1, capacity)
        let high = min(self.capacity, max(1, Int((Double(self.capacity) * threshold).rounded(.down))))
        self.highWatermark = high
        self.lowWatermark = min(high - 1, max(0, Int((Double(high) * lowFraction).rounded(.down))))
    }

    var count: Int { buffer.count }

    enum SendAction {
        /// Hand the element straight to the waiting consumer; the producer goes on.
        case resumeConsumer(Consumer, Element)
        /// Stored; the producer goes on.
        case produceMore
        /// Stored; the producer must suspend (call ``producerWillSuspend(_:)``).
        case suspendProducer
        /// The consumer is gone or the stream finished: the element is dropped and the producer should stop.
        case stop
    }

    mutating func send(_ element: Element) -> SendAction {
        if cancelled || finished { return .stop }
        if let consumer {
            self.consumer = nil
            return .resumeConsumer(consumer, element)
        }
        buffer.append(element)
        peakDepth = max(peakDepth, buffer.count)
        if buffer.count >= highWatermark {
            backpressureEvents += 1
            return .suspendProducer
        }
        return .produceMore
    }

    enum ProducerSuspendAction {
        /// Keep the producer suspended until a later action resumes it.
        case wait
        /// Do not wait: resume the producer now (`true` = it may produce more, `false` = stop).
        case resume(Producer, Bool)
    }

    /// The producer is about to suspend with this token.
    mutating func producerWillSuspend(_ token: Producer) -> ProducerSuspendAction {
        if cancelled || finished { return .resume(token, false) }
        if buffer.count <= lowWatermark { return .resume(token, true) }
        if producerCancelPending {
            producerCancelPending = false
            return .resume(token, true)
        }
        producer = token
        return .wait
    }

    /// The producer's task was cancelled while it waits (or is about to wait): wake it without
    /// cancelling the stream (the element it sent stays buffered; it decides what to do next).
    mutating func producerTaskCancelled() -> Producer? {
        if let producer {
            self.producer = nil
            return producer
        }
        producerCancelPending = true
        return nil
    }

    enum NextAction {
        /// Return this element; if a producer is given, resume it (it may produce more).
        case returnElement(Element, resumeProducer: Producer?)
        /// The stream is over: return nil, or throw the error.
        case finish((any Error)?)
        /// Nothing yet: the consumer must suspend (call ``consumerWillSuspend(_:)``).
        case suspendConsumer
    }

    mutating func next() -> NextAction {
        if let element = buffer.popFirst() {
            var resume: Producer?
            if buffer.count <= lowWatermark, let producer {
                self.producer = nil
                resume = producer
            }
            return .returnElement(element, resumeProducer: resume)
        }
        if cancelled || finished {
            let error = failure
            failure = nil
            return .finish(error)
        }
        return .suspendConsumer
    }

    enum ConsumerSuspendAction {
        case wait
        /// Resume the consumer now with this outcome (an element, the end, or an error).
        case resume(Consumer, Result<Element?, any Error>, resumeProducer: Producer?)
    }

    mutating func consumerWillSuspend(_ token: Consumer) -> ConsumerSuspendAction {
        switch next() {
        case .returnElement(let element, let producer):
            return .resume(token, .success(element), resumeProducer: producer)
        case .finish(let error):
            return .resume(token, error.map { .failure($0) } ?? .success(nil), resumeProducer: nil)
        case .suspendConsumer:
            consumer = token
            return .wait
        }
    }

    enum FinishAction {
        case none
        /// Wake the waiting consumer with the end (or the error).
        case resumeConsumer(Consumer, (any Error)?)
    }

    /// The producer has no more elements (or failed). Buffered elements are still delivered first.
    mutating func finish(_ error: (any Error)?) -> FinishAction {
        if finished || cancelled { return .none }
        finished = true
        if let consumer {
            self.consumer = nil
            return .resumeConsumer(consumer, error)
        }
        failure = error
        return .none
    }

    enum CancelAction {
        case none
        /// Wake whoever waits: the producer to stop, the consumer with the end.
        case resume(producer: Producer?, consumer: Consumer?)
    }

    /// The consumer is gone: drop everything and stop the producer.
    mutating func cancel() -> CancelAction {
        if cancelled { return .none }
        cancelled = true
        buffer.removeAll()
        failure = nil
        let action = CancelAction.resume(producer: producer, consumer: consumer)
        producer = nil
        consumer = nil
        return action
    }
}
