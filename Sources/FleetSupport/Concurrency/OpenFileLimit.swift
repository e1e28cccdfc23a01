import Glibc

/// Each open SSE stream takes two file descriptors (the client's connection and the provider's),
/// and many systems start a process with a soft limit of 1,024: about 500 streams. `serve` raises
/// the soft limit to the hard one at start (so does `fleetd-bench`), as nginx's
/// `worker_rlimit_nofile` lets one do, and says what it has.
public enum OpenFileLimit {
    /// Raises the soft `RLIMIT_NOFILE` to the hard limit; returns (soft, hard) in force after.
    public static func raiseToHardLimit() -> (soft: UInt64, hard: UInt64)? {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return nil }
        if limit.rlim_cur < limit.rlim_max {
            var raised = limit
            raised.rlim_cur = limit.rlim_max
            if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) == 0 { limit = raised }
        }
        return (UInt64(limit.rlim_cur), UInt64(limit.rlim_max))
    }
}
