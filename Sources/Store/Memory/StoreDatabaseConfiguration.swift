import Foundation

/// How fleetd opens its SQLite file.
///
/// The file itself is `database.filename` in the config file: `DataPlane` (module Fleet) resolves
/// it against `--data-dir` and passes the absolute path. These settings are not in the config
/// file; fleetd opens the store with their defaults.
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
