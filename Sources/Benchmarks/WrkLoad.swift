import FleetSupport
import Foundation

/// wrk (https://github.com/wg/wrk) as the load generator, when it is installed.
///
/// wrk is written in C and drives its connections from one event loop, so on a 2-core machine it
/// leaves more of the CPU to the system under test than a Swift client in the bench process
/// would. It is run as a child process; its summary (requests/s, latency percentiles, errors)
/// is parsed from its standard output.
struct WrkLoad {
    let executable: String
    let directory: URL

    /// wrk on `PATH`, if there is one.
    static func find(directory: URL) -> WrkLoad? {
        let paths = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":")
        for path in paths {
            let candidate = "\(path)/wrk"
            if FileManager.default.isExecutableFile(atPath: candidate) {
                return WrkLoad(executable: candidate, directory: directory)
            }
        }
        return nil
    }

    /// POSTs `body` (JSON) to `url` from `connections` connections for `seconds`.
    func run(url: String, body: String, headers: [(String, String)] = [], connections: Int, seconds: Double) async throws -> LoadFigures {
        let script = directory.appendingPathComponent("post-\(UUID().uuidString).lua")
        func quoted(_ text: String) -> String {
            "'" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "'", with: "\\'") + "'"
        }
        let extra = headers.map { "wrk.headers[\(quoted($0.0))] = \(quoted($0.1))" }.joined(separator: "\n")
        try """
        wrk.method = "POST"
        wrk.body = \(quoted(body))
        wrk.headers["Content-Type"] = "application/json"
        \(extra)
        """.write(to: script, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: script) }
        let run = try await ChildProcess.run(executable: executable, arguments: ["-t1", "-c\(connections)", "-d\(max(1, Int(seconds.rounded())))s",
                                                                            "--latency", "-s", script.path, url],
                                             environment: ProcessInfo.processInfo.environment)
        let (status, text) = (run.status, String(decoding: run.output + run.error, as: UTF8.self))
        guard status == 0, let figures = Self.parse(text) else {
            throw BenchError(description: "wrk failed (status \(status)): \(text)")
        }
        return figures
    }

    /// The figures of wrk's summary, or nil when it has none.
    static func parse(_ text: String) -> LoadFigures? {
        var requests: Int?
        var seconds: Double?
        var errors = 0
        var percentiles: [String: Duration] = [:]
        for raw in text.split(separator: "\n") {
            let fields = raw.split(separator: " ", omittingEmptySubsequences: true)
            if fields.count >= 5, fields[1] == "requests", fields[2] == "in" {
                requests = Int(fields[0])
                seconds = duration(String(fields[3].dropLast())).map(Self.seconds)
            } else if fields.count == 2, ["50%", "99%"].contains(fields[0]), let value = duration(String(fields[1])) {
                percentiles[String(fields[0])] = value
            } else if raw.contains("Non-2xx or 3xx responses:"), let count = fields.last.flatMap({ Int($0) }) {
                errors += count
            } else if raw.contains("Socket errors:") {
                // "Socket errors: connect 0, read 0, write 0, timeout 0"
                errors += fields.compactMap { Int($0.trimmingCharacters(in: .punctuationCharacters)) }.reduce(0, +)
            }
        }
        guard let requests, let seconds, let p50 = percentiles["50%"], let p99 = percentiles["99%"] else { return nil }
        return LoadFigures(requests: requests, errors: errors, seconds: seconds, p50: p50, p99: p99)
    }

    /// wrk's durations: `481.00us`, `0.94ms`, `1.20s`, `2.00m`.
    static func duration(_ text: String) -> Duration? {
        let units: [(String, Double)] = [("us", 1e-6), ("ms", 1e-3), ("s", 1), ("m", 60), ("h", 3_600)]
        for (suffix, scale) in units where text.hasSuffix(suffix) {
            guard let value = Double(text.dropLast(suffix.count)) else { return nil }
            return .nanoseconds(Int64(value * scale * 1e9))
        }
        return nil
    }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }
}
