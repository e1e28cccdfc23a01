import FleetSupport
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
    ///
    /// Every `heartbeat`, the listening connection is asked `SELECT 1`; one that gives no answer
    /// within `operationTimeout` is closed and listening starts again on a new one (with a re-read).
    /// A connection the server can no longer reach (a partition, a server that restarted behind
    /// it) raises no error by itself: TCP's own keepalive takes hours, and meanwhile this
    /// instance would miss every change announced by the others.
    public func listen(on channel: String, retry: Duration = .seconds(1), heartbeat: Duration = .seconds(15),
                       _ onNotice: @escaping @Sendable (String?) async -> Void) async {
        let timeout = configuration.operationTimeout, logger = self.logger
        while !Task.isCancelled {
            do {
                try await client.withConnection { connection in
                    try await connection.listen(on: channel) { notifications in
                        await onNotice(nil)
                        try await withThrowingDiscardingTaskGroup { group in
                            group.addTask {
                                await Self.checkAlive(connection, every: heartbeat, timeout: timeout, channel: channel, logger: logger)
                            }
                            for try await notification in notifications {
                                await onNotice(notification.payload)
                            }
                            group.cancelAll()
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

    /// Asks `connection` `SELECT 1` every `interval` until cancelled; closes it (which ends the
    /// listening on it) the first time no answer comes within `timeout`.
    private static func checkAlive(_ connection: PostgresConnection, every interval: Duration, timeout: Duration,
                                   channel: String, logger: Logger) async {
        while !Task.isCancelled {
            do {
                try await Task.sleep(for: interval)
            } catch {
                return
            }
            do {
                try await withDeadline(timeout, timedOut: { PostgresStoreError(.timedOut, "no answer within \(timeout)") }) {
                    try await connection.query("SELECT 1", logger: logger)
                }
            } catch {
                if Task.isCancelled { return }
                logger.warning("the connection listening for fleet-wide changes gave no answer; listening again on a new one",
                               metadata: ["channel": "\(channel)", "error": "\(describe(error))"])
                let closing: EventLoopFuture<Void> = connection.close() // not awaited: the server may not answer
                closing.whenComplete { _ in }
                return
            }
        }
    }
}
