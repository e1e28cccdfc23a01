import FleetSupport
import Foundation
import Synchronization
import SystemPackage

/// A started stdio tool server: its process (``ChildProcess``, not Foundation's `Process`, which
/// misreads memory once a busy fleetd has ~1,365 descriptors open) with the ends of its pipes, its
/// standard error read into fleetd's log. Held by its connection actor.
///
/// The server leads a process group of its own, and what it starts joins that group: `npx` runs
/// the real server (`node`) as its child, `sh -c` its command. Ending the server therefore signals
/// the whole group, so that no child outlives it.
final class ServerProcess: Sendable {
    private let child: ChildProcess

    private init(child: ChildProcess) {
        self.child = child
    }

    var pid: Int32 { child.pid }
    /// The server's standard input (written) and standard output (read).
    var input: FileDescriptor { child.standardInput! } // started with `.pipe`
    var output: FileDescriptor { child.standardOutput! } // started with `.pipe`

    /// Starts `executable` with only `environment`, in a group of its own; the lines of its
    /// standard error go to `logLines`. `onExit` is called once it has exited, with its status.
    static func start(executable: String, arguments: [String], environment: [String: String], directory: String?,
                      logLines: @escaping @Sendable (Substring) -> Void,
                      onExit: @escaping @Sendable (_ pid: Int32, _ status: Int32) async -> Void) async throws -> ServerProcess {
        let child = try await ChildProcess.start(executable: executable, arguments: arguments, environment: environment, directory: directory,
                                                 newProcessGroup: true, input: .pipe, output: .pipe, error: .pipe, onExit: onExit)
        // The server's own log lines (MCP servers log to standard error) go to fleetd's log, whole:
        // a line that arrives in two reads is one log line.
        let lines = LineAssembler()
        child.readStandardError { data in
            for line in lines.add(data) { logLines(line) }
        }
        return ServerProcess(child: child)
    }

    var isRunning: Bool { child.isRunning }

    /// Its exit status once it has exited (and been reaped), else `nil`.
    var exitStatus: Int32? { child.exitStatus }

    /// Starts ending it: its standard input is closed now (how MCP asks a stdio server to exit);
    /// the returned value signals its group (``ProcessGroupTermination/run(grace:)``).
    func stop() -> ProcessGroupTermination {
        child.closeInput()
        return ProcessGroupTermination(child: child)
    }
}

/// Cuts a byte stream into lines: a line is handed over once its newline has arrived, or at the
/// end (an empty chunk), or once it is 64 KiB long. Empty lines are dropped.
final class LineAssembler: Sendable {
    private let pending = Mutex<[UInt8]>([])
    static let longest = 64 * 1_024

    func add(_ data: Data) -> [Substring] {
        let complete = pending.withLock { pending -> [UInt8] in
            if data.isEmpty {
                defer { pending = [] }
                return pending
            }
            pending.append(contentsOf: data)
            guard let last = pending.lastIndex(of: UInt8(ascii: "\n")) else {
                guard pending.count >= Self.longest else { return [] }
                defer { pending = [] }
                return pending
            }
            defer { pending.removeSubrange(...last) }
            return Array(pending[...last])
        }
        return String(decoding: complete, as: UTF8.self).split(separator: "\n").filter { !$0.isEmpty }
    }
}

/// Ends a tool server and every process of its group: SIGTERM, then SIGKILL once the server has
/// exited or the grace period is over. The SIGKILL goes to the group either way: a child that
/// outlived its parent (a `node` whose `npx` ended) is ended with it.
///
/// SIGTERM alone is not enough: a server may ignore it, or block it.
struct ProcessGroupTermination: Sendable {
    let child: ChildProcess

    /// Returns once SIGKILL was sent: after the server exited, after `grace`, or at once when
    /// the calling task is cancelled (fleetd's shutdown ran out of time).
    func run(grace: Duration) async {
        send(SIGTERM)
        let deadline = ContinuousClock.now + grace
        while child.isRunning, ContinuousClock.now < deadline {
            do {
                try await Task.sleep(for: .milliseconds(25))
            } catch {
                break
            }
        }
        send(SIGKILL)
    }

    private func send(_ number: Int32) {
        child.signal(number, group: true)
    }
}
