import AsyncHTTPClient
import FleetSupport
import Foundation

/// Allocations per task, counted by heaptrack (Debian's `heaptrack`, which counts every call to
/// malloc and its kin) when it is installed.
///
/// Why two runs: heaptrack reports totals for a whole process. fleetd runs under it once for a
/// warm-up of W tasks and once for the same warm-up followed by N more, on the same config, one
/// caller, tasks one after another; the difference over N is what one task allocates. Start-up,
/// the warm-up and the first-call caches cancel out; what does not is the work fleetd's timers do
/// in the N tasks' few extra seconds (a few allocations per task at most).
enum AllocationCount {
    static func find() -> (heaptrack: String, print: String)? {
        for directory in ["/usr/bin", "/usr/local/bin"] {
            let heaptrack = directory + "/heaptrack", print = directory + "/heaptrack_print"
            if FileManager.default.isExecutableFile(atPath: heaptrack), FileManager.default.isExecutableFile(atPath: print) {
                return (heaptrack, print)
            }
        }
        return nil
    }

    /// Prints allocations per JSON task and per SSE task through `/v1/tasks` on `configFile`.
    static func measure(tools: (heaptrack: String, print: String), configFile: URL, label: String, upstreamPort: Int,
                        http: HTTPClient, directory: URL, scale: Double) async throws {
        let warmUp = 200
        let tasks = max(200, Int(2_000 * scale))
        let base = try await count(tools: tools, configFile: configFile, upstreamPort: upstreamPort, http: http,
                                   directory: directory.appendingPathComponent("alloc-base"), runs: [(false, warmUp), (true, warmUp)])
        var line = "allocations per task (heaptrack, \(label), /v1/tasks, one caller, \(tasks) tasks after \(warmUp) JSON and \(warmUp) SSE to warm up):"
        for stream in [false, true] {
            let total = try await count(tools: tools, configFile: configFile, upstreamPort: upstreamPort, http: http,
                                        directory: directory.appendingPathComponent("alloc-\(stream)"),
                                        runs: [(false, warmUp), (true, warmUp), (stream, tasks)])
            line += " \(stream ? "SSE" : "JSON") \(String(format: "%.0f", Double(total - base) / Double(tasks)))"
            line += stream ? "" : ","
        }
        print(line)
    }

    /// fleetd under heaptrack for `runs` (stream or not, how many tasks, in order): heaptrack's
    /// count of calls to allocation functions for the whole process.
    private static func count(tools: (heaptrack: String, print: String), configFile: URL, upstreamPort: Int, http: HTTPClient,
                              directory: URL, runs: [(stream: Bool, tasks: Int)]) async throws -> Int {
        let output = directory.appendingPathComponent("heaptrack")
        let fleetd = try await ChildFleetd.start(configFile: configFile, upstreamPort: upstreamPort, directory: directory,
                                                 wrapper: [tools.heaptrack, "-o", output.path])
        do {
            for run in runs {
                for _ in 0..<run.tasks { try await fleetd.task(http, stream: run.stream) }
            }
        } catch {
            fleetd.stop()
            throw error
        }
        fleetd.stop()
        let printed = try await ChildProcess.run(executable: tools.print, arguments: ["-f", output.path + ".zst", "--print-peaks", "0",
                                                                             "--print-allocators", "0", "--print-temporary", "0", "--print-leaks", "0"],
                                                 environment: ProcessInfo.processInfo.environment)
        let report = String(decoding: printed.output, as: UTF8.self)
        // "calls to allocation functions: 1168430 (167372/s)"
        guard let line = report.split(separator: "\n").first(where: { $0.hasPrefix("calls to allocation functions:") }),
              let calls = line.split(separator: " ").dropFirst(4).first.flatMap({ Int($0) }) else {
            throw BenchError(description: "heaptrack_print gave no allocation count: \(report.prefix(300))")
        }
        return calls
    }
}

