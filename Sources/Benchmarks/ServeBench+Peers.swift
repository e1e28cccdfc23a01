import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import Synchronization

struct BenchError: Error, CustomStringConvertible {
    var description: String
}

/// CPU time (user + system) process `pid` has used so far, from `/proc/PID/stat`; 0 when it is gone.
func cpuSeconds(ofProcess pid: Int32) -> Double {
    let stat = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? ""
    // Fields after the command name (which is in parentheses and may hold spaces).
    let fields = stat.split(separator: ")").last.map { $0.split(separator: " ") } ?? []
    let ticks = fields.count > 12 ? (Double(fields[11]) ?? 0) + (Double(fields[12]) ?? 0) : 0
    return ticks / Double(sysconf(Int32(_SC_CLK_TCK)))
}

/// The `fleetd` binary built beside this one, run as `fleetd serve` against the upstream.
final class ChildFleetd: Sendable {
    let port: Int
    private let process: Process

    /// `fleetd serve` on the bench-only minimal config, its models on `upstream` (plain HTTP, or
    /// HTTPS with its CA trusted through `FLEETD_EXTRA_CA_CERTS`).
    static func start(upstream: BenchUpstream, directory: URL, agents: Int, costTracking: Bool) async throws -> ChildFleetd {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let config = directory.appendingPathComponent("fleet.yaml")
        let endpoint = upstream.server.baseURL + "/v1"
        var environment: [String: String] = [:]
        if let tls = upstream.tls {
            let file = directory.appendingPathComponent("upstream-ca.pem")
            try tls.writeCA(to: file)
            environment["FLEETD_EXTRA_CA_CERTS"] = file.path
        }
        try """
        fleet: {id: bench, maxAgents: \(agents), taskTimeout: 120000}
        agents: [{type: bench, count: \(agents)}]
        api: {host: 127.0.0.1, maxQueuedTasks: 100000}
        logging: {level: notice}
        features: {multiModelRouter: true, streaming: true}
        routing:
          enabled: true
          defaultModel: up
          strategy: cost
          models:
            - {name: up, provider: openai, model: fast, credentials: {endpoint: "\(endpoint)"}, capabilities: {costPer1kTokens: {input: 0.001, output: 0.002}}}
            - {name: hold, provider: openai, model: hold, credentials: {endpoint: "\(endpoint)"}, capabilities: {costPer1kTokens: {input: 0.01, output: 0.02}}}
          costTracking: {enabled: \(costTracking)}
        streaming: {enabled: true, timeoutMs: 120000, firstChunkTimeoutMs: 20000, idleTimeoutMs: 120000, retryConfig: {maxRetries: 0}}
        """.write(to: config, atomically: true, encoding: .utf8)
        return try await launch(config: config, directory: directory, environment: environment)
    }

    /// `fleetd serve` on a config file as it is (e.g. `config/fleet.yaml` as shipped), every
    /// provider pointed at `upstreamPort` by the providers' base-URL variables, with a dummy key
    /// each (the upstream checks none). Nothing in the file is changed.
    /// `wrapper`: a command fleetd runs under (e.g. `heaptrack -o FILE`); ``stop()`` then stops
    /// fleetd itself, and waits for the wrapper to finish.
    static func start(configFile: URL, upstreamPort: Int, directory: URL, wrapper: [String] = []) async throws -> ChildFleetd {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let base = "http://127.0.0.1:\(upstreamPort)"
        let environment = [
            "ANTHROPIC_BASE_URL": base, "OPENAI_BASE_URL": base + "/v1", "GOOGLE_GEMINI_BASE_URL": base, "XAI_BASE_URL": base + "/v1",
            "OLLAMA_HOST": base,
            "ANTHROPIC_API_KEY": "bench", "OPENAI_API_KEY": "bench", "GOOGLE_API_KEY": "bench", "XAI_API_KEY": "bench",
        ]
        return try await launch(config: configFile, directory: directory, environment: environment, wrapper: wrapper)
    }

    private static func launch(config: URL, directory: URL, environment: [String: String], wrapper: [String] = []) async throws -> ChildFleetd {
        let process = Process()
        let binary = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent().appendingPathComponent("fleetd")
        guard FileManager.default.isExecutableFile(atPath: binary.path) else {
            throw BenchError(description: "no fleetd binary beside fleetd-bench at \(binary.path): build both with `swift build -c release`")
        }
        let arguments = ["serve", "--config", config.path, "--port", "0", "--data-dir", directory.appendingPathComponent("data").path]
        if let command = wrapper.first {
            process.executableURL = URL(fileURLWithPath: command)
            process.arguments = Array(wrapper.dropFirst()) + [binary.path] + arguments
        } else {
            process.executableURL = binary
            process.arguments = arguments
        }
        var inherited = ["PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"]
        // The executor choice is passed on, so a run can compare the two.
        if let executor = ProcessInfo.processInfo.environment["FLEETD_EVENT_LOOP_EXECUTOR"] { inherited["FLEETD_EVENT_LOOP_EXECUTOR"] = executor }
        // And glibc's allocator settings, so a run can compare them (the memory per stream).
        if let tunables = ProcessInfo.processInfo.environment["GLIBC_TUNABLES"] { inherited["GLIBC_TUNABLES"] = tunables }
        process.environment = inherited.merging(environment) { $1 }
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        let log = TextBuffer()
        errors.fileHandleForReading.readabilityHandler = { handle in
            log.append(String(decoding: handle.availableData, as: UTF8.self))
        }
        try process.run()
        for _ in 0..<600 {
            try await Task.sleep(for: .milliseconds(25))
            let text = log.text
            if let line = text.split(separator: "\n").first(where: { $0.contains("fleetd listening") }),
               let range = line.range(of: #":(\d+)""#, options: .regularExpression), let port = Int(line[range].dropFirst().dropLast()) {
                // Keep the warnings and errors fleetd logs (the level is notice: no line per request).
                errors.fileHandleForReading.readabilityHandler = { handle in
                    let data = handle.availableData
                    // At the end of its output (it exited) stop watching: the handler would be called again and again.
                    guard !data.isEmpty else { return handle.readabilityHandler = nil }
                    let text = String(decoding: data, as: UTF8.self)
                    for line in text.split(separator: "\n") where line.contains("\"warning\"") || line.contains("\"error\"") {
                        log.append(String(line) + "\n")
                    }
                }
                return ChildFleetd(port: port, process: process, log: log, wrapped: !wrapper.isEmpty)
            }
            if !process.isRunning { break }
        }
        process.terminate()
        throw BenchError(description: "fleetd did not start: \(log.text)")
    }

    private let log: TextBuffer
    /// Whether `process` is a wrapper whose child is fleetd.
    private let wrapped: Bool

    private init(port: Int, process: Process, log: TextBuffer, wrapped: Bool) {
        self.port = port
        self.process = process
        self.log = log
        self.wrapped = wrapped
    }

    /// The last warning and error lines fleetd logged.
    func problems(last count: Int) -> [String] {
        Array(log.text.split(separator: "\n").suffix(count).map(String.init))
    }

    var tasksURL: String { "http://127.0.0.1:\(port)/v1/tasks" }

    static func taskBody(stream: Bool) -> String {
        #"{"prompt":"Say ten tokens.","stream":\#(stream)}"#
    }

    /// `POST /v1/chat/completions`: the same task through the OpenAI-compatible endpoint.
    var chatURL: String { "http://127.0.0.1:\(port)/v1/chat/completions" }

    static func chatBody(stream: Bool) -> String {
        #"{"model":"auto","messages":[{"role":"user","content":"Say ten tokens."}],"stream":\#(stream)}"#
    }

    /// `POST /v1/responses`: the same task through OpenAI's Responses API, kept for
    /// `previous_response_id` (`store`, the API's default) or not.
    var responsesURL: String { "http://127.0.0.1:\(port)/v1/responses" }

    static func responsesBody(store: Bool) -> @Sendable (Bool) -> String {
        { stream in #"{"model":"auto","input":"Say ten tokens.","stream":\#(stream),"store":\#(store)}"# }
    }

    /// CPU time (user + system) and context switches of the fleetd process so far.
    func usage() -> (cpuSeconds: Double, contextSwitches: Int) {
        let pid = process.processIdentifier
        var switches = 0
        if let threads = try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task") {
            for thread in threads {
                let status = (try? String(contentsOfFile: "/proc/\(pid)/task/\(thread)/status", encoding: .utf8)) ?? ""
                for line in status.split(separator: "\n") where line.contains("ctxt_switches") {
                    switches += Int(line.split(separator: "\t").last?.trimmingCharacters(in: .whitespaces) ?? "") ?? 0
                }
            }
        }
        return (cpuSeconds(ofProcess: pid), switches)
    }

    /// One task; for SSE, `onFirstChunk` runs when the first chunk arrives and the stream is read to its end.
    func task(_ http: HTTPClient, stream: Bool, model: String? = nil, prompt: String = "Say ten tokens.",
              onFirstChunk: @Sendable () -> Void = {}) async throws {
        let preferred = model.map { #","preferredModel":"\#($0)""# } ?? ""
        try await call(http, url: "http://127.0.0.1:\(port)/v1/tasks", body: #"{"prompt":"\#(prompt)","stream":\#(stream)\#(preferred)}"#,
                       stream: stream, held: stream && (model == "hold" || prompt.contains("HOLDME")), firstChunk: "event: chunk",
                       onFirstChunk: onFirstChunk)
    }

    /// The same call through `POST /v1/chat/completions` (`model` a model's name, or `auto`).
    func chat(_ http: HTTPClient, stream: Bool, model: String = "auto", onFirstChunk: @Sendable () -> Void = {}) async throws {
        let body = #"{"model":"\#(model)","messages":[{"role":"user","content":"Say ten tokens."}],"stream":\#(stream)}"#
        try await call(http, url: chatURL, body: body, stream: stream, held: stream && model == "hold",
                       firstChunk: "chat.completion.chunk", onFirstChunk: onFirstChunk)
    }

    /// Posts `body`; for a stream, reads until `firstChunk` appears (then `onFirstChunk`) and on to its end.
    private func call(_ http: HTTPClient, url: String, body: String, stream: Bool, held: Bool, firstChunk: String,
                      onFirstChunk: @Sendable () -> Void) async throws {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "content-type", value: "application/json")
        request.body = .bytes(ByteBuffer(string: body))
        let response = try await http.execute(request, timeout: .seconds(held ? 180 : 20))
        guard response.status == .ok else { throw BenchError(description: "fleetd answered \(response.status)") }
        var seenChunk = false
        for try await buffer in response.body where stream && !seenChunk {
            if buffer.readableBytesView.firstRange(of: Array(firstChunk.utf8)) != nil {
                seenChunk = true
                onFirstChunk()
            }
        }
        if stream && !seenChunk { throw BenchError(description: "the stream ended without a chunk") }
    }

    /// VmRSS and VmHWM (peak) of the fleetd process, in KiB.
    func memoryKiB() -> (rss: Int, hwm: Int, anon: Int, file: Int) {
        let status = (try? String(contentsOfFile: "/proc/\(process.processIdentifier)/status", encoding: .utf8)) ?? ""
        func value(_ key: String) -> Int {
            let line = status.split(separator: "\n").first { $0.hasPrefix(key) } ?? ""
            return Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0
        }
        return (value("VmRSS:"), value("VmHWM:"), value("RssAnon:"), value("RssFile:") + value("RssShmem:"))
    }

    func stop() {
        if wrapped, let fleetd = Self.descendant(of: process.processIdentifier, named: "fleetd") {
            kill(fleetd, SIGINT)
        } else {
            process.interrupt()
        }
        process.waitUntilExit()
    }

    /// A process below `ancestor` whose command name is `name`, read from `/proc`.
    private static func descendant(of ancestor: Int32, named name: String) -> Int32? {
        var parents: [Int32: (parent: Int32, name: String)] = [:]
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let pid = Int32(entry), let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
                  let open = stat.firstIndex(of: "("), let close = stat.lastIndex(of: ")") else { continue }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            guard fields.count > 1, let parent = Int32(fields[1]) else { continue }
            parents[pid] = (parent, String(stat[stat.index(after: open)..<close]))
        }
        return parents.first { pid, info in
            guard info.name == name else { return false }
            var current = info.parent
            while current > 1 {
                if current == ancestor { return true }
                current = parents[current]?.parent ?? 0
            }
            return false
        }?.key
    }
}

/// Text that arrives from another thread (a child's standard error).
final class TextBuffer: Sendable {
    private let storage = Mutex("")
    func append(_ text: String) { storage.withLock { $0 += text } }
    var text: String { storage.withLock { $0 } }
}

/// A plain nginx `proxy_pass` hop to the upstream (keep-alive to it, no buffering), the floor for
/// what a proxy adds: started from Debian's `nginx` when it is installed.
final class NginxHop: Sendable {
    let port: Int
    private let pid: Int32

    static func find() -> String? {
        ["/usr/sbin/nginx", "/usr/bin/nginx", "/usr/local/sbin/nginx"].first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// Starts nginx on a port the kernel just picked as free (a random one in the ephemeral range
    /// collided with the connections a load run had just left).
    static func start(executable: String, upstreamPort: Int, directory: URL) async throws -> NginxHop {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let port = try freeLoopbackPort()
        let conf = directory.appendingPathComponent("nginx.conf")
        let d = directory.path
        try """
        worker_processes 1;
        daemon off;
        master_process off;
        pid \(d)/nginx.pid;
        error_log \(d)/error.log warn;
        events { worker_connections 8192; }
        http {
          access_log off;
          client_body_temp_path \(d)/body; proxy_temp_path \(d)/proxy; fastcgi_temp_path \(d)/fastcgi;
          uwsgi_temp_path \(d)/uwsgi; scgi_temp_path \(d)/scgi;
          upstream up { server 127.0.0.1:\(upstreamPort); keepalive 64; }
          server {
            listen 127.0.0.1:\(port);
            location / {
              proxy_pass http://up;
              proxy_http_version 1.1;
              proxy_set_header Connection "";
              proxy_buffering off;
            }
          }
        }
        """.write(to: conf, atomically: true, encoding: .utf8)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = ["-c", conf.path, "-p", d]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        // Ready when it accepts a connection.
        for _ in 0..<200 {
            if loopbackAccepts(port: port) { return NginxHop(port: port, pid: process.processIdentifier) }
            if !process.isRunning { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        process.terminate()
        throw BenchError(description: "nginx did not start: \((try? String(contentsOf: directory.appendingPathComponent("error.log"), encoding: .utf8)) ?? "")")
    }

    private init(port: Int, pid: Int32) {
        self.port = port
        self.pid = pid
    }

    var url: String { "http://127.0.0.1:\(port)/v1/chat/completions" }

    /// SIGKILL: children inherit a signal mask that blocks SIGTERM.
    func stop() {
        kill(pid, SIGKILL)
    }
}

/// LiteLLM's proxy (`litellm --config`), from a virtual environment the caller installed it in,
/// in front of the same upstream: one model, `fast`, as `openai/fast` on the upstream's
/// Chat Completions. One worker (its default); a master key, which it requires.
final class LiteLLMHop: Sendable {
    let port: Int
    let version: String
    private let pid: Int32
    private static let key = "sk-bench-\(UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased())"

    static func start(environment venv: String, upstreamPort: Int, directory: URL) async throws -> LiteLLMHop {
        let executable = URL(fileURLWithPath: venv).appendingPathComponent("bin/litellm").path
        guard FileManager.default.isExecutableFile(atPath: executable) else {
            throw BenchError(description: "no LiteLLM proxy at \(executable): python3 -m venv \(venv) && \(venv)/bin/pip install 'litellm[proxy]'")
        }
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let config = directory.appendingPathComponent("litellm.yaml")
        try """
        model_list:
          - model_name: fast
            litellm_params:
              model: openai/fast
              api_base: http://127.0.0.1:\(upstreamPort)/v1
              api_key: bench
        """.write(to: config, atomically: true, encoding: .utf8)
        let port = try freeLoopbackPort()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = ["--config", config.path, "--port", "\(port)", "--host", "127.0.0.1", "--num_workers", "1"]
        process.environment = [
            "PATH": URL(fileURLWithPath: venv).appendingPathComponent("bin").path + ":" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"),
            "HOME": directory.path, "LITELLM_MASTER_KEY": key, "LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_LOG": "ERROR",
        ]
        let log = directory.appendingPathComponent("litellm.log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil) // opened next, which fails if it was not made
        let handle = try FileHandle(forWritingTo: log)
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        // Its imports and start-up take seconds: ready when the port takes a connection.
        for _ in 0..<1_200 {
            if loopbackAccepts(port: port) {
                return LiteLLMHop(port: port, pid: process.processIdentifier, version: installedVersion(venv))
            }
            if !process.isRunning { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        kill(process.processIdentifier, SIGKILL)
        throw BenchError(description: "LiteLLM's proxy did not start: \((try? String(contentsOf: log, encoding: .utf8))?.suffix(2_000) ?? "")")
    }

    private init(port: Int, pid: Int32, version: String) {
        self.port = port
        self.pid = pid
        self.version = version
    }

    var url: String { "http://127.0.0.1:\(port)/v1/chat/completions" }
    var headers: [(String, String)] { [("Authorization", "Bearer \(Self.key)")] }

    func stop() {
        kill(pid, SIGKILL)
    }

    /// The version pip installed (`litellm-<version>.dist-info`).
    private static func installedVersion(_ venv: String) -> String {
        let lib = URL(fileURLWithPath: venv).appendingPathComponent("lib")
        for python in (try? FileManager.default.contentsOfDirectory(atPath: lib.path)) ?? [] {
            let packages = lib.appendingPathComponent(python).appendingPathComponent("site-packages")
            for entry in (try? FileManager.default.contentsOfDirectory(atPath: packages.path)) ?? []
            where entry.hasPrefix("litellm-") && entry.hasSuffix(".dist-info") {
                return String(entry.dropFirst("litellm-".count).dropLast(".dist-info".count))
            }
        }
        return "(version unknown)"
    }
}

/// A loopback port nothing uses now (the kernel's pick for port 0), for a peer to listen on.
private func freeLoopbackPort() throws -> Int {
    let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(socket) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(socket, $0, length) == 0 && getsockname(socket, $0, &length) == 0 }
    }
    guard bound else { throw BenchError(description: "no free loopback port for a bench peer") }
    return Int(UInt16(bigEndian: address.sin_port))
}

/// Whether something on 127.0.0.1 accepts a connection on `port` now (a peer that has started).
private func loopbackAccepts(port: Int) -> Bool {
    let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(socket) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    return withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    } == 0
}
