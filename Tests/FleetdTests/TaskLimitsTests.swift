import AsyncHTTPClient
import FakeProvider
import Foundation
import NIOCore
import Testing

/// Subtasks, the bounded queue, and a client that walks away mid-stream.
@Suite(.serialized) struct TaskLimitsTests {
    func start(_ script: FakeScript, agents: Int = 2, queue: Int = 1000, streaming: String = "true")
        async throws -> (FakeProviderServer, FleetdProcess) {
        let fake = try await FakeProviderServer.start(script: script)
        let directory = try temporaryDirectory()
        let file = directory.appendingPathComponent("fleet.yaml")
        var config = TaskPathTests.config(baseURL: fake.baseURL, router: "true", streaming: streaming)
        config = config.replacingOccurrences(of: "  - {type: general, count: 2}", with: "  - {type: general, count: \(agents)}")
        config = config.replacingOccurrences(of: "api: {host: 127.0.0.1}", with: "api: {host: 127.0.0.1, maxQueuedTasks: \(queue)}")
        try config.write(to: file, atomically: true, encoding: .utf8)
        return (fake, try await FleetdProcess(config: file, dataDirectory: directory.appendingPathComponent("data")))
    }

    @Test func subtasksRunInParallelOnDifferentModelsWithPartialFailure() async throws {
        let (fake, fleetd) = try await start(TaskPathTests.script())
        let body = """
        {"prompt": "Review this change", "id": "review-1", "subtasks": [
          {"prompt": "Check the style", "preferredModel": "cheap"},
          {"prompt": "Check the concurrency", "preferredModel": "strong"},
          {"prompt": "Only a local model may see this", "privacy": "local-only"}
        ]}
        """
        let result = try await http(.POST, "\(fleetd.baseURL)/v1/tasks", body: body)
        #expect(result.status == 200, "\(result.body)")
        let subtasks = try #require(result.json["subtasks"] as? [[String: Any]])
        #expect(subtasks.count == 3)
        #expect(subtasks.map { $0["taskId"] as? String } == ["review-1.1", "review-1.2", "review-1.3"])
        #expect(subtasks.map { $0["succeeded"] as? Bool } == [true, true, false])
        #expect((subtasks[0]["result"] as? [String: Any])?["model"] as? String == "cheap")
        #expect((subtasks[1]["result"] as? [String: Any])?["model"] as? String == "strong")
        #expect((subtasks[2]["error"] as? [String: Any])?["code"] as? String == "ROUTER_001")
        let record = try await http(.GET, "\(fleetd.baseURL)/v1/tasks/review-1")
        #expect(record.json["status"] as? String == "completed")
        fleetd.signal(SIGTERM)
        #expect(await fleetd.waitForExit() == 0)
        await fake.shutdown()
    }

    @Test func aFullQueueAnswers429WithRetryAfter() async throws {
        // One agent, one queue slot, and a provider that takes about a second per answer.
        let slow = FakeScript { _, _ in
            (try? FakeResponse.fixture("providers/anthropic-nonstream-docs-example.json").dripped(size: 16, delay: .milliseconds(60)))
                ?? .status(500, body: "{}")
        }
        let (fake, fleetd) = try await start(slow, agents: 1, queue: 1, streaming: "false")
        let statuses = await withTaskGroup(of: (Int, String?).self) { group in
            for index in 0..<3 {
                group.addTask {
                    try? await Task.sleep(for: .milliseconds(150 * index))
                    let response = try? await http(.POST, "\(fleetd.baseURL)/v1/tasks", body: #"{"prompt": "hello \#(index)"}"#)
                    return (response?.status ?? 0, response?.headers["retry-after"].first)
                }
            }
            var all: [(Int, String?)] = []
            for await status in group { all.append(status) }
            return all
        }
        #expect(statuses.filter { $0.0 == 200 }.count == 2, "\(statuses)")
        let refused = statuses.filter { $0.0 == 429 }
        #expect(refused.count == 1, "\(statuses)")
        #expect(refused.first?.1 == "1")
        fleetd.signal(SIGTERM)
        #expect(await fleetd.waitForExit() == 0)
        await fake.shutdown()
    }

    @Test func aClientThatWalksAwayCancelsTheUpstreamCallAndItsReservation() async throws {
        // The transcript stalls after its first text chunk and keeps the connection open.
        let stalling = FakeScript { _, _ in
            (try? FakeResponse.fixture("providers/anthropic-stream-sdkfixture-basic.sse").with(.stallAfter(bytes: 720)))
                ?? .status(500, body: "{}")
        }
        let (fake, fleetd) = try await start(stalling)
        let sawChunk = LogBuffer()
        let reader = Task {
            var request = HTTPClientRequest(url: "\(fleetd.baseURL)/v1/tasks")
            request.method = .POST
            request.headers.add(name: "content-type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: #"{"prompt": "hello", "stream": true}"#))
            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
            // Read until the first chunk, then keep the stream open until this task is cancelled.
            for try await buffer in response.body {
                if String(buffer: buffer).contains("event: chunk") { sawChunk.append(Data("chunk".utf8)) }
            }
        }
        #expect(await eventually(timeout: .seconds(5)) { sawChunk.text == "chunk" }, "the first chunk arrives")
        #expect(fake.openConnections == 1)
        let reservedWhileOpen = try await reserved(fleetd)
        #expect(reservedWhileOpen > 0, "the estimated cost is reserved while the call runs")
        reader.cancel()
        #expect(await eventually(timeout: .seconds(5)) { fake.openConnections == 0 }, "fleetd cancels the upstream call")
        #expect(try await eventually(timeout: .seconds(5)) { try await reserved(fleetd) == 0 }, "and releases the reservation")
        // A client leaving says nothing about the provider: no failure counts against its breakers.
        let models = try await http(.GET, "\(fleetd.baseURL)/v1/models")
        #expect(models.status == 200)
        #expect(!models.body.contains("CancellationError"), "\(models.body)")
        #expect(!models.body.contains(#""consecutiveFailures":1"#), "\(models.body)")
        fleetd.signal(SIGTERM)
        #expect(await fleetd.waitForExit() == 0)
        await fake.shutdown()
    }

    @Test func sseStreamsKeepTheConnectionForTheNextRequest() async throws {
        let (fake, fleetd) = try await start(TaskPathTests.script())
        let connection = try RawConnection(port: fleetd.port)
        defer { connection.close() }
        let body = #"{"prompt": "hello", "stream": true}"#
        let request = "POST /v1/tasks HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)"
        for round in 1...3 {
            try connection.send(request)
            // A chunked SSE response ends with the zero-length chunk.
            let response = try await connection.readOffPool(until: "\r\n0\r\n\r\n", timeout: .seconds(10))
            #expect(response.hasPrefix("HTTP/1.1 200"), "round \(round): \(response.prefix(200))")
            #expect(response.contains("event: complete"), "round \(round)")
            #expect(!response.lowercased().contains("connection: close"), "round \(round)")
        }
        fleetd.signal(SIGTERM)
        #expect(await fleetd.waitForExit() == 0)
        await fake.shutdown()
    }

    /// Dollars reserved for calls in flight, today.
    func reserved(_ fleetd: FleetdProcess) async throws -> Double {
        let costs = try await http(.GET, "\(fleetd.baseURL)/v1/costs")
        let periods = (costs.json["budget"] as? [String: Any])?["periods"] as? [[String: Any]] ?? []
        return periods.first { $0["period"] as? String == "day" }?["reserved"] as? Double ?? -1
    }
}

/// A plain TCP connection, to see what HTTP clients hide: whether the server keeps it open.
final class RawConnection: Sendable {
    private let fd: Int32

    init(port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard result == 0 else { throw POSIXError(.ECONNREFUSED) }
    }

    func send(_ text: String) throws {
        let bytes = Array(text.utf8)
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            guard n > 0 else { throw POSIXError(.EPIPE) }
            sent += n
        }
    }

    /// Reads until `marker` arrives; throws when the server closes first or time runs out.
    func read(until marker: String, timeout: Duration) throws -> String {
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        let deadline = ContinuousClock.now + timeout
        while !String(decoding: received, as: UTF8.self).contains(marker) {
            guard ContinuousClock.now < deadline else { throw POSIXError(.ETIMEDOUT) }
            var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&poller, 1, 100) > 0 else { continue }
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            guard n > 0 else { throw POSIXError(.ECONNRESET) }
            received += buffer[0..<n]
        }
        return String(decoding: received, as: UTF8.self)
    }

    /// ``read(until:timeout:)`` on a thread of its own: its poll loop blocks, and on a Swift
    /// concurrency thread it would starve the tests running beside it (and the in-process fake
    /// provider this connection waits for) of one of this machine's two cooperative threads.
    func readOffPool(until marker: String, timeout: Duration) async throws -> String {
        try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread {
                continuation.resume(with: Result { try self.read(until: marker, timeout: timeout) })
            }
        }
    }

    func close() {
        _ = Glibc.close(fd)
    }
}
