import Foundation

/// Which process holds a reservation in the SQLite file, so that a second fleetd process on the
/// same data directory (`fleetd mcp` beside `fleetd serve`, as an MCP client starts it) does not
/// bill the first one's calls in flight as left by a crash. A process is its pid and its start
/// time (from `/proc`), so a pid reused after a crash is not mistaken for the process that held it.
enum ProcessIdentity {
    /// This process: `pid:starttime`.
    static let current: String = identity(of: getpid()) ?? "\(getpid()):?"

    /// `pid:starttime` of a running process, or `nil` when it is not running (or cannot be read).
    static func identity(of pid: pid_t) -> String? {
        // Field 22 of /proc/<pid>/stat, counted after the command name's closing parenthesis (the
        // name may hold spaces and parentheses of its own).
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 19 else { return nil }
        return "\(pid):\(fields[19])"
    }

    /// Whether the reservation's holder is another process that is still running.
    static func isAnotherLiveProcess(_ owner: String?) -> Bool {
        guard let owner, owner != current, let pid = owner.split(separator: ":").first.flatMap({ pid_t($0) }) else { return false }
        return identity(of: pid) == owner
    }
}
