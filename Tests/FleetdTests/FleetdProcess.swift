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

    /// Runs fleetd to completion (for the one-shot subcommands), on a thread of its own: waiting
    /// for the child blocks, and on a test thread it held back every other test's timers (the
    /// whole suite shares two cores).
    static func run(_ arguments: [String], environment: [String: String] = [:], directory: URL? = nil, stdin: Data? = nil) async throws -> Result {
        try await withCheckedThrowingContinuation { continuation in
            Thread {
                continuation.resume(with: Swift.Result { try runBlocking(arguments, environment: environment, directory: directory, stdin: stdin) })
            }.start()
        }
    }

    private static func runBlocking(_ arguments: [String], environment: [String: String], directory: URL?, stdin: Data?) throws -> Result {
        let process = Process()
        process.executableURL = binary
        process.arguments = arguments
        process.environment = baseEnvironment.merging(environment) { $1 }
        if let directory { process.currentDirectoryURL = directory }
        let out = Pipe(), err = Pipe(), input = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = input
        try process.run()
        if let stdin { input.fileHandleForWriting.write(stdin) }
        try input.fileHandleForWriting.close()
        let stdoutData = out.fileHandleForReading.readDataToEndOfFile()
        let stderrData = err.fileHandleForReading.readDataToEndOfFile()
        // Closed here, not left to the handles' deinit: Foundation's `Process` keeps its pipes, and
        // it outlived the run, so every run left two descriptors open in the test process.
        try? out.fileHandleForReading.close()
        try? err.fileHandleForReading.close()
        process.waitUntilExit()
        return Result(status: process.terminationStatus, stdout: String(decoding: stdoutData, as: UTF8.self), stderr: String(decoding: stderrData, as: UTF8.self))
    }

    /// The environment children get: PATH and HOME only, so developers' keys never leak in.
    static var baseEnvironment: [String: String] {
        let parent = ProcessInfo.processInfo.environment
        return ["PATH": parent["PATH"] ?? "/usr/bin:/bin", "HOME": parent["HOME"] ?? "/tmp"]
    }

    private let process: Process
    private let log: LogBuffer
    /// Our end of the child's standard error, closed in deinit: Foundation's `Process` keeps its
    /// pipes and outlives this object, so every fleetd a test started left it open.
    private let errors: FileHandle
    let port: Int

    var pid: Int32 { process.processIdentifier }

    /// Everything fleetd logged so far (standard error).
    var logText: String { log.text }

    /// Starts `fleetd serve` on a free port and waits until it listens.
    init(config: URL, dataDirectory: URL, environment: [String: String] = [:], extraArguments: [String] = []) async throws {
        let process = Process()
        process.executableURL = Self.binary
        process.arguments = ["serve", "--config", config.path, "--port", "0", "--data-dir", dataDirectory.path] + extraArguments
        process.environment = Self.baseEnvironment.merging(environment) { $1 }
        let err = Pipe()
        process.standardError = err
        process.standardOutput = FileHandle.nullDevice
        let log = LogBuffer()
        err.fileHandleForReading.readabilityHandler = { handle in
            let data = handle.availableData
            guard !data.isEmpty else {
                // The child closed it (it exited): stop watching (the handler would be called again
                // and again); our end is closed in deinit (`close()` here would wait on this queue).
                handle.readabilityHandler = nil
                return
            }
            log.append(data)
        }
        try process.run()
        self.process = process
        self.log = log
        self.errors = err.fileHandleForReading
        var port: Int?
        for _ in 0..<400 where port == nil {
            try await Task.sleep(for: .milliseconds(25))
            port = Self.listeningPort(in: log.text)
            if !process.isRunning { break }
        }
        guard let port else {
            process.terminate()
            err.fileHandleForReading.readabilityHandler = nil
            try? err.fileHandleForReading.close()
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
        kill(process.processIdentifier, number)
    }

    /// Waits for the process to exit and returns its status; kills it after `timeout`.
    func waitForExit(timeout: Duration = .seconds(20)) async -> Int32 {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
        if process.isRunning {
            process.interrupt()
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        return process.terminationStatus
    }

    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        errors.readabilityHandler = nil
        try? errors.close()
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
