import FleetSupport
import Foundation
import Synchronization

/// The real `fleetd` binary, run as a child process for end-to-end tests.
final class FleetdProcess: Sendable {
    /// `.build/<config>/fleetd`, next to the test bundle.
    static let binary: URL = {
        let candidates = [
            URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("fleetd"),
            Bundle.main.bundleURL.appendingPathComponent("fleetd"),
            Bundle.main.bundleURL.deletingLastPathComponent().appendingPathComponent("fleetd"),
        ]
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0.path) } ?? candidates[0]
    }()

    struct Result: Sendable {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// Runs fleetd to completion (for the one-shot subcommands): `stdin` is its whole input.
    static func run(_ arguments: [String], environment: [String: String] = [:], directory: URL? = nil, stdin: Data? = nil) async throws -> Result {
        let result = try await ChildProcess.run(executable: binary.path, arguments: arguments, environment: baseEnvironment.merging(environment) { $1 },
                                                directory: directory?.path, input: Array(stdin ?? Data()))
        return Result(status: result.status, stdout: String(decoding: result.output, as: UTF8.self), stderr: String(decoding: result.error, as: UTF8.self))
    }

    /// The environment children get: PATH and HOME only, so developers' keys never leak in.
    static var baseEnvironment: [String: String] {
        let parent = ProcessInfo.processInfo.environment
        return ["PATH": parent["PATH"] ?? "/usr/bin:/bin", "HOME": parent["HOME"] ?? "/tmp"]
    }

    private let child: ChildProcess
    private let log: LogBuffer
    let port: Int

    var pid: Int32 { child.pid }

    /// Everything fleetd logged so far (standard error).
    var logText: String { log.text }

    /// Starts `fleetd serve` on a free port and waits until it listens.
    init(config: URL, dataDirectory: URL, environment: [String: String] = [:], extraArguments: [String] = []) async throws {
        let child = try await ChildProcess.start(
            executable: Self.binary.path,
            arguments: ["serve", "--config", config.path, "--port", "0", "--data-dir", dataDirectory.path] + extraArguments,
            environment: Self.baseEnvironment.merging(environment) { $1 }, error: .pipe)
        let log = LogBuffer()
        child.readStandardError { log.append($0) }
        self.child = child
        self.log = log
        var port: Int?
        for _ in 0..<400 where port == nil {
            try await Task.sleep(for: .milliseconds(25))
            port = Self.listeningPort(in: log.text)
            if !child.isRunning { break }
        }
        guard let port else {
            child.signal(SIGKILL)
            throw StartError(log: log.text)
        }
        self.port = port
    }

    struct StartError: Error, CustomStringConvertible {
        var log: String
        var description: String { "fleetd did not start listening; its log:\n\(log)" }
    }

    var baseURL: String { "http://127.0.0.1:\(port)" }

    /// Sends a signal (SIGTERM, SIGHUP …).
    func signal(_ number: Int32) {
        child.signal(number)
    }

    /// Waits for the process to exit and returns its status; kills it after `timeout`.
    func waitForExit(timeout: Duration = .seconds(20)) async -> Int32 {
        let deadline = ContinuousClock.now + timeout
        while child.isRunning, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
        if child.isRunning { child.signal(SIGKILL) }
        return await child.waitForExit().code
    }

    deinit {
        if child.isRunning { child.signal(SIGKILL) }
    }

    private static func listeningPort(in log: String) -> Int? {
        // {"address":"[IPv4]127.0.0.1/127.0.0.1:PORT", … "msg":"fleetd listening"…}
        for line in log.split(separator: "\n") where line.contains("fleetd listening") {
            if let range = line.range(of: #":(\d+)""#, options: .regularExpression) {
                return Int(line[range].dropFirst().dropLast())
            }
        }
        return nil
    }
}

/// What a child wrote to standard error, collected as it arrives.
final class LogBuffer: Sendable {
    private let storage = Mutex("")

    func append(_ data: Data) {
        storage.withLock { $0 += String(decoding: data, as: UTF8.self) }
    }

    var text: String { storage.withLock { $0 } }
}
