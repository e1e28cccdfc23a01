import FleetSupport
import Foundation
import GRDB
import Store
import Testing

@Suite("Store crash safety")
struct StoreCrashTests {
    /// The StoreCrashWriter executable, built next to the test bundle in the products directory.
    static func writerExecutable() throws -> URL {
        var directories: [URL] = []
        if let exe = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            directories.append(URL(fileURLWithPath: exe).deletingLastPathComponent())
        }
        directories.append(Bundle.main.bundleURL.deletingLastPathComponent())
        directories.append(Bundle.main.bundleURL)
        for directory in directories {
            let candidate = directory.appendingPathComponent("StoreCrashWriter")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
        }
        throw StoreError(.io, "StoreCrashWriter not found in \(directories.map(\.path)); build it with `swift build --build-tests`")
    }

    /// Runs the writer, SIGKILLs it once `killAfter` ids are printed, and returns every printed id.
    static func runAndKill(executable: URL, database: String, killAfter: Int) async throws -> (ids: [String], ended: ChildProcess.Termination) {
        let child = try await ChildProcess.start(executable: executable.path, arguments: [database, "1000000"], environment: [:], output: .pipe)
        let pid = child.pid
        let handle = FileHandle(fileDescriptor: child.standardOutput!.rawValue, closeOnDealloc: false) // the child closes it
        let ids: [String] = await withCheckedContinuation { continuation in
            // Blocking reads on a dedicated thread, not on the cooperative pool.
            let reader = Thread {
                var buffer = Data()
                var killed = false
                while true {
                    let chunk = handle.availableData
                    if chunk.isEmpty { break } // EOF: the child is gone
                    buffer.append(chunk)
                    if !killed, buffer.reduce(0, { $0 + ($1 == 10 ? 1 : 0) }) >= killAfter {
                        kill(pid, SIGKILL)
                        killed = true
                    }
                }
                // Only whole lines count: a line is printed after its commit.
                let text = String(decoding: buffer, as: UTF8.self)
                var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
                lines.removeLast() // the empty tail after the last newline, or a partial line
                continuation.resume(returning: lines)
            }
            reader.start()
        }
        return (ids, await child.waitForExit())
    }

    @Test func sigkillMidWriteLosesNoCommittedEntry() async throws {
        let dir = try StoreTempDirectory()
        defer { dir.remove() }
        let executable = try Self.writerExecutable()
        let path = dir.path()
        let (ids, ended) = try await Self.runAndKill(executable: executable, database: path, killAfter: 300)
        #expect(ended == .signaled(SIGKILL))
        #expect(ids.count >= 300)

        let db = try await StoreDatabase(path: path)
        let (integrity, stored, ledgerSum, ledgerCount, totals) = try await db.read("test") { db in
            (try String.fetchAll(db, sql: "PRAGMA integrity_check"),
             try String.fetchSet(db, sql: "SELECT entry_id FROM cost_ledger"),
             try Double.fetchOne(db, sql: "SELECT TOTAL(cost) FROM cost_ledger") ?? -1,
             try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM cost_ledger") ?? -1,
             try Row.fetchOne(db, sql: "SELECT cost, entries FROM cost_totals WHERE period = 'all' AND scope = 'overall'")
                .map { (cost: $0["cost"] as Double, entries: $0["entries"] as Int) })
        }
        #expect(integrity == ["ok"])
        let missing = ids.filter { !stored.contains($0) }
        #expect(missing.isEmpty, "committed ids missing after the crash: \(missing.prefix(5))")
        // The kill may land after a commit but before its print: at most one such entry.
        #expect(stored.count >= ids.count && stored.count <= ids.count + 1)
        // Ledger and running totals were committed together, never one without the other.
        #expect(totals?.entries == ledgerCount)
        #expect(abs((totals?.cost ?? -1) - ledgerSum) < 1e-9)
        // And the reopened file keeps working.
        let tracker = try CostTracker(database: db)
        try await tracker.record(CostCall(model: "m", provider: "p", taskId: "after", agentId: "a", taskType: "t"),
                                 usage: CostUsage(inputTokens: 1, outputTokens: 1), pricing: ModelPricing(input: 1, output: 1), entryId: "after-crash")
    }
}
