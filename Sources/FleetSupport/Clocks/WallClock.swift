import Foundation
import Synchronization

/// Where "now" comes from, for TTLs, budget periods, quota resets and breaker cooldowns.
///
/// Production code uses ``SystemWallClock``; tests use ``ManualWallClock`` and move time by hand.
public protocol WallClock: Sendable {
    /// The current time.
    var now: Date { get }
}

/// The real clock.
public struct SystemWallClock: WallClock {
    public init() {}
    public var now: Date { Date() }
}

/// A clock that only moves when told to. For tests.
public final class ManualWallClock: WallClock {
    private let current: Mutex<Date>

    public init(_ start: Date = Date(timeIntervalSince1970: 1_767_225_600)) { // 2026-01-01T00:00:00Z
        current = Mutex(start)
    }

    public var now: Date { current.withLock { $0 } }

    /// Moves the clock forward (or back, with a negative interval).
    public func advance(by seconds: TimeInterval) {
        current.withLock { $0 = $0.addingTimeInterval(seconds) }
    }

    /// Sets the clock to an exact time.
    public func set(_ date: Date) {
        current.withLock { $0 = date }
    }
}
