import AsyncHTTPClient
import FleetSupport
import Foundation
import Logging
import NIOCore
import Providers
import Streaming
import Synchronization

/// `fleetd-bench streaming`: SSE parser throughput, chunks relayed end to end through
/// StreamingTool over loopback, and resident memory per open stream with many streams open.
///
/// The loopback upstream is the fake provider (``BenchUpstream``) in this process, speaking OpenAI's
/// streaming Chat Completions format, so the memory figure includes the server's side of each stream.
struct StreamingBench: BenchSuite {
    let name = "streaming"
    let summary = "SSE parser MB/s and events/s; chunks/s through StreamingTool over loopback; RSS per open stream (1,000 streams)"

    func run(scale: Double) async throws {
        parserThroughput(megabytes: max(1, Int(64 * scale)))
        let upstream = try await BenchUpstream.start()
        let client = ProviderClientFactory.makeHTTPClient(maxConnectionsPerHost: 4096)
        do {
            try await relay(upstream: upstream, client: client, chunks: max(1000, Int(200_000 * scale)))
            try await openStreams(upstream: upstream, client: client, count: max(10, Int(1000 * min(1, scale))))
        } catch {
            try? await client.shutdown()
            await upstream.stop()
            throw error
        }
        try await client.shutdown()
        await upstream.stop()
    }

    /// Realistic OpenAI-style chunks (varied words), fed in 16 KiB reads.
    private func parserThroughput(megabytes: Int) {
        let words = ["The", " quick", " brown", " fox", " jumps", " over", " the", " lazy", " dog", ".", "\\n", " Streaming", " is", " fun"]
        var unit: [UInt8] = []
        for (i, word) in words.enumerated() {
            unit += Array(#"data: {"id":"chatcmpl-ABfw031mOJeYCSHe4yI2ZjOA6kMJL","object":"chat.completion.chunk","created":1727346168,"model":"gpt-4o-2024-08-06","choices":[{"index":0,"delta":{"content":"\#(word)"},"logprobs":null,"finish_reason":null}]}"#.utf8)
            unit += Array((i % 3 == 0 ? "\r\n\r\n" : "\n\n").utf8)
        }
        let target = megabytes << 20
        var stream: [UInt8] = []
        stream.reserveCapacity(target + unit.count)
        var expectedEvents = 0
        while stream.count < target {
            stream += unit
            expectedEvents += words.count
        }
        let pieces = stride(from: 0, to: stream.count, by: 16 * 1024).map { ByteBuffer(bytes: stream[$0..<min(stream.count, $0 + 16 * 1024)]) }
        var best = Duration.seconds(1000)
        var events = 0
        for _ in 0..<3 {
            var parser = SSEParser()
            var count = 0
            let clock = ContinuousClock()
            let elapsed = clock.measure {
                for piece in pieces { parser.parse(piece) { _ in count += 1 } }
            }
            best = min(best, elapsed)
            events = count
        }
        let seconds = best.seconds
        print(String(format: "parser: %.1f MB in %.3f s (best of 3): %.1f MB/s, %.0f events/s (%d events, expected %d)",
                     Double(stream.count) / 1e6, seconds, Double(stream.count) / 1e6 / seconds, Double(events) / seconds, events, expectedEvents))
    }

    private func endpoint(_ upstream: BenchUpstream, model: String) -> ModelEndpoint {
        ModelEndpoint(name: model, provider: .openai, model: model, baseURL: "http://127.0.0.1:\(upstream.port)/v1")
    }

    /// One stream of `chunks` chunks, consumed as fast as possible.
    private func relay(upstream: BenchUpstream, client: HTTPClient, chunks: Int) async throws {
        let factory = ProviderClientFactory(httpClient: client, credentials: ProviderCredentials(environment: [:]))
        let target = try StreamTarget(endpoint: endpoint(upstream, model: "fast-\(chunks)"), factory: factory)
        let tool = StreamingTool(configuration: StreamingConfiguration(enabled: true, timeoutMs: 600_000), progressInterval: 1000)
        let clock = ContinuousClock()
        var received = 0
        var completed = false
        let elapsed = await clock.measure {
            for await event in tool.executeStreaming(ProviderRequest(model: "fast", prompt: "go"), targets: [target]) {
                if case .chunk = event { received += 1 }
                if case .complete = event { completed = true }
            }
        }
        print(String(format: "relay: %d chunks through StreamingTool over loopback in %.3f s: %.0f chunks/s (completed: %@)",
                     received, elapsed.seconds, Double(received) / elapsed.seconds, completed ? "yes" : "no"))
    }

    /// `count` streams held open at once (each has received its first chunk); RSS before/after.
    private func openStreams(upstream: BenchUpstream, client: HTTPClient, count: Int) async throws {
        let factory = ProviderClientFactory(httpClient: client, credentials: ProviderCredentials(environment: [:]))
        let target = try StreamTarget(endpoint: endpoint(upstream, model: "hold"), factory: factory)
        let tool = StreamingTool(configuration: StreamingConfiguration(enabled: true, timeoutMs: 600_000))
        let before = residentKiB()
        let opened = OpenCounter()
        let clock = ContinuousClock()
        let start = clock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<count {
                group.addTask {
                    var iterator = tool.executeStreaming(ProviderRequest(model: "hold", prompt: "x"), targets: [target]).makeAsyncIterator()
                    while let event = await iterator.next() {
                        if case .chunk = event { break }
                        if case .error(let failure) = event { throw failure }
                    }
                    opened.increment()
                    // Keep the stream open until every stream is open and measured.
                    while await iterator.next() != nil {}
                }
            }
            while opened.value < count, clock.now - start < .seconds(120) {
                try await Task.sleep(for: .milliseconds(50))
            }
            let openedCount = opened.value
            let after = residentKiB()
            print(String(format: "open streams: %d open at once (opened in %.2f s); VmRSS %d KiB before, %d KiB after: %.1f KiB per open stream (client and loopback server sides together)",
                         openedCount, (clock.now - start).seconds, before, after, Double(after - before) / Double(max(1, openedCount))))
            upstream.release()
            try await group.waitForAll()
        }
    }

    private func residentKiB() -> Int {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
        let line = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") } ?? ""
        return Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0
    }
}

extension Duration {
    fileprivate var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}

/// Counts streams that reached their first chunk.
final class OpenCounter: Sendable {
    private let count = Mutex(0)
    func increment() { count.withLock { $0 += 1 } }
    var value: Int { count.withLock { $0 } }
}
