import FleetSupport
import Foundation
import NIOPosix
import Synchronization
import Testing

/// A loop whose thread is blocked is reported stalled once it has not run for `stallAfter`, and
/// healthy again when it runs; a busy but running loop is not.
@Suite struct EventLoopWatchTests {
    final class Changes: Sendable {
        let seen = Mutex<[(Int, Bool)]>([])
    }

    @Test("a blocked loop is reported stalled, and running again once it is free")
    func blockedLoopIsStalled() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        let changes = Changes()
        let watch = EventLoopWatch(group: group, interval: .milliseconds(50), stallAfter: .seconds(1)) { loop, stalledFor in
            changes.seen.withLock { $0.append((loop, stalledFor != nil)) }
        }
        let loops = Array(group.makeIterator())
        watch.check()
        try await Task.sleep(for: .milliseconds(100))
        #expect(watch.stalled().isEmpty)
        // Block the second loop's thread, as a deadlock on a lock would.
        let release = DispatchSemaphore(value: 0)
        loops[1].execute { release.wait() }
        var stalled: [Int: Duration] = [:]
        for _ in 0..<100 where stalled.isEmpty {
            try await Task.sleep(for: .milliseconds(50))
            watch.check()
            stalled = watch.stalled()
        }
        #expect(Array(stalled.keys) == [1], "\(stalled)")
        #expect(watch.problems().count == 1 && watch.problems()[0].hasPrefix("event loop 1 has not run for"), "\(watch.problems())")
        #expect(changes.seen.withLock { $0.map(\.0) == [1] && $0.map(\.1) == [true] })
        release.signal()
        var healthy = false
        for _ in 0..<100 where !healthy {
            watch.check()
            try await Task.sleep(for: .milliseconds(50))
            healthy = watch.stalled().isEmpty
        }
        #expect(healthy)
        watch.check()
        #expect(changes.seen.withLock { $0.map(\.1) == [true, false] }, "\(changes.seen.withLock { $0 })")
        try await group.shutdownGracefully()
    }
}
