import Foundation
import GRDB

/// A failure of the SQLite store: the file, the schema, or an access rule.
///
/// Errors never carry stored values or bound SQL arguments, so nothing secret reaches a log line.
public struct StoreError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What went wrong, with a stable code.
    public enum Code: String, Sendable, Hashable, CaseIterable {
        /// The disk (or the database's page limit) is full: `SQLITE_FULL`.
        case diskFull = "STORE_DISK_FULL"
        /// The file or its directory is read-only: `SQLITE_READONLY`.
        case readOnly = "STORE_READ_ONLY"
        /// Another connection or process holds a lock for too long: `SQLITE_BUSY` / `SQLITE_LOCKED`.
        case locked = "STORE_LOCKED"
        /// The file is not a database or is damaged: `SQLITE_CORRUPT` / `SQLITE_NOTADB`.
        case corrupt = "STORE_CORRUPT"
        /// The file cannot be opened or an I/O operation failed: `SQLITE_CANTOPEN` / `SQLITE_IOERR`.
        case io = "STORE_IO"
        /// The file was migrated by a newer fleetd; it is left untouched.
        case schemaTooNew = "STORE_SCHEMA_TOO_NEW"
        /// The reader or writer may not see or change this entry.
        case accessDenied = "STORE_ACCESS_DENIED"
        /// A value could not be encoded to or decoded from JSON, or an argument is invalid.
        case invalidValue = "STORE_INVALID_VALUE"
        /// Any other SQLite failure.
        case failed = "STORE_FAILED"
    }

    /// The stable code.
    public var code: Code
    /// What happened and where, for humans.
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    /// A short label fit for a metric dimension, e.g. `disk_full`.
    public var shortDescription: String {
        switch code {
        case .diskFull: "disk_full"
        case .readOnly: "read_only"
        case .locked: "locked"
        case .corrupt: "corrupt"
        case .io: "io"
        case .schemaTooNew: "schema_too_new"
        case .accessDenied: "access_denied"
        case .invalidValue: "invalid_value"
        case .failed: "failed"
        }
    }

    public var description: String { "\(code.rawValue): \(message)" }

    /// Maps any error thrown by GRDB (or our own code) to a `StoreError`.
    ///
    /// - Parameter context: what the store was doing, e.g. `"memory store write"`.
    public static func wrapping(_ error: any Error, context: String) -> StoreError {
        if let error = error as? StoreError { return error }
        if let error = error as? DatabaseError {
            let code: Code
            switch error.resultCode {
            case .SQLITE_FULL: code = .diskFull
            case .SQLITE_READONLY: code = .readOnly
            case .SQLITE_BUSY, .SQLITE_LOCKED: code = .locked
            case .SQLITE_CORRUPT, .SQLITE_NOTADB: code = .corrupt
            case .SQLITE_CANTOPEN, .SQLITE_IOERR, .SQLITE_PERM: code = .io
            default: code = .failed
            }
            // `DatabaseError.message` is SQLite's own text; it never includes bound arguments.
            let detail = error.message ?? "SQLite error"
            return StoreError(code, "\(context): \(detail) (SQLite result code \(error.resultCode.rawValue))")
        }
        if error is EncodingError || error is DecodingError {
            return StoreError(.invalidValue, "\(context): value is not valid JSON for its type (\(error))")
        }
        return StoreError(.failed, "\(context): \(error)")
    }
}
