import Testing
@testable import Streaming

private typealias Machine = BackpressureStateMachine<Int, String, String>

@Suite("Backpressure state machine")
struct BackpressureStateMachineTests {
    @Test func watermarksFromConfiguration() {
        let m = Machine(capacity: 1024, threshold: 0.8)
        #expect(m.highWatermark == 819)
        #expect(m.lowWatermark == 409)
        let tiny = Machine(capacity: 1, threshold: 0.1)
        #expect(tiny.highWatermark == 1)
        #expect(tiny.lowWatermark == 0)
        let full = Machine(capacity: 10, threshold: 1.0)
        #expect(full.highWatermark == 10)
    }

    @Test func producerSuspendsAtHighAndResumesAtLow() {
        var m = Machine(capacity: 10, threshold: 0.8) // high 8, low 4
        for i in 0..<7 {
            guard case .produceMore = m.send(i) else { Issue.record("expected produceMore at \(i)"); return }
        }
        guard case .suspendProducer = m.send(7) else { Issue.record("expected suspend at high watermark"); return }
        #expect(m.backpressureEvents == 1)
        guard case .wait = m.producerWillSuspend("P") else { Issue.record("expected wait"); return }
        // Draining to 5 keeps the producer waiting; the 4th pop reaches the low mark (4) and resumes it.
        for expected in 0..<3 {
            guard case .returnElement(let e, let p) = m.next() else { Issue.record("expected element"); return }
            #expect(e == expected)
            #expect(p == nil)
        }
        guard case .returnElement(3, let p) = m.next() else { Issue.record("expected element 3"); return }
        #expect(p == "P")
        #expect(m.count == 4)
        #expect(m.peakDepth == 8)
    }

    @Test func suspendDecisionSeesDrainInBetween() {
        var m = Machine(capacity: 4, threshold: 1.0) // high 4, low 2
        for i in 0..<3 { _ = m.send(i) }
        guard case .suspendProducer = m.send(3) else { Issue.record("expected suspend"); return }
        // The consumer drains before the producer registers: it must not wait.
        _ = m.next(); _ = m.next()
        guard case .resume("P", true) = m.producerWillSuspend("P") else { Issue.record("expected immediate resume"); return }
    }

    @Test func elementGoesStraightToWaitingConsumer() {
        var m = Machine(capacity: 4, threshold: 1.0)
        guard case .suspendConsumer = m.next() else { Issue.record("expected consumer suspend"); return }
        guard case .wait = m.consumerWillSuspend("C") else { Issue.record("expected wait"); return }
        guard case .resumeConsumer("C", 42) = m.send(42) else { Issue.record("expected handoff"); return }
        #expect(m.count == 0)
    }

    @Test func consumerSuspendDecisionSeesElementSentInBetween() {
        var m = Machine(capacity: 4, threshold: 1.0)
        guard case .suspendConsumer = m.next() else { Issue.record("expected suspend"); return }
        _ = m.send(5)
        guard case .resume("C", .success(5?), nil) = m.consumerWillSuspend("C") else { Issue.record("expected resume with 5"); return }
    }

    @Test func finishDeliversBufferedThenEnds() {
        struct Boom: Error {}
        var m = Machine(capacity: 4, threshold: 1.0)
        _ = m.send(1)
        guard case .none = m.finish(Boom()) else { Issue.record("no consumer waiting"); return }
        guard case .returnElement(1, _) = m.next() else { Issue.record("buffered first"); return }
        guard case .finish(let error) = m.next() else { Issue.record("then the end"); return }
        #expect(error is Boom)
        guard case .finish(nil) = m.next() else { Issue.record("error only once"); return }
        guard case .stop = m.send(2) else { Issue.record("no sends after finish"); return }
    }

    @Test func finishWakesWaitingConsumer() {
        var m = Machine(capacity: 4, threshold: 1.0)
        _ = m.consumerWillSuspend("C")
        guard case .resumeConsumer("C", nil) = m.finish(nil) else { Issue.record("expected wake"); return }
    }

    @Test func cancelDropsBufferAndWakesBoth() {
        var m = Machine(capacity: 2, threshold: 1.0)
        _ = m.send(1)
        _ = m.send(2)
        _ = m.producerWillSuspend("P")
        guard case .resume(producer: "P", consumer: nil) = m.cancel() else { Issue.record("expected producer wake"); return }
        #expect(m.count == 0)
        guard case .stop = m.send(3) else { Issue.record("expected stop"); return }
        guard case .resume(_, false) = m.producerWillSuspend("Q") else { Issue.record("expected stop resume"); return }
        guard case .finish(nil) = m.next() else { Issue.record("expected end"); return }
    }

    @Test func producerTaskCancellationWakesWithoutCancellingStream() {
        var m = Machine(capacity: 2, threshold: 1.0)
        _ = m.send(1)
        _ = m.send(2)
        _ = m.producerWillSuspend("P")
        #expect(m.producerTaskCancelled() == "P")
        guard case .returnElement(1, _) = m.next() else { Issue.record("stream still alive"); return }
        // Cancellation before registering: the next suspension resumes at once.
        var n = Machine(capacity: 2, threshold: 1.0)
        _ = n.send(1)
        _ = n.send(2)
        #expect(n.producerTaskCancelled() == nil)
        guard case .resume("P", true) = n.producerWillSuspend("P") else { Issue.record("expected immediate resume"); return }
    }

    @Test func neverHoldsMoreThanHighWatermarkWhenProducerObeys() {
        var m = Machine(capacity: 100, threshold: 0.5)
        var waiting = false
        var produced = 0
        var consumed = 0
        // Producer twice as fast as consumer.
        while consumed < 1000 {
            for _ in 0..<2 where !waiting {
                switch m.send(produced) {
                case .suspendProducer:
                    if case .wait = m.producerWillSuspend("P") { waiting = true }
                default: break
                }
                produced += 1
            }
            if case .returnElement(let e, let p) = m.next() {
                #expect(e == consumed)
                consumed += 1
                if p != nil { waiting = false }
            }
            #expect(m.count <= m.highWatermark)
        }
        #expect(m.peakDepth == 50)
        #expect(m.backpressureEvents > 1)
    }
}

@Suite("Backpressure buffer")
struct BackpressureBufferTests {
    @Test func producerWaitsForSlowConsumer() async throws {
        let buffer = BackpressureBuffer<Int>(capacity: 10, threshold: 0.8)
        let producer = Task {
            for i in 0..<100 { guard await buffer.send(i) else { return i } }
            buffer.finish()
            return 100
        }
        try await until { buffer.isProducerSuspended }
        #expect(buffer.count == 8) // stopped at the high watermark
        var received: [Int] = []
        for try await value in buffer { received.append(value) }
        #expect(received == Array(0..<100))
        #expect(await producer.value == 100)
        #expect(buffer.peakDepth == 8)
        #expect(buffer.backpressureEvents >= 1)
    }

    @Test func consumerCancellationStopsProducer() async throws {
        let buffer = BackpressureBuffer<Int>(capacity: 4, threshold: 1.0)
        let producer = Task {
            var i = 0
            while await buffer.send(i) { i += 1 }
            return i
        }
        try await until { buffer.isProducerSuspended }
        buffer.cancel()
        // Three sends returned at once; the fourth filled the buffer and waited until the cancel.
        let stoppedAt = await producer.value
        #expect(stoppedAt == 3)
        #expect(buffer.count == 0)
        #expect(await buffer.send(99) == false)
    }

    @Test func pollingTakesOnlyWhatIsBufferedAndWakesTheProducer() async throws {
        let buffer = BackpressureBuffer<Int>(capacity: 4, threshold: 1.0) // high 4, low 2
        #expect(buffer.nextIfBuffered() == nil)
        let producer = Task {
            for i in 0..<6 { _ = await buffer.send(i) }
            buffer.finish()
        }
        try await until { buffer.isProducerSuspended }
        #expect(buffer.count == 4)
        // The producer waits at the high watermark; polling down to the low one wakes it.
        #expect(buffer.nextIfBuffered() == 0)
        #expect(buffer.nextIfBuffered() == 1)
        var rest: [Int] = []
        let deadline = ContinuousClock.now + .seconds(10)
        while rest.count < 4, ContinuousClock.now < deadline {
            if let value = buffer.nextIfBuffered() { rest.append(value) } else { await Task.yield() }
        }
        await producer.value
        #expect(rest == [2, 3, 4, 5])
        // The end is not an element: polling says nothing is there, next() says it is over.
        #expect(buffer.nextIfBuffered() == nil)
        #expect(try await buffer.next() == nil)
    }
}

/// Waits until `condition` holds, yielding between checks; fails the test after `limit`.
/// The condition is a state the code under test reaches by itself (a producer suspended at the
/// high watermark), so the wait ends on that signal, not on a guessed delay.
func until(_ limit: Duration = .seconds(10), _ condition: () -> Bool) async throws {
    let deadline = ContinuousClock.now + limit
    while !condition() {
        guard ContinuousClock.now < deadline else {
            Issue.record("condition not reached within \(limit)")
            throw CancellationError()
        }
        await Task.yield()
    }
}
