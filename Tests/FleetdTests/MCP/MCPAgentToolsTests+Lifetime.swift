import Foundation
import Testing

/// How long a stdio tool server lives: a server behind a wrapper (as `npx` starts `node`) stops
/// with everything it started, when fleetd stops and when a reload removes it; a reload that
/// changes a server leaves the calls of tasks already running on the server they began with.
extension MCPAgentToolsTests {
    /// Tests/SDK/spawning_wrapper.py: runs the tool server as its child, as `npx` runs `node`.
    static let wrapper = SDKCompatibilityTests.repositoryRoot.appendingPathComponent("Tests/SDK/spawning_wrapper.py")

    /// Where the wrapper writes its child's pid: beside the tool log.
    static func childPidFile(_ log: URL) -> URL {
        log.deletingLastPathComponent().appendingPathComponent("child.pid")
    }

    /// The `mcpServers` entry of the weather server started through the wrapper; the server stays
    /// after its standard input closed (`LINGER`), so only a signal to it ends it.
    static func wrappedServer(python: String, log: URL) -> String {
        """
                - name: weather
                  command: \(python)
                  args: ["\(wrapper.path)", "\(python)", "\(toolServer.path)"]
                  env: {LINGER: "1", TOOL_LOG: "\(log.path)", CHILD_PID_FILE: "\(childPidFile(log).path)"}
        """
    }

    /// The wrapper's child, once it wrote its pid.
    static func childPid(_ log: URL) -> Int32? {
        (try? String(contentsOf: childPidFile(log), encoding: .utf8)).flatMap { Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
    }

    /// The tool server's calls, as it logged them.
    static func toolCalls(_ log: URL) -> [[String: Any]] {
        ((try? String(contentsOf: log, encoding: .utf8)) ?? "").split(separator: "\n").compactMap {
            (try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any]
        }
    }

    /// Whether `pid` is a process still running (one that ended but is not yet reaped is not).
    static func isAlive(_ pid: Int32) -> Bool {
        guard let handle = FileHandle(forReadingAtPath: "/proc/\(pid)/stat") else { return false }
        defer { try? handle.close() }
        let stat = String(decoding: (try? handle.readToEnd()) ?? Data(), as: UTF8.self)
        // `pid (name) state …`: the state follows the last `)`.
        guard let nameEnd = stat.lastIndex(of: ")") else { return false }
        let state = stat[stat.index(after: nameEnd)...].drop { $0 == " " }.first ?? "X"
        return state != "Z" && state != "X"
    }

    @Test("a server behind a wrapper (as npx starts node): the wrapper's child stops with fleetd, though it ignores its closed input")
    func wrappedServerStopsWithFleetd() async throws {
        var child: Int32?
        try await withFleet(.anthropic, server: { Self.wrappedServer(python: $0, log: $1) }) { fleetd, _, log in
            let response = try await Self.run(fleetd, "wrapped-1")
            #expect(Self.firstCallOutcome(response) == "ok", "\(response.body)\n\(fleetd.logText.suffix(2_000))")
            child = Self.childPid(log)
            let pid = try #require(child)
            #expect(Self.isAlive(pid))
            #expect(Self.toolCalls(log).first?["pid"] as? Int == Int(pid), "the wrapper's child ran the call")
        }
        // withFleet stopped fleetd (SIGTERM) and waited for its exit.
        let pid = try #require(child)
        #expect(await eventually(timeout: .seconds(10)) { !Self.isAlive(pid) }, "the wrapper's child \(pid) outlived fleetd")
    }

    @Test("a reload that removes a server behind a wrapper stops the wrapper's child too")
    func reloadRemovingWrappedServerStopsItsChild() async throws {
        let python = try await SDKCompatibilityTests.python()
        let missing = """
                - name: missing
                  command: /nonexistent/tool-server
        """
        try await withFleet(.anthropic, server: { Self.wrappedServer(python: $0, log: $1) }) { fleetd, _, log in
            #expect(await eventually(timeout: .seconds(10)) { Self.childPid(log) != nil })
            let child = try #require(Self.childPid(log))
            #expect(Self.isAlive(child))
            // The same file with the server replaced by one that cannot start, then SIGHUP.
            let file = log.deletingLastPathComponent().appendingPathComponent("fleet.yaml")
            let text = try String(contentsOf: file, encoding: .utf8)
            let entry = Self.wrappedServer(python: python, log: log)
            #expect(text.contains(entry))
            try text.replacingOccurrences(of: entry, with: missing).write(to: file, atomically: true, encoding: .utf8)
            fleetd.signal(SIGHUP)
            #expect(await eventually(timeout: .seconds(15)) { !Self.isAlive(child) },
                    "the removed server's child \(child) still runs\n\(fleetd.logText.suffix(2_000))")
        }
    }

    @Test("a reload that changes a server during a call: the call ends on the server it began with, later tasks get the new one, the old one stops after")
    func reloadChangingServerDuringCall() async throws {
        try await withFleet(.anthropic, mode: "slow") { fleetd, _, log in
            let first = Task { () async throws -> (outcome: String, body: String) in
                let response = try await Self.run(fleetd, "reload-1")
                return (Self.firstCallOutcome(response), response.body)
            }
            // The call is in the server (which answers after 4 s); its settings change meanwhile.
            #expect(await eventually(timeout: .seconds(10)) { Self.toolCalls(log).count == 1 }, "\(fleetd.logText.suffix(2_000))")
            let old = try #require(Self.toolCalls(log).first?["pid"] as? Int)
            let file = log.deletingLastPathComponent().appendingPathComponent("fleet.yaml")
            let text = try String(contentsOf: file, encoding: .utf8)
            #expect(text.contains("WEATHER_MODE: slow"))
            try text.replacingOccurrences(of: "WEATHER_MODE: slow", with: "WEATHER_MODE: ok").write(to: file, atomically: true, encoding: .utf8)
            fleetd.signal(SIGHUP)

            let answer = try await first.value
            #expect(answer.outcome == "ok", "the call kept its server through the reload: \(answer.body)\n\(fleetd.logText.suffix(2_000))")
            #expect(await eventually(timeout: .seconds(20)) { fleetd.logText.components(separatedBy: "agent tools ready").count > 2 },
                    "\(fleetd.logText.suffix(2_000))")
            let second = try await Self.run(fleetd, "reload-2")
            #expect(Self.firstCallOutcome(second) == "ok", "\(second.body)")
            let calls = Self.toolCalls(log)
            #expect(calls.count == 2 && calls.last?["mode"] as? String == "ok" && calls.last?["pid"] as? Int != old, "\(calls)")
            // No task uses the replaced server any more: it stops.
            #expect(await eventually(timeout: .seconds(10)) { !Self.isAlive(Int32(old)) }, "the replaced server \(old) still runs")
        }
    }

    /// CPU seconds `pid` has used (user and system), from `/proc/<pid>/stat`.
    static func cpuSeconds(_ pid: Int32) -> Double {
        let stat = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? ""
        guard let nameEnd = stat.lastIndex(of: ")") else { return 0 }
        // After `pid (name)`: state is field 3, utime 14 and stime 15.
        let fields = stat[stat.index(after: nameEnd)...].split(separator: " ")
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return 0 }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    @Test("a tool server whose output ends during the call but that keeps running: an error result at once, the server ended, fleetd idle")
    func serverWhoseOutputEnds() async throws {
        try await withFleet(.anthropic, mode: "mute", limits: "toolTimeoutMs: 25000") { fleetd, fake, log in
            let started = ContinuousClock.now
            let response = try await Self.run(fleetd, "mute-1")
            #expect(response.status == 200, "\(response.body)\n\(fleetd.logText.suffix(2_000))")
            #expect(Self.firstCallOutcome(response) == "failed", "\(response.body)\n\(fleetd.logText.suffix(2_000))")
            #expect(ContinuousClock.now - started < .seconds(10), "not held until the tool's 25 s timeout")
            let last = String(decoding: fake.requests.last?.body ?? [], as: UTF8.self)
            #expect(last.contains("\"is_error\":true"), "\(last)")
            // The server, which could not answer any more, was ended.
            let pid = try #require(Self.toolCalls(log).first?["pid"] as? Int)
            #expect(await eventually(timeout: .seconds(10)) { !Self.isAlive(Int32(pid)) }, "the mute server \(pid) still runs")
            // And fleetd does not spin on the ended output.
            let before = Self.cpuSeconds(fleetd.pid)
            try await Task.sleep(for: .seconds(2))
            let used = Self.cpuSeconds(fleetd.pid) - before
            #expect(used < 0.5, "fleetd used \(used) s of CPU in 2 s while idle")
        }
    }
}
