import FleetSupport
import Foundation
import Synchronization
import SystemPackage
import Testing

/// ChildProcess: what fleetd starts tool servers with, and the tests start fleetd with.
@Suite struct ChildProcessTests {
    @Test("run: its input goes in whole, its output and error come back apart, its exit code is the status")
    func runCollects() async throws {
        let result = try await ChildProcess.run(executable: "/bin/sh", arguments: ["-c", "tr a-z A-Z; echo oops >&2; exit 3"],
                                                environment: ["PATH": "/usr/bin:/bin"], input: Array("hello\n".utf8))
        #expect(result.status == 3)
        #expect(String(decoding: result.output, as: UTF8.self) == "HELLO\n")
        #expect(String(decoding: result.error, as: UTF8.self) == "oops\n")
    }

    @Test("a child gets only the environment it is given, and starts in the directory it is given")
    func environmentAndDirectory() async throws {
        let result = try await ChildProcess.run(executable: "/bin/sh", arguments: ["-c", "env; pwd"], environment: ["ONLY": "this"],
                                                directory: "/tmp")
        let lines = String(decoding: result.output, as: UTF8.self).split(separator: "\n")
        #expect(lines.contains("ONLY=this"))
        #expect(!lines.contains { $0.hasPrefix("HOME=") })
        #expect(lines.last == "/tmp")
    }

    /// Foundation's `Process.run()` read past the end of a heap block with this many descriptors
    /// open (valgrind); here the child starts, and none of them reaches it.
    @Test("with 1,500 descriptors open, a child starts and inherits none of them")
    func manyDescriptorsOpen() async throws {
        let limit = try #require(OpenFileLimit.raiseToHardLimit())
        try #require(limit.soft > 2_000, "the soft limit on open files is \(limit.soft)")
        var opened: [FileDescriptor] = []
        defer { for descriptor in opened { try? descriptor.close() } }
        for _ in 0..<1_500 { opened.append(try FileDescriptor.open("/dev/null", .readOnly)) }
        // `ls`'s own descriptors: 0, 1, 2 and the one it reads the directory with.
        let result = try await ChildProcess.run(executable: "/bin/ls", arguments: ["/proc/self/fd"], environment: [:])
        let open = String(decoding: result.output, as: UTF8.self).split(separator: "\n").compactMap { Int($0) }
        #expect(result.status == 0)
        #expect(open.count <= 4, "the child had \(open.count) descriptors open: \(open.prefix(20))")
    }

    @Test("start: a child that is signalled ends .signaled, its onExit is told, and waiting for it returns at once after")
    func signalledChild() async throws {
        let told = Mutex<(pid: Int32, status: Int32)?>(nil)
        let child = try await ChildProcess.start(executable: "/bin/sleep", arguments: ["30"], environment: [:]) { pid, status in
            told.withLock { $0 = (pid, status) }
        }
        #expect(child.isRunning && child.exitStatus == nil)
        child.signal(SIGTERM)
        #expect(await child.waitForExit() == .signaled(SIGTERM))
        #expect(!child.isRunning && child.exitStatus == SIGTERM)
        #expect(await child.waitForExit() == .signaled(SIGTERM))
        let deadline = ContinuousClock.now + .seconds(5)
        while told.withLock({ $0 }) == nil, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
        #expect(told.withLock { $0?.pid } == child.pid)
        #expect(told.withLock { $0?.status } == SIGTERM)
    }

    @Test("start with pipes: what is written to its input comes back on its output; closing the input ends it")
    func pipes() async throws {
        let child = try await ChildProcess.start(executable: "/bin/cat", arguments: [], environment: [:], input: .pipe, output: .pipe)
        let input = try #require(child.standardInput), output = try #require(child.standardOutput)
        _ = try input.writeAll(Array("line\n".utf8))
        var buffer = [UInt8](repeating: 0, count: 16)
        let count = try buffer.withUnsafeMutableBytes { try output.read(into: $0) }
        #expect(String(decoding: buffer.prefix(count), as: UTF8.self) == "line\n")
        child.closeInput()
        #expect(await child.waitForExit() == .exited(0))
    }

    @Test("a child in a group of its own: a signal to the group ends what it started too")
    func processGroup() async throws {
        // The shell starts a `sleep` and prints its pid; both are in the shell's new group.
        let child = try await ChildProcess.start(executable: "/bin/sh", arguments: ["-c", "sleep 30 & echo $!; wait"],
                                                 environment: ["PATH": "/usr/bin:/bin"], newProcessGroup: true, output: .pipe)
        #expect(getpgid(child.pid) == child.pid)
        let output = try #require(child.standardOutput)
        var buffer = [UInt8](repeating: 0, count: 32)
        let count = try buffer.withUnsafeMutableBytes { try output.read(into: $0) }
        let grandchild = try #require(Int32(String(decoding: buffer.prefix(count), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)))
        #expect(getpgid(grandchild) == child.pid)
        child.signal(SIGKILL, group: true)
        #expect(await child.waitForExit() == .signaled(SIGKILL))
        // The grandchild is gone, or a zombie its new parent has yet to reap.
        let deadline = ContinuousClock.now + .seconds(5)
        func alive() -> Bool {
            guard let stat = try? String(contentsOfFile: "/proc/\(grandchild)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { return false }
            return !stat[close...].hasPrefix(") Z")
        }
        while alive(), ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
        #expect(!alive(), "the group's sleep \(grandchild) still runs")
    }

    @Test("an executable that is not there: start throws an error that names it")
    func missingExecutable() async throws {
        let path = "/nonexistent/fleetd-\(UUID().uuidString)"
        let error = await #expect(throws: (any Error).self) {
            _ = try await ChildProcess.start(executable: path, arguments: [], environment: [:])
        }
        #expect(error.map { "\($0)" }?.contains(path) == true, "\(String(describing: error))")
    }
}
