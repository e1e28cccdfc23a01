import Foundation

/// The last few minutes of the task path, in fixed-width time buckets: what the dashboard's
/// overview charts draw. A pure value: ``LiveStats`` holds it behind a lock and passes the time in,
/// so tests drive it with any clock.
struct LiveSeries: Sendable {
    /// Seconds per bucket.
    let width: Int
    /// Buckets kept (the window is `width × capacity` seconds).
    let capacity: Int
    /// Latency samples kept per bucket; past it, reservoir sampling keeps a fair subset.
    static let samplesPerBucket = 2_048

    private(set) var buckets: [Bucket] = []
    /// Streams open now.
    private(set) var activeStreams = 0
    private(set) var totalTasks = 0
    private(set) var totalErrors = 0
    private var rng = SystemRandomNumberGenerator()

    struct Bucket: Sendable {
        /// Unix seconds, a multiple of the width.
        var start: Int
        var tasks = 0
        var errors = 0
        var latencyMs = Samples()
        var firstChunkMs = Samples()
        /// The most streams open at once during the bucket.
        var peakStreams = 0
        /// The most tasks seen waiting for an agent during the bucket.
        var peakQueue = 0
    }

    struct Samples: Sendable {
        var values: [Double] = []
        var seen = 0
    }

    init(width: Int = 5, capacity: Int = 60) {
        precondition(width > 0 && capacity > 0)
        self.width = width
        self.capacity = capacity
    }

    mutating func taskFinished(latencyMs: Double, at now: Date) {
        totalTasks += 1
        withBucket(at: now) { bucket, rng in
            bucket.tasks += 1
            Self.add(latencyMs, to: &bucket.latencyMs, rng: &rng)
        }
    }

    mutating func taskFailed(at now: Date) {
        totalTasks += 1
        totalErrors += 1
        withBucket(at: now) { bucket, _ in
            bucket.tasks += 1
            bucket.errors += 1
        }
    }

    mutating func firstChunk(afterMs milliseconds: Double, at now: Date) {
        withBucket(at: now) { bucket, rng in Self.add(milliseconds, to: &bucket.firstChunkMs, rng: &rng) }
    }

    mutating func streamOpened(at now: Date) {
        activeStreams += 1
        let open = activeStreams
        withBucket(at: now) { bucket, _ in bucket.peakStreams = max(bucket.peakStreams, open) }
    }

    mutating func streamClosed(at now: Date) {
        activeStreams = max(0, activeStreams - 1)
    }

    /// A periodic reading of the gauges (queue depth from the fleet manager, open streams).
    mutating func sample(queueDepth: Int, at now: Date) {
        let open = activeStreams
        withBucket(at: now) { bucket, _ in
            bucket.peakQueue = max(bucket.peakQueue, queueDepth)
            bucket.peakStreams = max(bucket.peakStreams, open)
        }
    }

    /// Every bucket of the window ending at `now`, oldest first, empty ones included, so a chart's
    /// x axis is time.
    func window(at now: Date) -> [Bucket] {
        let current = bucketStart(now)
        let first = current - (capacity - 1) * width
        var byStart: [Int: Bucket] = [:]
        for bucket in buckets where bucket.start >= first { byStart[bucket.start] = bucket }
        return stride(from: first, through: current, by: width).map { byStart[$0] ?? Bucket(start: $0) }
    }

    private func bucketStart(_ date: Date) -> Int {
        let seconds = Int(date.timeIntervalSince1970.rounded(.down))
        return seconds - ((seconds % width) + width) % width
    }

    private mutating func withBucket(at now: Date, _ update: (inout Bucket, inout SystemRandomNumberGenerator) -> Void) {
        let start = bucketStart(now)
        if let last = buckets.indices.last, buckets[last].start == start {
            update(&buckets[last], &rng)
            return
        }
        // A late event for an older bucket still in the window (clocks only move forward, but
        // callers read the time before taking the lock).
        if let index = buckets.lastIndex(where: { $0.start == start }) {
            update(&buckets[index], &rng)
            return
        }
        var bucket = Bucket(start: start)
        update(&bucket, &rng)
        buckets.append(bucket)
        buckets.sort { $0.start < $1.start }
        let oldest = start - (capacity - 1) * width
        buckets.removeAll { $0.start < oldest }
        if buckets.count > capacity { buckets.removeFirst(buckets.count - capacity) }
    }

    private static func add(_ value: Double, to samples: inout Samples, rng: inout SystemRandomNumberGenerator) {
        samples.seen += 1
        if samples.values.count < samplesPerBucket {
            samples.values.append(value)
        } else {
            let slot = Int.random(in: 0..<samples.seen, using: &rng)
            if slot < samplesPerBucket { samples.values[slot] = value }
        }
    }
}

extension LiveSeries.Samples {
    /// The `q` quantile (0…1) by nearest rank; `nil` without samples.
    func quantile(_ q: Double) -> Double? {
        guard !values.isEmpty else { return nil }
        let sorted = values.sorted()
        let rank = Int((q * Double(sorted.count)).rounded(.up)) - 1
        return sorted[min(max(rank, 0), sorted.count - 1)]
    }
}
