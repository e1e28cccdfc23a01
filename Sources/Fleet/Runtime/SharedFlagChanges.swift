import Foundation
import Store

/// Runtime flag changes shared by every fleetd instance on one PostgreSQL store: a
/// `PUT /v1/flags/...` on any instance is written to `shared_state` (kind `flag`) and announced
/// by NOTIFY; each instance's ``SharedFlagListener`` re-reads the changes and layers them over its
/// file's flags, within a second. New instances load them at start.
public struct SharedFlagChanges: Sendable {
    public static let kind = "flag"
    public let store: PostgresStore

    public init(store: PostgresStore) {
        self.store = store
    }

    /// Every change in force, oldest first.
    public func load() async throws -> [RuntimeFlagStore.Change] {
        try await store.loadShared(kind: Self.kind).map { try JSONDecoder.fleetd.decode(RuntimeFlagStore.Change.self, from: Data($0.document.utf8)) }
    }

    /// Writes one change (replacing the flag's earlier change at that scope) and announces it.
    public func put(_ change: RuntimeFlagStore.Change) async throws {
        let document = String(decoding: try JSONEncoder.fleetd.encode(change), as: UTF8.self)
        try await store.putShared(kind: Self.kind, key: "\(change.flag)@\(change.scope)", document: document)
    }

    /// Removes every runtime change, fleet-wide (a reload that does not keep them).
    public func clear() async throws {
        try await store.clearShared(kind: Self.kind)
    }

    /// Leaves exactly `changes` in force, fleet-wide (a reload that dropped some of them).
    public func replace(with changes: [RuntimeFlagStore.Change]) async throws {
        try await clear()
        for change in changes { try await put(change) }
    }
}
