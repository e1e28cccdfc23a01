import AsyncHTTPClient
import Foundation
import Hummingbird
import Logging
import NIOCore
import Synchronization

/// fleetd as a proxy under load: requests/s and added latency (p50/p99) over calling the
/// upstream directly, for JSON and SSE tasks, and fleetd's memory with 1,000 concurrent streams.
///
/// The upstream is an OpenAI-style server on loopback in this process; fleetd is this same binary
/// run as a child process (`serve`) with a generated config; the load generator is AsyncHTTPClient
/// with a fixed number of concurrent callers.
struct ServeBench: BenchSuite {
    let name = "serve"
    let summary = "fleetd over a loopback provider: req/s and added latency (JSON, SSE); memory with 1,000 open streams"

    func run(scale: Double) async throws {
        let upstream = try await ProxyUpstream.start()
        defer { upstream.stop() }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("fleetd-bench-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let streams = max(10, Int(1_000 * scale))
        var client = HTTPClient.Configuration()
        client.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = streams + 64
        let http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: client)
        do {
            try await measure(upstream: upstream, http: http, directory: directory, streams: streams, scale: scale)
        } catch {
            try? await http.shutdown()
            throw error
        }
        try await http.shutdown()
    }

    private func measure(upstream: ProxyUpstream, http: HTTPClient, directory: URL, streams: Int, scale: Double) async throws {
        let seconds = max(2.0, 8 * scale)
        let callers = 32
        print("load: \(callers) concurrent callers, \(String(format: "%.0f", seconds)) s per run; upstream answers at once (10 chunks when streaming)")
        let directJSON = try await Load.run(http, seconds: seconds, callers: callers) {
            try await upstream.call(http, stream: false)
        }
        let directSSE = try await Load.run(http, seconds: seconds, callers: callers) {
            try await upstream.call(http, stream: true)
        }
        print("direct to upstream, JSON: \(directJSON)")
        print("direct to upstream, SSE:  \(directSSE)")

        for costTracking in [false, true] {
            let fleetd = try await ChildFleetd.start(upstreamPort: upstream.port, directory: directory.appendingPathComponent("run-\(costTracking)"),
                                                     agents: streams + 16, costTracking: costTracking)
            let json = try await Load.run(http, seconds: seconds, callers: callers) {
                try await fleetd.task(http, stream: false)
            }
            let sse = try await Load.run(http, seconds: seconds, callers: callers) {
                try await fleetd.task(http, stream: true)
            }
            let label = costTracking ? "cost tracking on (one SQLite ledger transaction per task)" : "cost tracking off"
            print("through fleetd, JSON, \(label): \(json); added p50 \(Load.ms(json.p50 - directJSON.p50)) ms, p99 \(Load.ms(json.p99 - directJSON.p99)) ms")
            print("through fleetd, SSE,  \(label): \(sse); added p50 \(Load.ms(sse.p50 - directSSE.p50)) ms, p99 \(Load.ms(sse.p99 - directSSE.p99)) ms")
            if !costTracking {
                try await openStreams(fleetd: fleetd, upstream: upstream, http: http, count: streams)
            }
            fleetd.stop()
        }
    }

    /// Opens `count` SSE tasks whose upstream holds after one chunk, then reads fleetd's memory.
    private func openStreams(fleetd: ChildFleetd, upstream: ProxyUpstream, http: HTTPClient, count: Int) async throws {
        let before = fleetd.memoryKiB()
        let opened = OpenCounter()
        upstream.hold(true)
        let start = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<count {
                group.addTask {
                    try await fleetd.task(http, stream: true, model: "hold") { opened.increment() }
                }
            }
            while opened.value < count, ContinuousClock.now - start < .seconds(120) {
                try await Task.sleep(for: .milliseconds(50))
            }
            let open = opened.value
            let during = fleetd.memoryKiB()
            print("open SSE streams through fleetd: \(open) of \(count) open at once (in \(Load.ms(ContinuousClock.now - start)) ms); fleetd VmRSS \(before.rss) KiB before, \(during.rss) KiB with them open (\((during.rss - before.rss) / max(1, open)) KiB per stream), VmHWM \(during.hwm) KiB")
            upstream.hold(false)
            try await group.waitForAll()
        }
    }
}

/// Latency figures of one load run.
struct LoadFigures: CustomStringConvertible {
    var requests: Int
    var errors: Int
    var seconds: Double
    var p50: Duration
    var p99: Duration

    var description: String {
        "\(Int(Double(requests) / seconds)) req/s, p50 \(Load.ms(p50)) ms, p99 \(Load.ms(p99)) ms (\(requests) requests, \(errors) errors)"
    }
}

enum Load {
    static func ms(_ duration: Duration) -> String {
        let value = Double(duration.components.seconds) * 1_000 + Double(duration.components.attoseconds) / 1e15
        return String(format: "%.3f", value)
    }

    /// `callers` tasks call `body` in a loop for `seconds`.
    static func run(_ http: HTTPClient, seconds: Double, callers: Int, _ body: @escaping @Sendable () async throws -> Void) async throws -> LoadFigures {
        let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1_000))
        let start = ContinuousClock.now
        let results = await withTaskGroup(of: ([Duration], Int).self) { group in
            for _ in 0..<callers {
                group.addTask {
                    var latencies: [Duration] = []
                    var errors = 0
                    while ContinuousClock.now < deadline {
                        let begin = ContinuousClock.now
                        do { try await body(); latencies.append(ContinuousClock.now - begin) } catch {
                            errors += 1
                            if errors == 1 { print("  first error: \(error)") }
                        }
                    }
                    return (latencies, errors)
                }
            }
            var all: ([Duration], Int) = ([], 0)
            for await (latencies, errors) in group { all.0 += latencies; all.1 += errors }
            return all
        }
        let elapsed = ContinuousClock.now - start
        let sorted = results.0.sorted()
        let pick = { (q: Double) in sorted.isEmpty ? Duration.zero : sorted[min(sorted.count - 1, Int(Double(sorted.count) * q))] }
        return LoadFigures(requests: sorted.count, errors: results.1,
                           seconds: Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18,
                           p50: pick(0.5), p99: pick(0.99))
    }
}
