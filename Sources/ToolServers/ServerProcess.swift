import Foundation

/// A started stdio tool server: its process and the pipes to it, held by its connection actor
/// only (the pipes are not Sendable). The SDK's stdio transport reads and writes the raw
/// descriptors, so the `Pipe`s (which close them when released) are kept for as long as the
/// connection.
///
/// The server leads a process group of its own (Foundation's `Process` spawns with
/// `POSIX_SPAWN_SETPGROUP`), and what it starts joins that group: `npx` runs the real server
/// (`node`) as its child, `sh -c` its command. Ending the server therefore signals the whole
/// group, so that no child outlives it.
final class ServerProcess {
    private let process: Process
    private let pipes: [Pipe]
    let pid: Int32
    /// Whether it leads its own process group: then signals go to the group, else to it alone.
    private let leadsGroup: Bool

    /// - Parameter pipes: its standard input's first, then the others.
    init(process: Process, pipes: [Pipe]) {
        self.process = process
        self.pipes = pipes
        pid = process.processIdentifier
        leadsGroup = getpgid(pid) == pid
    }

    var isRunning: Bool { process.isRunning }

    /// Its exit status once it has exited (and been reaped), else `nil`.
    var exitStatus: Int32? { process.isRunning ? nil : process.terminationStatus }

    /// Starts ending it: its standard input is closed now (how MCP asks a stdio server to exit);
    /// the returned value signals its group (``ProcessGroupTermination/run(grace:)``).
    func stop() -> ProcessGroupTermination {
        try? pipes.first?.fileHandleForWriting.close()
        return ProcessGroupTermination(process: process, pid: pid, signalsGroup: leadsGroup)
    }
}

/// Ends a tool server and every process of its group: SIGTERM, then SIGKILL once the server has
/// exited or the grace period is over. The SIGKILL goes to the group either way: a child that
/// outlived its parent (a `node` whose `npx` ended) is ended with it.
///
/// SIGTERM alone is not enough: a server may inherit a mask in which SIGTERM is blocked (the
/// signals swift-service-lifecycle handles are blocked in fleetd's threads; seen as SigBlk in
/// `/proc/<pid>/status` of servers left running), or ignore it.
struct ProcessGroupTermination: Sendable {
    let process: Process
    let pid: Int32
    /// Whether `pid` leads its own group (then `-pid` is signalled).
    let signalsGroup: Bool

    /// Returns once SIGKILL was sent: after the server exited, after `grace`, or at once when
    /// the calling task is cancelled (fleetd's shutdown ran out of time).
    func run(grace: Duration) async {
        send(SIGTERM)
        let deadline = ContinuousClock.now + grace
        while process.isRunning, ContinuousClock.now < deadline {
            do {
                try await Task.sleep(for: .milliseconds(25))
            } catch {
                break
            }
        }
        send(SIGKILL)
    }

    private func send(_ number: Int32) {
        _ = kill(signalsGroup ? -pid : pid, number)
    }
}
