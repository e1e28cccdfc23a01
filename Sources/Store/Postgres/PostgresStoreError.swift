import Foundation

/// A failure of the shared PostgreSQL store, naming the server it concerns.
///
/// Messages never carry bound values, so nothing secret reaches a log line.
public struct PostgresStoreError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Code: String, Sendable, Hashable, CaseIterable {
        /// The server cannot be reached, or refused the login.
        case unreachable = "PG_UNREACHABLE"
        /// An operation did not finish within `operationTimeout` (the server is gone or overloaded).
        case timedOut = "PG_TIMEOUT"
        /// The database was migrated by a newer fleetd; it is left untouched.
        case schemaTooNew = "PG_SCHEMA_TOO_NEW"
        /// Any other failure of a query.
        case failed = "PG_FAILED"
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    /// A label fit for a metric dimension.
    public var shortDescription: String {
        switch code {
        case .unreachable: "unreachable"
        case .timedOut: "timed_out"
        case .schemaTooNew: "schema_too_new"
        case .failed: "failed"
        }
    }

    public var description: String { "\(code.rawValue): \(message)" }
}
