import AsyncHTTPClient
import Foundation
import Hummingbird
import NIOCore
import NIOPosix
import Providers

/// The floor under fleetd's figures: what the libraries fleetd is built on cost by themselves. A
/// Hummingbird server whose one route forwards the request's body to the upstream's Chat
/// Completions with AsyncHTTPClient (fleetd's provider client, configured as fleetd configures
/// it) and relays the answer as it comes, JSON or SSE: no routing, no money, no logs, no
/// decoding. It runs as a child process (`fleetd-bench floor-proxy`, the upstream's port in
/// `FLEETD_BENCH_UPSTREAM_PORT`) on the global executor fleetd installs, so its CPU per request is
/// the least a fleetd on these libraries could use, measured beside fleetd in the same run.
struct FloorProxySuite: BenchSuite {
    let name = "floor-proxy"
    let summary = "a bare Hummingbird + AsyncHTTPClient hop to the upstream (run by the serve suite as a child process)"

    func run(scale: Double) async throws {
        guard let port = ProcessInfo.processInfo.environment["FLEETD_BENCH_UPSTREAM_PORT"].flatMap(Int.init) else {
            throw BenchError(description: "floor-proxy needs FLEETD_BENCH_UPSTREAM_PORT (the serve suite starts it)")
        }
        let client = ProviderClientFactory.makeHTTPClient()
        let upstream = "http://127.0.0.1:\(port)/v1/chat/completions"
        let router = Router()
        router.post("/v1/chat/completions") { request, _ -> Response in
            var outgoing = HTTPClientRequest(url: upstream)
            outgoing.method = .POST
            outgoing.headers.add(name: "content-type", value: "application/json")
            outgoing.body = .bytes(try await request.body.collect(upTo: 1 << 20))
            let answer = try await client.execute(outgoing, timeout: .seconds(60))
            var headers = HTTPFields()
            headers[.contentType] = answer.headers.first(name: "content-type") ?? "application/json"
            return Response(status: .init(code: Int(answer.status.code)), headers: headers, body: ResponseBody(asyncSequence: answer.body))
        }
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)), onServerRunning: { channel in
            // Unbuffered, so the parent reading this through a pipe sees it at once.
            FileHandle.standardOutput.write(Data("floor proxy listening on \(channel.localAddress?.port ?? 0)\n".utf8))
        })
        try await app.runService()
        try await client.shutdown()
    }
}

/// The floor proxy as the serve suite runs it: `fleetd-bench floor-proxy` in a process of its own.
final class FloorProxyHop: Sendable {
    let port: Int
    private let process: Process

    static func start(upstreamPort: Int) async throws -> FloorProxyHop {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        process.arguments = ["floor-proxy"]
        process.environment = ProcessInfo.processInfo.environment.merging(["FLEETD_BENCH_UPSTREAM_PORT": "\(upstreamPort)"]) { $1 }
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        let text = TextBuffer()
        output.fileHandleForReading.readabilityHandler = { handle in text.append(String(decoding: handle.availableData, as: UTF8.self)) }
        try process.run()
        for _ in 0..<500 {
            try await Task.sleep(for: .milliseconds(20))
            if let line = text.text.split(separator: "\n").first(where: { $0.hasPrefix("floor proxy listening on ") }),
               let port = Int(line.split(separator: " ").last ?? ""), port > 0 {
                output.fileHandleForReading.readabilityHandler = nil
                return FloorProxyHop(port: port, process: process)
            }
            if !process.isRunning { break }
        }
        process.terminate()
        throw BenchError(description: "the floor proxy did not start: \(text.text)")
    }

    private init(port: Int, process: Process) {
        self.port = port
        self.process = process
    }

    var url: String { "http://127.0.0.1:\(port)/v1/chat/completions" }

    /// CPU seconds the process has used (user + system), from `/proc`.
    func cpuSeconds() -> Double {
        Benchmarks.cpuSeconds(ofProcess: process.processIdentifier)
    }

    func stop() {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }
}
