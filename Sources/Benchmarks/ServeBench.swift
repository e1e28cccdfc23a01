import AsyncHTTPClient
import FakeProvider
import Fleet
import FleetSupport
import Foundation
import Logging
import NIOCore
import Synchronization

/// fleetd as a proxy under load: requests/s and added latency (p50/p99) over calling the
/// upstream directly, for JSON and SSE tasks through `/v1/tasks` and through the OpenAI-compatible
/// `/v1/chat/completions`, and fleetd's memory with 1,000 concurrent streams through each.
///
/// The upstream is the fake provider (``BenchUpstream``) on loopback in this process; fleetd is the
/// `fleetd` binary built beside this one, run as a child process (`serve`) with a generated config;
/// the load generator is wrk when installed, else AsyncHTTPClient with concurrent callers.
struct ServeBench: BenchSuite {
    var name: String { streamsOnly ? "streams" : "serve" }
    var summary: String {
        streamsOnly ? "only the serve suite's memory figure: SSE streams held open through each endpoint (--streams N, --stream-upstream http1|h2)"
            : "fleetd over a loopback provider on config/fleet.yaml as shipped, beside an nginx proxy_pass hop: req/s, added latency and CPU per task (JSON, SSE); allocations per task (with heaptrack installed); memory with 1,000 open streams through each endpoint"
    }
    /// `shipped` (`config/fleet.yaml` as shipped, the headline), `minimal` (the bench's own
    /// one-model config, with cost tracking off and on), or the path of a config file.
    var config = "shipped"
    /// How many SSE streams the memory figure holds open at once (`--streams`); nil: 1,000 × scale.
    var streams: Int?
    /// A virtual environment with LiteLLM's proxy (`--litellm`): its row beside nginx's.
    var litellm: String?
    /// The upstream of the memory figure's streams (`--stream-upstream`): `http1`, plain HTTP/1.1
    /// (a connection per stream, as to Ollama or a local gateway), or `h2`, HTTPS with HTTP/2 (as
    /// the cloud providers serve: many streams per connection).
    var streamUpstream = "http1"
    /// Only the memory figure (`fleetd-bench streams`), none of the load runs.
    var streamsOnly = false

    func run(scale: Double) async throws {
        guard ["http1", "h2"].contains(streamUpstream) else {
            throw BenchError(description: "--stream-upstream is http1 or h2, not '\(streamUpstream)'")
        }
        let upstream = try await BenchUpstream.start()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("fleetd-bench-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let streams = self.streams ?? max(10, Int(1_000 * scale))
        // This process holds each stream's client connection and, over HTTP/1.1, the upstream's
        // side of fleetd's; fleetd holds both of its sides (over HTTP/2, a hundred streams share one).
        let perStream = streamUpstream == "h2" ? 1 : 2
        if let files = OpenFileLimit.raiseToHardLimit(), files.soft < UInt64(perStream * streams + 256) {
            print("note: the open file limit is \(files.soft) (hard \(files.hard)); \(streams) streams need about \(perStream * streams + 256) here and in fleetd")
        }
        var client = HTTPClient.Configuration()
        client.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = streams + 64
        let http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: client)
        var streamsUpstream = upstream
        do {
            if streamUpstream == "h2" { streamsUpstream = try await BenchUpstream.start(tls: try FakeTLS.make()) }
            if streamsOnly {
                // Only the memory figure below.
            } else if config == "minimal" {
                try await measure(upstream: upstream, http: http, directory: directory, streams: streams, scale: scale)
            } else {
                let file = try configFile()
                try await measureFile(file, upstream: upstream, http: http, directory: directory, scale: scale)
                // An agent holds one stream, so the streams need a config with as many agents.
                let agents = (try? ConfigLoader.load(text: String(contentsOf: file, encoding: .utf8), file: file.path)).map {
                    "\($0.config.agentAllocation.reduce(0) { $0 + $1.count })"
                } ?? "too few"
                print("-- memory, on the bench-only minimal config (one model, cost tracking off, \(streams + 16) agents): \(file.lastPathComponent) runs \(agents) agents")
            }
            try await measureStreams(upstream: streamsUpstream, http: http, directory: directory, count: streams)
        } catch {
            try? await http.shutdown()
            await upstream.stop()
            if streamsUpstream !== upstream { await streamsUpstream.stop() }
            throw error
        }
        try await http.shutdown()
        await upstream.stop()
        if streamsUpstream !== upstream { await streamsUpstream.stop() }
    }

    private func measure(upstream: BenchUpstream, http: HTTPClient, directory: URL, streams: Int, scale: Double) async throws {
        let seconds = max(2.0, 8 * scale)
        let callers = 32
        let wrk = WrkLoad.find(directory: directory)
        let generator = wrk.map { "wrk at \($0.executable), one thread" } ?? "AsyncHTTPClient in this process (install wrk for a lighter load generator)"
        print("load generator: \(generator); 1 caller for 3 s (latency), then \(callers) concurrent callers for \(String(format: "%.0f", seconds)) s; the upstream answers at once (10 chunks when streaming)")
        let load = Loader(wrk: wrk, http: http)
        var direct: [String: LoadFigures] = [:]
        for stream in [false, true] {
            for concurrency in [1, callers] {
                let figures = try await load.run(url: upstream.url, body: FakeResponse.openAIRequestBody(stream: stream), stream: stream,
                                                 connections: concurrency, seconds: concurrency == 1 ? 3 : seconds)
                direct["\(stream)-\(concurrency)"] = figures
                print("direct to upstream, \(stream ? "SSE " : "JSON"), \(concurrency) caller\(concurrency == 1 ? ": " : "s:") \(figures)")
            }
        }
        for costTracking in [false, true] {
            let fleetd = try await ChildFleetd.start(upstream: upstream, directory: directory.appendingPathComponent("run-\(costTracking)"),
                                                     agents: streams + 16, costTracking: costTracking)
            let label = costTracking ? "cost tracking on (a ledger reserve and settle per task)" : "cost tracking off"
            // The same task through fleetd's own API and through the OpenAI-compatible endpoint
            // (translation in, the dialect's JSON or chunks out).
            let endpoints = [("/v1/tasks", fleetd.tasksURL, ChildFleetd.taskBody), ("/v1/chat/completions", fleetd.chatURL, ChildFleetd.chatBody)]
            for stream in [false, true] {
                for concurrency in [1, callers] {
                    for (path, url, body) in endpoints {
                        let before = fleetd.usage()
                        let figures = try await load.run(url: url, body: body(stream), stream: stream,
                                                         connections: concurrency, seconds: concurrency == 1 ? 3 : seconds)
                        let after = fleetd.usage()
                        let base = direct["\(stream)-\(concurrency)"]!
                        let cpu = (after.cpuSeconds - before.cpuSeconds) * 1_000 / Double(max(1, figures.requests))
                        let switches = Double(after.contextSwitches - before.contextSwitches) / Double(max(1, figures.requests))
                        print("through fleetd \(path), \(stream ? "SSE " : "JSON"), \(concurrency) caller\(concurrency == 1 ? ", " : "s,") \(label): \(figures); "
                            + "added p50 \(Load.ms(figures.p50 - base.p50)) ms, p99 \(Load.ms(figures.p99 - base.p99)) ms; "
                            + "fleetd CPU \(String(format: "%.3f", cpu)) ms and \(String(format: "%.1f", switches)) context switches per task")
                    }
                }
            }
            fleetd.stop()
        }
    }

    /// Memory per open stream through each endpoint, each in a fleetd of its own on the minimal
    /// config (cost tracking off), so that one endpoint's freed memory is not the next one's.
    private func measureStreams(upstream: BenchUpstream, http: HTTPClient, directory: URL, count: Int) async throws {
        print("streams' upstream: \(upstream.tls == nil ? "plain HTTP/1.1, one connection per stream" : "HTTPS with HTTP/2 (a CA made for this run, trusted through FLEETD_EXTRA_CA_CERTS)")")
        for endpoint in StreamEndpoint.allCases {
            let fleetd = try await ChildFleetd.start(upstream: upstream, directory: directory.appendingPathComponent("streams-\(endpoint)"),
                                                     agents: count + 16, costTracking: false)
            try await openStreams(endpoint, fleetd: fleetd, upstream: upstream, http: http, count: count)
            fleetd.stop()
        }
    }

    /// The config file to run: `config/fleet.yaml` of the repository this bench was built from
    /// (found from the current directory, then from the binary's), or the path given.
    private func configFile() throws -> URL {
        if config != "shipped" { return URL(fileURLWithPath: config) }
        var places = [URL(fileURLWithPath: FileManager.default.currentDirectoryPath)]
        var binary = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        for _ in 0..<6 {
            binary.deleteLastPathComponent()
            places.append(binary)
        }
        for place in places {
            let file = place.appendingPathComponent("config/fleet.yaml")
            if FileManager.default.fileExists(atPath: file.path) { return file }
        }
        throw BenchError(description: "config/fleet.yaml not found; run from the repository or pass --serve-config PATH")
    }

    /// The headline: the upstream directly, an nginx `proxy_pass` hop to it, and fleetd on `file`
    /// (unchanged; every provider pointed at the upstream by its base-URL variable), in one run,
    /// JSON and SSE, 1 caller (latency) and 10 (throughput), through `/v1/tasks` and
    /// `/v1/chat/completions`.
    private func measureFile(_ file: URL, upstream: BenchUpstream, http: HTTPClient, directory: URL, scale: Double) async throws {
        let seconds = max(2.0, 8 * scale)
        let callers = 10
        let wrk = WrkLoad.find(directory: directory)
        let load = Loader(wrk: wrk, http: http)
        print("config: \(file.path)\(config == "shipped" ? " (as shipped)" : ""); load generator: \(wrk.map { "wrk at \($0.executable), one thread" } ?? "AsyncHTTPClient in this process")")
        print("1 caller for 3 s (latency), then \(callers) concurrent callers for \(String(format: "%.0f", seconds)) s; the upstream answers at once in each provider's format")
        let cases = [(false, 1), (false, callers), (true, 1), (true, callers)]
        var direct: [String: LoadFigures] = [:]
        var nginx: [String: LoadFigures] = [:]
        for (stream, concurrency) in cases {
            let figures = try await load.run(url: upstream.url, body: FakeResponse.openAIRequestBody(stream: stream), stream: stream,
                                             connections: concurrency, seconds: concurrency == 1 ? 3 : seconds)
            direct["\(stream)-\(concurrency)"] = figures
            print("direct to upstream, \(stream ? "SSE " : "JSON"), \(concurrency) caller\(concurrency == 1 ? ": " : "s:") \(figures)")
        }
        if let executable = NginxHop.find() {
            let hop = try await NginxHop.start(executable: executable, upstreamPort: upstream.port, directory: directory.appendingPathComponent("nginx"))
            for (stream, concurrency) in cases {
                let figures = try await load.run(url: hop.url, body: FakeResponse.openAIRequestBody(stream: stream), stream: stream,
                                                 connections: concurrency, seconds: concurrency == 1 ? 3 : seconds)
                nginx["\(stream)-\(concurrency)"] = figures
                let base = direct["\(stream)-\(concurrency)"]!
                print("through nginx proxy_pass, \(stream ? "SSE " : "JSON"), \(concurrency) caller\(concurrency == 1 ? ", " : "s,") \(figures); added p50 \(Load.ms(figures.p50 - base.p50)) ms")
            }
            hop.stop()
        } else {
            print("nginx is not installed (apt-get install nginx-light): no proxy_pass row")
        }
        // The libraries' own floor: a Hummingbird server relaying to the upstream with AsyncHTTPClient.
        let floor = try await FloorProxyHop.start(upstreamPort: upstream.port)
        for (stream, concurrency) in cases {
            let before = floor.cpuSeconds()
            let figures = try await load.run(url: floor.url, body: FakeResponse.openAIRequestBody(stream: stream), stream: stream,
                                             connections: concurrency, seconds: concurrency == 1 ? 3 : seconds)
            let cpu = (floor.cpuSeconds() - before) * 1_000 / Double(max(1, figures.requests))
            let base = direct["\(stream)-\(concurrency)"]!
            print("through a bare Hummingbird + AsyncHTTPClient hop (fleetd's libraries, none of its logic), \(stream ? "SSE " : "JSON"), "
                + "\(concurrency) caller\(concurrency == 1 ? ", " : "s,") \(figures); added p50 \(Load.ms(figures.p50 - base.p50)) ms; "
                + "CPU \(String(format: "%.3f", cpu)) ms per request")
        }
        floor.stop()
        var litellmFigures: [String: LoadFigures] = [:]
        if let litellm {
            let hop = try await LiteLLMHop.start(environment: litellm, upstreamPort: upstream.port, directory: directory.appendingPathComponent("litellm"))
            print("LiteLLM proxy \(hop.version) from \(litellm), one worker, the same model on the same upstream")
            for (stream, concurrency) in cases {
                let figures = try await load.run(url: hop.url, body: FakeResponse.openAIRequestBody(stream: stream), headers: hop.headers, stream: stream,
                                                 connections: concurrency, seconds: concurrency == 1 ? 3 : seconds)
                litellmFigures["\(stream)-\(concurrency)"] = figures
                let base = direct["\(stream)-\(concurrency)"]!
                print("through LiteLLM proxy, \(stream ? "SSE " : "JSON"), \(concurrency) caller\(concurrency == 1 ? ", " : "s,") \(figures); added p50 \(Load.ms(figures.p50 - base.p50)) ms")
            }
            hop.stop()
        }
        let fleetd = try await ChildFleetd.start(configFile: file, upstreamPort: upstream.port, directory: directory.appendingPathComponent("file"))
        let endpoints: [(String, String, @Sendable (Bool) -> String)] = [
            ("/v1/tasks", fleetd.tasksURL, ChildFleetd.taskBody), ("/v1/chat/completions", fleetd.chatURL, ChildFleetd.chatBody),
            ("/v1/responses (kept)", fleetd.responsesURL, ChildFleetd.responsesBody(store: true)),
            ("/v1/responses (store: false)", fleetd.responsesURL, ChildFleetd.responsesBody(store: false)),
        ]
        for (stream, concurrency) in cases {
            for (path, url, body) in endpoints {
                let before = fleetd.usage()
                let figures = try await load.run(url: url, body: body(stream), stream: stream, connections: concurrency,
                                                 seconds: concurrency == 1 ? 3 : seconds)
                let after = fleetd.usage()
                let key = "\(stream)-\(concurrency)"
                let base = direct[key]!
                let cpu = (after.cpuSeconds - before.cpuSeconds) * 1_000 / Double(max(1, figures.requests))
                var line = "through fleetd \(path), \(stream ? "SSE " : "JSON"), \(concurrency) caller\(concurrency == 1 ? ", " : "s,") \(figures); "
                    + "added p50 \(Load.ms(figures.p50 - base.p50)) ms, p99 \(Load.ms(figures.p99 - base.p99)) ms; fleetd CPU \(String(format: "%.3f", cpu)) ms per task"
                if concurrency > 1, let hop = nginx[key], hop.requests > 0 {
                    line += String(format: "; %.0f%% of nginx's req/s", Double(figures.requests) / figures.seconds / (Double(hop.requests) / hop.seconds) * 100)
                }
                if concurrency > 1, let peer = litellmFigures[key], peer.requests > 0 {
                    line += String(format: "; %.1f× LiteLLM's req/s", Double(figures.requests) / figures.seconds / (Double(peer.requests) / peer.seconds))
                }
                print(line)
            }
        }
        for line in fleetd.problems(last: 3) { print("  fleetd logged: \(line.prefix(300))") }
        fleetd.stop()
        if let tools = AllocationCount.find() {
            try await AllocationCount.measure(tools: tools, configFile: file, label: config == "shipped" ? "config/fleet.yaml as shipped" : file.path,
                                              upstreamPort: upstream.port, http: http, directory: directory, scale: scale)
        } else {
            print("heaptrack is not installed (apt-get install heaptrack): no allocations-per-task figure")
        }
    }

    /// Where the memory figure's streams are opened.
    enum StreamEndpoint: String, CaseIterable {
        case tasks = "/v1/tasks"
        case chat = "/v1/chat/completions"
    }

    /// KiB per stream, to a tenth: the target (50 KB, 48.8 KiB) sits between whole KiB.
    static func perStream(_ kib: Int, _ streams: Int) -> String {
        String(format: "%.1f", Double(kib) / Double(max(1, streams)))
    }

    /// Opens `count` SSE streams whose upstream holds after one chunk, then reads fleetd's memory.
    private func openStreams(_ endpoint: StreamEndpoint, fleetd: ChildFleetd, upstream: BenchUpstream, http: HTTPClient,
                             count: Int) async throws {
        // What fleetd pays once, not per stream (the code's pages first touched, tables built on
        // first use, the store's first pages), is paid before the baseline: a few streams through
        // the same endpoint run to their end first. Both figures are printed.
        let cold = fleetd.memoryKiB()
        let warmUp = 20
        for _ in 0..<warmUp {
            switch endpoint {
            case .tasks: try await fleetd.task(http, stream: true)
            case .chat: try await fleetd.chat(http, stream: true)
            }
        }
        try await Task.sleep(for: .seconds(1))
        let before = fleetd.memoryKiB()
        let opened = OpenCounter()
        let failed = OpenCounter()
        let start = ContinuousClock.now
        // Opened in waves of 500, each open before the next starts: thousands of connections
        // dialled in the same instant overflow the listen backlogs of this process's upstream and
        // of fleetd, and measure the kernel's SYN retries instead of what fleetd holds.
        let wave = 500
        try await withThrowingTaskGroup(of: Void.self) { group in
            for first in stride(from: 0, to: count, by: wave) {
                let last = min(count, first + wave)
                for _ in first..<last {
                    group.addTask {
                        do {
                            switch endpoint {
                            case .tasks: try await fleetd.task(http, stream: true, model: "hold") { opened.increment() }
                            case .chat: try await fleetd.chat(http, stream: true, model: "hold") { opened.increment() }
                            }
                        } catch {
                            if failed.value == 0 { print("  first failed stream: \(error)") }
                            failed.increment()
                        }
                    }
                }
                while opened.value + failed.value < last, ContinuousClock.now - start < .seconds(300) {
                    try await Task.sleep(for: .milliseconds(20))
                }
            }
            let open = opened.value
            // Read once the last wave's requests are done with (their handling is not a stream's).
            try await Task.sleep(for: .seconds(1))
            let during = fleetd.memoryKiB()
            let upstreamSide = upstream.tls == nil ? "\(upstream.server.openConnections) upstream connections"
                : "\(upstream.server.openHTTP2Streams) upstream HTTP/2 streams over \(upstream.server.openConnections) connections"
            if failed.value > 0 {
                print("  \(failed.value) of \(count) streams failed before their first chunk; fleetd's last warnings:")
                for line in fleetd.problems(last: 3) { print("    \(line)") }
            }
            print("open SSE streams through fleetd's \(endpoint.rawValue): \(open) of \(count) open at once (opened in waves of \(wave), in \(Load.ms(ContinuousClock.now - start)) ms; \(upstreamSide)); fleetd VmRSS \(cold.rss) KiB at start, \(before.rss) KiB after \(warmUp) streams ran to their end, \(during.rss) KiB with them open (\(Self.perStream(during.rss - before.rss, open)) KiB per stream; \(Self.perStream(during.rss - cold.rss, open)) from the start), VmHWM \(during.hwm) KiB; of the growth since the baseline, \(during.anon - before.anon) KiB anonymous and \(during.file - before.file) KiB file-backed or shared")
            upstream.release()
            try await group.waitForAll()
        }
    }
}

/// Runs load with wrk when it is installed, else with concurrent AsyncHTTPClient callers.
struct Loader {
    let wrk: WrkLoad?
    let http: HTTPClient

    func run(url: String, body: String, headers: [(String, String)] = [], stream: Bool, connections: Int, seconds: Double) async throws -> LoadFigures {
        if let wrk {
            return try await wrk.run(url: url, body: body, headers: headers, connections: connections, seconds: seconds)
        }
        let http = self.http
        return try await Load.run(http, seconds: seconds, callers: connections) {
            var request = HTTPClientRequest(url: url)
            request.method = .POST
            request.headers.add(name: "content-type", value: "application/json")
            for (name, value) in headers { request.headers.add(name: name, value: value) }
            request.body = .bytes(ByteBuffer(string: body))
            let response = try await http.execute(request, timeout: .seconds(30))
            guard response.status == .ok else { throw BenchError(description: "\(url) answered \(response.status)") }
            var sawChunk = !stream
            for try await buffer in response.body where !sawChunk {
                sawChunk = buffer.readableBytesView.firstRange(of: Array("data:".utf8)) != nil
            }
            if !sawChunk { throw BenchError(description: "the stream from \(url) ended without a chunk") }
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
