import Foundation
import Logging
import PostgresNIO

// Fleet-wide news by LISTEN/NOTIFY: a change is written to its table and announced with
// `pg_notify` in the same transaction (delivered at commit, so a listener that reads the table
// after the notification sees it). Every instance listens on one pooled connection per channel;
// a lost connection is re-established (and the listener told to re-read, since notifications
// sent meanwhile are gone).

extension PostgresStore {
    /// Calls `onNotice` with each notification's payload on `channel`, and with `nil` whenever
    /// listening (re)starts, until cancelled. Reconnects after a failure, after `retry`.
    public func listen(on channel: String, retry: Duration = .seconds(1), _ onNotice: @escaping @Sendable (String?) async -> Void) async {
        while !Task.isCancelled {
            do {
                try await client.withConnection { connection in
                    try await connection.listen(on: channel) { notifications in
                        await onNotice(nil)
                        for try await notification in notifications {
                            await onNotice(notification.payload)
                        }
                    }
                }
            } catch {
                if Task.isCancelled { return }
                logger.warning("listening for fleet-wide changes failed; retrying", metadata: ["channel": "\(channel)", "error": "\(Self.describe(error))"])
            }
            try? await Task.sleep(for: retry)
        }
    }
}
