import Foundation
import GRDB

/// A fresh temporary directory for one test's SQLite files; removed by `remove()`.
struct StoreTempDirectory {
    let url: URL

    init(_ label: String = #function) throws {
        let name = "fleetd-store-\(label.filter { $0.isLetter || $0.isNumber })-\(UUID().uuidString)"
        url = FileManager.default.temporaryDirectory.appendingPathComponent(name, isDirectory: true)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    func path(_ file: String = "fleet.sqlite") -> String { url.appendingPathComponent(file).path }

    func remove() { try? FileManager.default.removeItem(at: url) }
}

/// 2026-01-01T00:00:00Z plus days/hours, for readable test times.
func storeTestDate(_ iso: String) -> Date {
    guard let date = ISO8601DateFormatter().date(from: iso) else {
        preconditionFailure("bad test date literal \(iso)") // test literals only
    }
    return date
}

/// Another connection to the database at `path` takes its write lock (`BEGIN IMMEDIATE`), as
/// another process would, and keeps it for `seconds` on a thread of its own. Returns once the lock
/// is held.
func holdWriteLock(at path: String, for seconds: TimeInterval) throws {
    let other = try DatabaseQueue(path: path)
    let locked = DispatchSemaphore(value: 0)
    let holder = Thread {
        try? other.inDatabase { db in
            try db.execute(sql: "BEGIN IMMEDIATE")
            locked.signal()
            Thread.sleep(forTimeInterval: seconds)
            try db.execute(sql: "COMMIT")
        }
    }
    holder.start()
    locked.wait()
}
