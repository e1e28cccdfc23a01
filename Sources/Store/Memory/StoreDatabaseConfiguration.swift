import Foundation

/// How fleetd opens its SQLite file (`database` in the config file).
///
/// The lead resolves `database.filename` against `--data-dir` and passes the absolute path.
public struct StoreDatabaseConfiguration: Sendable, Hashable {
    /// How long a write waits for another process's lock before failing with
    /// ``StoreError/Code/locked``, in seconds. Default 5. Valid: 0…600.
    public var busyTimeoutSeconds: Double
    /// Maximum number of concurrent reader connections in the WAL pool. Default 4. Valid: 1…64.
    public var maximumReaderCount: Int

    public init(busyTimeoutSeconds: Double = 5, maximumReaderCount: Int = 4) {
        self.busyTimeoutSeconds = busyTimeoutSeconds
        self.maximumReaderCount = maximumReaderCount
    }
}
