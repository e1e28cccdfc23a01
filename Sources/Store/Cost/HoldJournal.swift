import FleetSupport
import Foundation

/// This process's reservation holds and settlements, appended to a file of its own as they are
/// made: what a restart bills when a crash left calls in flight (at their estimate) or answered
/// calls whose ledger rows were not yet written (at their real cost).
///
/// Why a file and not the `cost_reservations` table: a hold written by a transaction of its own
/// cost every task a second SQLite commit, and the task's settlement waited behind it (about
/// 0.35 ms of a JSON task's 1.7–2.1 ms at one caller on config/fleet.yaml, docs/performance.md).
/// One `write(2)` of a line is as durable as a WAL commit with `synchronous = NORMAL` (it
/// survives the process, not the machine), and it is in the file before the provider is called,
/// where the table's row was written beside the call.
///
/// One file per process, named after ``ProcessIdentity/current`` (so `fleetd mcp` beside `fleetd
/// serve` never bills the other's calls in flight), one line per event:
/// - `+{"id":…,"call":{…},"cost":…,"at":…}`: a hold made;
/// - `-id`: a hold released (the provider never took the call: nothing to bill);
/// - `={"id":…,"call":{…},"usage":{…},"cost":…,"basis":…}`: a hold settled at its real cost,
///   written before the answer goes out and before its ledger row is (the row is written by the
///   next group commit, off the answer's path: ``CostTracker`` `settle`).
///
/// A hold whose settlement is in the ledger needs nothing more: its ledger row carries the hold's
/// id, and recovery skips the holds the ledger already has; one settled here but not yet in the
/// ledger is billed at its real cost, the others at their estimate. The file is emptied when no
/// hold is in force and it passed ``emptyingBytes``, rewritten with only the holds in force (and their settlements) when it grows
/// past ``compactionBytes``, and removed when fleetd stops with nothing held.
///
/// Not `Sendable`: one ``CostTracker`` owns it and uses it from its actor only.
final class HoldJournal {
    /// The directory of every process's journal (beside the SQLite file).
    let directory: String
    /// This process's file.
    let path: String
    /// Past this size the file is rewritten with only the holds in force.
    let compactionBytes: Int
    /// Past this size a file with no hold in force is emptied.
    static let emptyingBytes = 64 << 10
    private var descriptor: Int32 = -1
    private(set) var bytes = 0

    /// One hold as a line holds it (written by ``holdLine(_:)``).
    struct Hold: Codable {
        var id: String
        var call: CostCall
        var cost: Double
        var at: Double
    }

    /// One settlement as a line holds it (written by ``settlementLine(_:)``).
    struct Settled: Codable {
        var id: String
        var call: CostCall
        var usage: CostUsage
        var cost: Double
        var basis: CostBasis
    }

    init(directory: String, owner: String = ProcessIdentity.current, compactionBytes: Int = 4 << 20) {
        self.directory = directory
        self.path = (directory as NSString).appendingPathComponent(Self.fileName(owner: owner))
        self.compactionBytes = compactionBytes
    }

    deinit { if descriptor >= 0 { close(descriptor) } }

    private static let suffix = ".holds"
    static func fileName(owner: String) -> String { owner.replacingOccurrences(of: ":", with: "-") + suffix }
    static func owner(ofFileNamed name: String) -> String? {
        guard name.hasSuffix(suffix) else { return nil }
        let stem = name.dropLast(suffix.count)
        guard let dash = stem.firstIndex(of: "-") else { return nil }
        return stem[..<dash] + ":" + stem[stem.index(after: dash)...]
    }

    // MARK: - Appending

    /// Appends a hold. Throws when the line could not be written whole (the caller then keeps the
    /// hold some other way).
    func appendHold(_ reservation: CostReservation) throws {
        try append(try Self.holdLine(reservation))
    }

    /// `+` and a ``Hold``'s JSON, the text `FastJSONEncoder` writes for it, and a newline.
    ///
    /// By hand, as the settlement's line: every task writes both on its answer's path, and the
    /// encoder's containers for them were about 2% of a task's CPU on config/fleet.yaml. A test
    /// holds both to the encoder's text.
    static func holdLine(_ reservation: CostReservation) throws -> [UInt8] {
        var line: [UInt8] = []
        line.reserveCapacity(256)
        line.append(contentsOf: #"+{"id":"#.utf8)
        JSONText.appendString(reservation.id, to: &line)
        line.append(contentsOf: #","call":"#.utf8)
        appendCall(reservation.call, to: &line)
        line.append(contentsOf: #","cost":"#.utf8)
        try JSONText.appendNumber(reservation.estimatedCost, to: &line)
        line.append(contentsOf: #","at":"#.utf8)
        try JSONText.appendNumber(reservation.createdAt.timeIntervalSince1970, to: &line)
        line.append(contentsOf: "}\n".utf8)
        return line
    }

    /// `=` and a ``Settled``'s JSON, the text `FastJSONEncoder` writes for it, and a newline.
    static func settlementLine(_ entry: CostLedgerEntry) throws -> [UInt8] {
        var line: [UInt8] = []
        line.reserveCapacity(320)
        line.append(contentsOf: #"={"id":"#.utf8)
        JSONText.appendString(entry.entryId, to: &line)
        line.append(contentsOf: #","call":"#.utf8)
        appendCall(entry.call, to: &line)
        let usage = entry.usage
        line.append(contentsOf: #","usage":{"inputTokens":"#.utf8)
        JSONText.appendInteger(usage.inputTokens, to: &line)
        line.append(contentsOf: #","outputTokens":"#.utf8)
        JSONText.appendInteger(usage.outputTokens, to: &line)
        line.append(contentsOf: #","cachedTokens":"#.utf8)
        JSONText.appendInteger(usage.cachedTokens, to: &line)
        line.append(contentsOf: #","cacheWriteTokens":"#.utf8)
        JSONText.appendInteger(usage.cacheWriteTokens, to: &line)
        line.append(contentsOf: #","cacheWriteHourTokens":"#.utf8)
        JSONText.appendInteger(usage.cacheWriteHourTokens, to: &line)
        line.append(contentsOf: #"},"cost":"#.utf8)
        try JSONText.appendNumber(entry.cost, to: &line)
        line.append(contentsOf: #","basis":"#.utf8)
        JSONText.appendString(entry.basis.rawValue, to: &line)
        line.append(contentsOf: "}\n".utf8)
        return line
    }

    private static func appendCall(_ call: CostCall, to line: inout [UInt8]) {
        line.append(contentsOf: #"{"model":"#.utf8)
        JSONText.appendString(call.model, to: &line)
        line.append(contentsOf: #","provider":"#.utf8)
        JSONText.appendString(call.provider, to: &line)
        line.append(contentsOf: #","taskId":"#.utf8)
        JSONText.appendString(call.taskId, to: &line)
        line.append(contentsOf: #","agentId":"#.utf8)
        JSONText.appendString(call.agentId, to: &line)
        line.append(contentsOf: #","taskType":"#.utf8)
        JSONText.appendString(call.taskType, to: &line)
        if let keyId = call.keyId {
            line.append(contentsOf: #","keyId":"#.utf8)
            JSONText.appendString(keyId, to: &line)
        }
        if let tenantId = call.tenantId {
            line.append(contentsOf: #","tenantId":"#.utf8)
            JSONText.appendString(tenantId, to: &line)
        }
        line.append(UInt8(ascii: "}"))
    }

    /// Appends a settlement: the hold is billed at `entry`'s real cost, whether or not its ledger row
    /// was written when the process ended. Throws when the line could not be written whole.
    func appendSettlement(_ entry: CostLedgerEntry) throws {
        try append(try Self.settlementLine(entry))
    }

    /// Appends a release: the hold is not to be billed.
    func appendRelease(_ id: String) throws {
        try append(Array("-\(id)\n".utf8))
    }

    private func append(_ line: [UInt8]) throws {
        try openIfNeeded()
        try Self.writeAll(line, to: descriptor, path: path)
        bytes += line.count
    }

    private func openIfNeeded() throws {
        guard descriptor < 0 else { return }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw StoreError(.io, "cannot open the reservation journal \(path): \(String(cString: strerror(errno)))") }
        descriptor = fd
        bytes = Int(lseek(fd, 0, SEEK_END))
    }

    private static func writeAll(_ bytes: [UInt8], to fd: Int32, path: String) throws {
        try bytes.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let written = write(fd, buffer.baseAddress! + offset, buffer.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    throw StoreError(.io, "cannot write the reservation journal \(path): \(String(cString: strerror(errno)))")
                }
                offset += written
            }
        }
    }

    // MARK: - Keeping it small

    /// Empties the file (no hold is in force), or rewrites it with `inForce` (and the settlements
    /// of theirs not yet in the ledger, `settled`) when it passed ``compactionBytes``. Does nothing
    /// while it is small.
    func compact(inForce: [CostReservation], settled: [CostLedgerEntry] = []) throws {
        guard isCompactionDue(holdsInForce: !inForce.isEmpty) else { return }
        if inForce.isEmpty {
            guard descriptor >= 0 else { return }
            guard ftruncate(descriptor, 0) == 0 else {
                throw StoreError(.io, "cannot empty the reservation journal \(path): \(String(cString: strerror(errno)))")
            }
            bytes = 0
            return
        }
        // Written beside it, then renamed over it: a crash leaves the old file or the new one.
        let replacement = HoldJournal(directory: directory, compactionBytes: compactionBytes)
        let temporary = path + ".new"
        unlink(temporary)
        // O_APPEND as the file it replaces: after an emptying (ftruncate), the next line goes at
        // the start, not at the old offset past a run of zero bytes.
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw StoreError(.io, "cannot rewrite the reservation journal \(path): \(String(cString: strerror(errno)))") }
        replacement.descriptor = fd
        do {
            for hold in inForce { try replacement.appendHold(hold) }
            for entry in settled { try replacement.appendSettlement(entry) }
        } catch {
            unlink(temporary)
            throw error
        }
        guard rename(temporary, path) == 0 else {
            unlink(temporary)
            throw StoreError(.io, "cannot replace the reservation journal \(path): \(String(cString: strerror(errno)))")
        }
        if descriptor >= 0 { close(descriptor) }
        descriptor = fd
        replacement.descriptor = -1
        bytes = replacement.bytes
    }

    /// Whether ``compact(inForce:)`` would do anything: the file is past ``emptyingBytes`` with no
    /// hold in force, or past ``compactionBytes`` with some.
    func isCompactionDue(holdsInForce: Bool) -> Bool {
        bytes > (holdsInForce ? compactionBytes : Self.emptyingBytes)
    }

    /// Removes this process's file (fleetd stops with no hold in force).
    func remove() {
        if descriptor >= 0 { close(descriptor) }
        descriptor = -1
        bytes = 0
        unlink(path)
    }

    // MARK: - Recovery

    /// A journal left by a process that is no longer running.
    struct Leftover {
        var path: String
        /// Its holds never released, in the order they were made (some may have been settled).
        var holds: [CostReservation]
        /// The settlements of those holds it wrote, by hold id (some may be in the ledger already),
        /// dated when the journal is read.
        var settlements: [String: CostLedgerEntry] = [:]
    }

    /// The journals in `directory` of processes that are not running, with their unreleased holds.
    /// A line cut short by the crash is skipped.
    static func leftovers(in directory: String, isLive: (String) -> Bool) -> [Leftover] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return [] }
        return names.sorted().compactMap { name -> Leftover? in
            guard let owner = owner(ofFileNamed: name), owner != ProcessIdentity.current, !isLive(owner) else { return nil }
            let path = (directory as NSString).appendingPathComponent(name)
            guard let data = FileManager.default.contents(atPath: path) else { return nil }
            let read = contents(of: data)
            return Leftover(path: path, holds: read.holds, settlements: read.settlements)
        }
    }

    static func holds(in data: Data) -> [CostReservation] { contents(of: data).holds }

    /// The holds in force in a journal's text, in the order they were made, and the settlements of
    /// those it has (dated now: a crash's leftovers are billed when they are read).
    static func contents(of data: Data) -> (holds: [CostReservation], settlements: [String: CostLedgerEntry]) {
        var order: [String] = []
        var held: [String: CostReservation] = [:]
        var settlements: [String: CostLedgerEntry] = [:]
        let now = Date()
        let decoder = JSONDecoder()
        for line in data.split(separator: UInt8(ascii: "\n")) {
            guard let first = line.first else { continue }
            let rest = line.dropFirst()
            switch first {
            case UInt8(ascii: "+"):
                guard let hold = try? decoder.decode(Hold.self, from: Data(rest)) else { continue }
                if held[hold.id] == nil { order.append(hold.id) }
                held[hold.id] = CostReservation(id: hold.id, call: hold.call, estimatedCost: hold.cost,
                                                createdAt: Date(timeIntervalSince1970: hold.at))
            case UInt8(ascii: "-"):
                held.removeValue(forKey: String(decoding: rest, as: UTF8.self))
            case UInt8(ascii: "="):
                guard let settled = try? decoder.decode(Settled.self, from: Data(rest)) else { continue }
                settlements[settled.id] = CostLedgerEntry(entryId: settled.id, call: settled.call, usage: settled.usage,
                                                          cost: settled.cost, timestamp: now, basis: settled.basis)
            default:
                continue
            }
        }
        let holds = order.compactMap { held[$0] }
        let inForce = Set(holds.map(\.id))
        return (holds, settlements.filter { inForce.contains($0.key) })
    }
}
