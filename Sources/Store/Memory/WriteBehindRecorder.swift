import FleetSupport
import Foundation
import Logging
import ServiceLifecycle

/// Writes the records nobody waits for (routing selections and stats, stream sessions and
/// metadata) in batches: one transaction every `interval`, or sooner when `batchSize` wait.
///
/// Written at once, these records would be several small SQLite transactions on every task's hot
/// path, and the single writer would serialise every task behind them. Bounded, never growing:
/// when `capacity` records wait, the next writer flushes them itself, so a store that cannot keep
/// up slows its callers.
/// A later record for the same key replaces the waiting one. Runs as a `Service`; on shutdown it
/// flushes what is left. The cost ledger does not go through here (an answered task's row is
/// written before its answer); its `routing/costs` mirrors do.
///
/// Values are encoded when their batch is written, not when they are queued: a record replaced
/// before the flush (a stream's session goes in when it starts and again when it ends; a model's
/// stats after every task) is never encoded at all.
public actor WriteBehindRecorder: Service {
    /// A record waiting for the next batch, not yet encoded.
    private struct Pending {
        var value: any Encodable & Sendable
        var partition: String
        var key: String
        var owner: String
        var accessLevel: MemoryAccessLevel
        var createdAt: Date
        var expiresAt: Date?

        func entry() throws -> MemoryEntry {
            MemoryEntry(partition: partition, key: key, value: try MemoryStore.encode(value, context: "\(partition)/\(key)"),
                        owner: owner, accessLevel: accessLevel, createdAt: createdAt, expiresAt: expiresAt)
        }
    }

    public nonisolated let store: MemoryStore
    private let batchSize: Int
    private let capacity: Int
    private let interval: Duration
    private let logger: Logger
    private var pending: [String: Pending] = [:]
    private var order: [String] = []

    public init(store: MemoryStore, batchSize: Int = 512, capacity: Int = 10_000, interval: Duration = .milliseconds(50),
                logger: Logger = Logger(label: "fleetd.store.write-behind")) {
        self.store = store
        self.batchSize = max(1, batchSize)
        self.capacity = max(self.batchSize, capacity)
        self.interval = interval
        self.logger = logger
    }

    /// Queues a value for `partition`/`key` with the partition's default TTL.
    public func enqueue<Value: Encodable & Sendable>(_ value: Value, partition: String, key: String, owner: String,
                                                     accessLevel: MemoryAccessLevel) async throws {
        try add(value, partition: partition, key: key, owner: owner, accessLevel: accessLevel, now: store.clock.now)
        if pending.count >= capacity { await flush() }
    }

    /// Queues several values for one partition with its default TTL (in one hop to the recorder).
    /// A value whose address is invalid is logged and left out.
    public func enqueue(_ values: [(key: String, value: any Encodable & Sendable)], partition: String, owner: String,
                        accessLevel: MemoryAccessLevel) async {
        let now = store.clock.now
        for (key, value) in values {
            do {
                try add(value, partition: partition, key: key, owner: owner, accessLevel: accessLevel, now: now)
            } catch {
                logger.error("write-behind record dropped", metadata: ["entry": "\(partition)/\(key)", "error": "\(error)"])
            }
        }
        if pending.count >= capacity { await flush() }
    }

    /// Adds one record to the batch, replacing a waiting one for the same address.
    private func add(_ value: any Encodable & Sendable, partition: String, key: String, owner: String,
                     accessLevel: MemoryAccessLevel, now: Date) throws {
        try MemoryStore.validateAddress(partition: partition, key: key)
        let record = Pending(value: value, partition: partition, key: key, owner: owner, accessLevel: accessLevel,
                             createdAt: now, expiresAt: try store.expiryDate(.partitionDefault, partition: partition, now: now))
        let address = "\(partition)/\(key)"
        if pending.updateValue(record, forKey: address) == nil { order.append(address) }
    }

    /// Writes everything waiting, in one transaction.
    public func flush() async {
        guard !pending.isEmpty else { return }
        var batch: [MemoryEntry] = []
        batch.reserveCapacity(order.count)
        for address in order {
            guard let record = pending[address] else { continue }
            do {
                batch.append(try record.entry())
            } catch {
                logger.error("write-behind record dropped: it does not encode", metadata: ["entry": "\(address)", "error": "\(error)"])
            }
        }
        pending.removeAll(keepingCapacity: true)
        order.removeAll(keepingCapacity: true)
        do {
            try await store.storeAll(batch)
        } catch {
            logger.error("write-behind batch lost", metadata: ["entries": "\(batch.count)", "error": "\(error)"])
        }
    }

    public func run() async throws {
        await runPeriodically(every: interval) { await self.flush() }
        await flush()
    }
}
