import FakeProvider
import Foundation
import Providers
import Testing
@testable import Streaming

/// Backpressure over real loopback: a consumer that stops reading stops the socket reads,
/// so the fake upstream's completed writes plateau far below the stream's size.
@Suite("Backpressure over loopback", .serialized)
struct BackpressureLoopbackTests {
    static let unit = Array(#"data: {"choices":[{"index":0,"delta":{"content":"token "}}]}"#.utf8) + Array("\n\n".utf8)
    static let times = 1_000_000 // ≈ 62 MB

    static func hugeStream() -> FakeResponse {
        FakeResponse(headers: [("content-type", "text/event-stream")], body: .repeated(unit, times: times))
    }

    /// Waits until `value` stops growing for `quiet`, up to `limit`.
    static func plateau(_ value: @Sendable () -> Int, quiet: Duration = .milliseconds(500), limit: Duration = .seconds(10)) async throws -> Int {
        let clock = ContinuousClock()
        let deadline = clock.now + limit
        var last = value()
        while clock.now < deadline {
            try await Task.sleep(for: quiet)
            let now = value()
            if now == last { return now }
            last = now
        }
        return last
    }

    static func residentKiB() -> Int {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
        let line = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") } ?? ""
        return Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0
    }

    @Test func providerStreamReadsNothingAhead() async throws {
        try await withServer(.always(Self.hugeStream())) { server in
            let client = try makeFactory().makeClient(for: endpoint(.openai, server))
            let stream = try await client.stream(ProviderRequest(model: "m", prompt: "x"))
            var iterator = stream.makeAsyncIterator()
            _ = try await iterator.next()
            let total = Self.unit.count * Self.times
            let first = try await Self.plateau { server.bytesWritten }
            try await Task.sleep(for: .milliseconds(700))
            let second = server.bytesWritten
            print("backpressure (provider stream): \(first) of \(total) bytes written while the reader was stalled")
            // Writes stop while nobody reads. On a loaded machine the plateau can be taken a moment
            // before the last socket-buffer refills land, so up to 1 MiB more (of 62 MB) is allowed;
            // a writer that kept going would write tens of megabytes in 700 ms.
            #expect(second - first <= 1_048_576, "writes must stop while nobody reads: \(second - first) more bytes")
            #expect(first < total / 4, "only socket buffers' worth went out: \(first) of \(total)")
            // Reading again makes the writer move again: once the reader has drained what the
            // socket buffers held (how much that is depends on the kernel), the writes resume.
            var read = 0
            while server.bytesWritten == first, read < first / Self.unit.count + 200_000, try await iterator.next() != nil { read += 1 }
            #expect(server.bytesWritten > first, "no write after reading \(read) events")
        }
    }

    @Test func stalledConsumerOfStreamingToolStopsUpstream() async throws {
        try await withServer(.always(Self.hugeStream())) { server in
            let tool = StreamingTool(configuration: config(idleMs: 60_000, totalMs: 120_000, bufferSize: 64), progressInterval: 1_000_000)
            let session = tool.executeStreaming(ProviderRequest(model: "m", prompt: "x"), targets: [try target(.openai, server)])
            var iterator = session.makeAsyncIterator()
            for _ in 0..<10 { _ = await iterator.next() } // start + 9 chunks, then stop reading
            let rssBefore = Self.residentKiB()
            let total = Self.unit.count * Self.times
            let first = try await Self.plateau { server.bytesWritten }
            try await Task.sleep(for: .milliseconds(700))
            #expect(server.bytesWritten == first)
            #expect(first < total / 4, "\(first) of \(total) bytes written while the consumer was stalled")
            print("backpressure (StreamingTool): \(first) of \(total) bytes written while the consumer was stalled; peak buffer \(session.peakBufferDepth)")
            #expect(session.peakBufferDepth <= 51) // high watermark = 0.8 × 64
            #expect(session.backpressureEvents >= 1)
            #expect(Self.residentKiB() - rssBefore < 50_000, "memory stays flat while stalled")
            // Resume reading: chunks flow again, in order, and once the socket buffers have room
            // (how much they hold depends on the kernel: one run had 4.5 MB in them, more than a
            // fixed 20,000 chunks drain) the upstream's writes resume.
            var last = -1
            var read = 0
            while server.bytesWritten == first || read < 20_000, read < first / Self.unit.count + 200_000,
                  let event = await iterator.next() {
                read += 1
                if case .chunk(let c) = event {
                    #expect(c.sequence == last + 1 || last == -1)
                    last = c.sequence
                }
            }
            #expect(server.bytesWritten > first, "no write after reading \(read) events")
            // Stalled again, the reader pauses again (read as fast as it can, the consumer may
            // never have let the buffer fill while it read).
            _ = try await Self.plateau { server.bytesWritten }
            #expect(session.backpressureEvents > 1)
        }
    }

    @Test func droppingTheSessionClosesTheUpstreamConnection() async throws {
        try await withServer(.always(Self.hugeStream())) { server in
            do {
                let tool = StreamingTool(configuration: config(bufferSize: 16))
                let session = tool.executeStreaming(ProviderRequest(model: "m", prompt: "x"), targets: [try target(.openai, server)])
                var iterator = session.makeAsyncIterator()
                for _ in 0..<5 { _ = await iterator.next() }
                #expect(server.openConnections == 1)
            }
            let clock = ContinuousClock()
            let deadline = clock.now + .seconds(5)
            while server.openConnections > 0, clock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
            #expect(server.openConnections == 0)
        }
    }
}
