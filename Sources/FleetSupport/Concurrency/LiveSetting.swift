import Synchronization

/// A setting that a config reload replaces while the component using it keeps running.
///
/// Shared by reference: every copy of a value type holding it (a `MemoryStore` is copied into the
/// cost tracker and the recorders) sees the new value at once. Reads take a lock for a copy of
/// the value, so a component reads it once per operation and works on that copy.
public final class LiveSetting<Value: Sendable>: Sendable {
    // Inlinable, so a caller's module reads a setting through a specialized `Mutex`: generic, each
    // read instantiated the `Mutex<Value>` metadata at run time (0.3% of a task's CPU on
    // config/fleet.yaml, where a task reads several settings).
    @usableFromInline let storage: Mutex<Value>

    public init(_ value: Value) {
        storage = Mutex(value)
    }

    /// The value in force now.
    @inlinable public var value: Value { storage.withLock { $0 } }

    /// Replaces the value; later reads see the new one.
    @inlinable public func set(_ value: Value) {
        storage.withLock { $0 = value }
    }
}
