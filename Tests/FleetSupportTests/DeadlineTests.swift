import FleetSupport
import Foundation
import Synchronization
import Testing

/// `withDeadline` returns at its deadline even when the body ignores cancellation (as a
/// PostgresNIO query to a silent server does), and otherwise gives the body's own result.
@Suite struct DeadlineTests {
    struct Late: Error {}
    struct Failed: Error {}

    /// A wait that ends only when released: cancellation does not end it.
    final class Gate: Sendable {
        private let waiter = Mutex<CheckedContinuation<Void, Never>?>(nil)
        private let opened = Mutex(false)

        func wait() async {
            await withCheckedContinuation { continuation in
                let open = opened.withLock { $0 }
                if open { continuation.resume() } else { waiter.withLock { $0 = continuation } }
            }
        }

        func open() {
            opened.withLock { $0 = true }
            waiter.withLock { let w = $0; $0 = nil; return w }?.resume()
        }
    }

    @Test("a body that ignores cancellation: the deadline's error at the deadline, and the body is cancelled")
    func deadlineHoldsForABodyThatIgnoresCancellation() async throws {
        let gate = Gate()
        let sawCancel = Mutex(false)
        let started = ContinuousClock.now
        await #expect(throws: Late.self) {
            try await withDeadline(.milliseconds(200), timedOut: { Late() }) {
                await gate.wait()
                sawCancel.withLock { $0 = Task.isCancelled }
                return 1
            }
        }
        // Returned while the body still waits at its gate (opened only now): the deadline did not
        // wait for it. No upper bound on the time: the whole suite shares two cores.
        #expect(ContinuousClock.now - started >= .milliseconds(200))
        gate.open()
        // The abandoned body runs on to its end by itself, cancelled.
        for _ in 0..<1_000 where !sawCancel.withLock({ $0 }) { try await Task.sleep(for: .milliseconds(10)) }
        #expect(sawCancel.withLock { $0 })
    }

    @Test("a body that ends first gives its value or its error, and the deadline's closure is not called, then or later")
    func bodyFirst() async throws {
        let calledLate = Mutex(false)
        let value = try await withDeadline(.milliseconds(100), timedOut: { calledLate.withLock { $0 = true }; return Late() }) { 42 }
        #expect(value == 42)
        await #expect(throws: Failed.self) {
            try await withDeadline(.seconds(5), timedOut: { Late() }) { () async throws -> Int in throw Failed() }
        }
        // Past the first call's deadline: its timer was stopped, or found the race won.
        try await Task.sleep(for: .milliseconds(300))
        #expect(!calledLate.withLock { $0 })
    }

    @Test("cancelling the caller cancels the body; a body that finishes anyway reports its value")
    func callerCancelled() async throws {
        // A body that ends when cancelled: the caller gets its CancellationError (not the deadline's
        // error, which would come after 30 s had the cancellation not reached the body).
        let sleeping = Task {
            try await withDeadline(.seconds(30), timedOut: { Late() }) { try await Task.sleep(for: .seconds(30)); return 1 }
        }
        try await Task.sleep(for: .milliseconds(50))
        sleeping.cancel()
        await #expect(throws: CancellationError.self) { try await sleeping.value }

        // A body that does its work whatever the cancellation: the caller learns it was done.
        let gate = Gate()
        let writing = Task {
            try await withDeadline(.seconds(30), timedOut: { Late() }) { await gate.wait(); return 7 }
        }
        try await Task.sleep(for: .milliseconds(50))
        writing.cancel()
        try await Task.sleep(for: .milliseconds(50))
        gate.open()
        #expect(try await writing.value == 7)
    }
}
