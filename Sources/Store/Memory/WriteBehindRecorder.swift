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
/// flushes what is left.
///
/// A batch the store refuses (a shared store gone for a while, a full disk) is kept and written
/// with the next one, unless a newer record for its address came in meanwhile. While the store
/// keeps refusing, a retry is made at most once a second, and the kept records are bounded by
/// `capacity` too: past it the oldest go, and the log says how many. The cost ledger does not go
/// through here (an answered task's row is written before its answer); its `routing/costs`
/// mirrors do.
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
    /// Encoded records of batches the store refused, by address, oldest first.
    private var refused: [String: MemoryEntry] = [:]
    private var refusedOrder: [String] = []
    /// While the store refuses: when the first refusal was, and no retry before `retryAt`.
    private var failingSince: ContinuousClock.Instant?
    private var retryAt: ContinuousClock.Instant?
    private var dropped = 0
    /// Whether a batch is being written; the flushes waiting their turn. Flushes go one at a time,
    /// so a flush returns only once every record queued before it, in an earlier flush's batch
    /// too, is written (a reader's flush found `pending` empty while the periodic flush's batch
    /// was still being written, and read the store before it had the record).
    private var writing = false
    private var writeWaiters: [CheckedContinuation<Void, Never>] = []
    /// Says that a record came in while none waited: an idle recorder waits for it instead of
    /// waking every `interval` (twenty wake-ups a second in an idle fleetd). Keeps the newest
    /// signal, so one sent while nobody waits is not lost.
    private nonisolated let arrivals: AsyncStream<Void>
    private nonisolated let arrived: AsyncStream<Void>.Continuation

    public init(store: MemoryStore, batchSize: Int = 512, capacity: Int = 10_000, interval: Duration = .milliseconds(50),
                logger: Logger = Logger(label: "fleetd.store.write-behind")) {
        self.store = store
        self.batchSize = max(1, batchSize)
        self.capacity = max(self.batchSize, capacity)
        self.interval = interval
        self.logger = logger
        (arrivals, arrived) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// Queues a value for `partition`/`key` with the partition's default TTL.
    public func enqueue<Value: Encodable & Sendable>(_ value: Value, partition: String, key: String, owner: String,
                                                     accessLevel: MemoryAccessLevel) async throws {
        try add(value, partition: partition, key: key, owner: owner, accessLevel: accessLevel, now: store.clock.now)
        if pending.count >= capacity { await flush(force: false) }
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
        if pending.count >= capacity { await flush(force: false) }
    }

    /// Adds one record to the batch, replacing a waiting one for the same address.
    private func add(_ value: any Encodable & Sendable, partition: String, key: String, owner: String,
                     accessLevel: MemoryAccessLevel, now: Date) throws {
        try MemoryStore.validateAddress(partition: partition, key: key)
        let record = Pending(value: value, partition: partition, key: key, owner: owner, accessLevel: accessLevel,
                             createdAt: now, expiresAt: try store.expiryDate(.partitionDefault, partition: partition, now: now))
        let address = "\(partition)/\(key)"
        if pending.updateValue(record, forKey: address) == nil {
            order.append(address)
            if order.count == 1 { arrived.yield() }
        }
    }

    /// Writes everything waiting, in one transaction: records a refused batch left first, then
    /// the queued ones. The periodic flush, while the store is refusing, waits for `retryAt`
    /// unless `capacity` records are queued; this one (a reader's, shutdown's) tries at once.
    public func flush() async {
        await flush(force: true)
    }

    private func flush(force: Bool) async {
        if !force, let retryAt, ContinuousClock.now < retryAt, pending.count < capacity { return }
        if writing { await withCheckedContinuation { writeWaiters.append($0) } } // handed the turn by `endWrite`
        writing = true
        defer { endWrite() }
        guard !pending.isEmpty || !refused.isEmpty else { return }
        var batch: [MemoryEntry] = []
        batch.reserveCapacity(refusedOrder.count + order.count)
        for address in refusedOrder where pending[address] == nil {
            if let entry = refused[address] { batch.append(entry) }
        }
        let retried = batch.count
        refused.removeAll(keepingCapacity: true)
        refusedOrder.removeAll(keepingCapacity: true)
        let records = order.compactMap { pending[$0] }
        pending.removeAll(keepingCapacity: true)
        order.removeAll(keepingCapacity: true)
        let encoded = await Self.encodedOffTheEventLoops(records)
        batch.append(contentsOf: encoded.entries)
        for (address, error) in encoded.failures {
            logger.error("write-behind record dropped: it does not encode", metadata: ["entry": "\(address)", "error": "\(error)"])
        }
        do {
            try await store.storeAll(batch)
            if let since = failingSince {
                logger.notice("write-behind records written after the store refused them", metadata: [
                    "entries": "\(retried)", "refusedFor": "\(ContinuousClock.now - since)", "lost": "\(dropped)"])
            }
            failingSince = nil
            retryAt = nil
            dropped = 0
        } catch {
            keep(batch, after: error)
        }
    }

    /// The batch's records encoded on a Dispatch worker thread rather than here: this actor runs on
    /// the event loops (the global executor fleetd installs), where encoding a batch (a task's
    /// routing selection alone is 1.6 KB of JSON) held up the requests on that loop; the profile
    /// of one caller on the shipped config put 3% of the loop thread's time in it, while the other
    /// core sat idle (docs/performance.md, "JSON answers written by hand"). One hand-off per batch.
    private static func encodedOffTheEventLoops(_ records: [Pending]) async -> (entries: [MemoryEntry], failures: [(String, any Error)]) {
        guard !records.isEmpty else { return ([], []) }
        return await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                var entries: [MemoryEntry] = []
                entries.reserveCapacity(records.count)
                var failures: [(String, any Error)] = []
                for record in records {
                    do { entries.append(try record.entry()) } catch { failures.append(("\(record.partition)/\(record.key)", error)) }
                }
                continuation.resume(returning: (entries, failures))
            }
        }
    }

    /// Hands the turn to the next waiting flush, or ends the write.
    private func endWrite() {
        if writeWaiters.isEmpty {
            writing = false
        } else {
            writeWaiters.removeFirst().resume()
        }
    }

    /// Keeps a refused batch for the next flush: a newer record queued for an address meanwhile
    /// wins; past `capacity`, the oldest go.
    private func keep(_ batch: [MemoryEntry], after error: any Error) {
        for entry in batch where pending[entry.address] == nil {
            if refused.updateValue(entry, forKey: entry.address) == nil { refusedOrder.append(entry.address) }
        }
        if refusedOrder.count > capacity {
            let excess = refusedOrder.count - capacity
            for address in refusedOrder.prefix(excess) { refused[address] = nil }
            refusedOrder.removeFirst(excess)
            dropped += excess
            logger.error("write-behind records lost: the store has refused them for too long", metadata: [
                "entries": "\(excess)", "kept": "\(refusedOrder.count)", "error": "\(error)"])
        }
        let now = ContinuousClock.now
        if failingSince == nil {
            failingSince = now
            logger.warning("write-behind batch refused by the store; kept for a retry", metadata: [
                "entries": "\(batch.count)", "error": "\(error)"])
        }
        retryAt = now + .seconds(1)
    }

    /// Every `interval` while records wait (or a refused batch waits for its retry); when none
    /// do, it waits for the next one, then gives it `interval` to gather company.
    public func run() async throws {
        let arrivals = self.arrivals, interval = self.interval
        while !Task.isCancelled, !Task.isShuttingDownGracefully {
            do {
                if pending.isEmpty, refused.isEmpty {
                    try await cancelWhenGracefulShutdown {
                        for await _ in arrivals { break }
                        try Task.checkCancellation()
                    }
                }
                try await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
            } catch {
                break // cancelled, or shutdown began during the wait
            }
            await flush(force: false)
        }
        await flush(force: true)
        if !refused.isEmpty {
            logger.error("write-behind records lost at shutdown: the store refused them", metadata: ["entries": "\(refused.count)"])
        }
    }
}
