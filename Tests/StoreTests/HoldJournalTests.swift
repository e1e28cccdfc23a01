import FleetSupport
import Foundation
import GRDB
@testable import Store
import Testing

/// Reservation holds appended to a per-process journal before the call is made, billed after a
/// crash, never for a live process, and kept small.
@Suite("CostTracker: the hold journal")
struct HoldJournalTests {
    static let call = CostTracker.testCall
    static let dollarPerK = ModelPricing(input: 1, output: 0)

    static func journalFiles(_ directory: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).filter { $0.hasSuffix(".holds") }.sorted()
    }

    static func lines(_ path: String) throws -> [String] {
        try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map(String.init)
    }

    @Test func aCrashLeavesItsCallsInFlightBilledAndNothingElse() async throws {
        let dir = try StoreTempDirectory()
        defer { dir.remove() }
        let clock = ManualWallClock(storeTestDate("2026-03-10T12:00:00Z"))
        let db = try await StoreDatabase(path: dir.path())
        let journals = CostTracker.holdJournalDirectory(besideDatabaseAt: db.path)
        let tracker = try CostTracker(database: db, clock: clock, holdJournalDirectory: journals)
        let released = try await tracker.reserve(Self.call, estimatedCost: 1)
        let settled = try await tracker.reserve(Self.call, estimatedCost: 1)
        let inFlight = try await tracker.reserve(Self.call, estimatedCost: 2)
        // In the journal as soon as reserve returns, before any call; no transaction for it.
        let files = Self.journalFiles(journals)
        try #require(files.count == 1)
        let path = (journals as NSString).appendingPathComponent(files[0])
        #expect(try Self.lines(path).filter { $0.hasPrefix("+") }.count == 3)
        #expect(try await db.read("test") { try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM cost_reservations") } == 0)
        await tracker.release(released)
        #expect(try Self.lines(path).last == "-\(released.id)")
        try await tracker.settle(settled, usage: CostUsage(inputTokens: 500, outputTokens: 0), pricing: Self.dollarPerK)
        // Its ledger row is written behind the answer; here it is in before the crash.
        await tracker.settledBehind()

        // The process dies with `inFlight` unsettled: its journal is now a dead process's.
        let dead = (journals as NSString).appendingPathComponent("999999999-1.holds")
        try FileManager.default.moveItem(atPath: path, toPath: dead)
        // A live process's journal (the test runner's parent) holds its own calls in flight.
        let stat = try String(contentsOfFile: "/proc/\(getppid())/stat", encoding: .utf8)
        let start = stat[stat.index(after: stat.lastIndex(of: ")")!)...].split(separator: " ")[19]
        let live = (journals as NSString).appendingPathComponent("\(getppid())-\(start).holds")
        try FileManager.default.copyItem(atPath: dead, toPath: live)

        let restarted = try CostTracker(database: db, clock: clock, holdJournalDirectory: journals)
        let billed = try await restarted.billUnsettledReservations()
        #expect(billed.map(\.entryId) == [inFlight.id])
        #expect(billed.map(\.cost) == [2] && billed.first?.basis == .estimated)
        #expect(!FileManager.default.fileExists(atPath: dead), "a billed journal is removed")
        #expect(FileManager.default.fileExists(atPath: live), "a live process's journal is left alone")
        // Settled (0.5) plus the crash's estimate (2), nothing for the release, nothing twice.
        #expect(await restarted.budgetStatus().periods.map(\.spent) == [2.5, 2.5, 2.5])
        #expect(try await restarted.billUnsettledReservations().isEmpty)
    }

    @Test func aSettlementInTheJournalButNotYetInTheLedgerIsBilledAtItsRealCost() async throws {
        let dir = try StoreTempDirectory()
        defer { dir.remove() }
        let clock = ManualWallClock(storeTestDate("2026-03-10T12:00:00Z"))
        let db = try await StoreDatabase(path: dir.path())
        let journals = CostTracker.holdJournalDirectory(besideDatabaseAt: db.path)
        try FileManager.default.createDirectory(atPath: journals, withIntermediateDirectories: true)
        // A dead process answered `cost-a` (its `=` line) and crashed before the group commit wrote
        // its row; `cost-b` was still in flight.
        let call = #""call":{"model":"m","provider":"p","taskId":"t","agentId":"a","taskType":"x"}"#
        let text = [
            #"+{"id":"cost-a","# + call + #","cost":2,"at":0}"#,
            #"+{"id":"cost-b","# + call + #","cost":3,"at":0}"#,
            #"={"id":"cost-a","# + call + #","usage":{"inputTokens":750,"outputTokens":0,"cachedTokens":0},"cost":0.75,"basis":"reported"}"#,
        ].joined(separator: "\n") + "\n"
        try text.write(toFile: (journals as NSString).appendingPathComponent("999999999-1.holds"), atomically: true, encoding: .utf8)

        let restarted = try CostTracker(database: db, clock: clock, holdJournalDirectory: journals)
        let billed = try await restarted.billUnsettledReservations()
        #expect(billed.map(\.entryId).sorted() == ["cost-a", "cost-b"])
        let a = billed.first { $0.entryId == "cost-a" }
        #expect(a?.cost == 0.75 && a?.basis == .reported && a?.usage.inputTokens == 750, "\(String(describing: a))")
        let b = billed.first { $0.entryId == "cost-b" }
        #expect(b?.cost == 3 && b?.basis == .estimated)
        #expect(await restarted.budgetStatus().periods.map(\.spent) == [3.75, 3.75, 3.75])
    }

    @Test func aSettlementAnswersBeforeItsRowAndHoldsItsRealCostUntilThen() async throws {
        let dir = try StoreTempDirectory()
        defer { dir.remove() }
        let clock = ManualWallClock(storeTestDate("2026-03-10T12:00:00Z"))
        let db = try await StoreDatabase(path: dir.path())
        let journals = CostTracker.holdJournalDirectory(besideDatabaseAt: db.path)
        // No group commit for a minute: the rows stay behind until something writes them.
        let tracker = try CostTracker(database: db, configuration: CostConfiguration(budgetLimits: .init(daily: 10)),
                                      clock: clock, holdJournalDirectory: journals, settlementCommitDelay: .seconds(60))
        // One call cheaper than its estimate (5 held, 1 spent), one dearer (1 held, 4 spent).
        let cheaper = try await tracker.reserve(Self.call, estimatedCost: 5)
        let dearer = try await tracker.reserve(Self.call, estimatedCost: 1)
        try await tracker.settle(cheaper, usage: CostUsage(inputTokens: 1_000, outputTokens: 0), pricing: Self.dollarPerK)
        let entry = try await tracker.settle(dearer, usage: CostUsage(inputTokens: 4_000, outputTokens: 0), pricing: Self.dollarPerK)
        #expect(entry.cost == 4)
        let path = (journals as NSString).appendingPathComponent(try #require(Self.journalFiles(journals).first))
        #expect(try Self.lines(path).last?.hasPrefix(#"={"id":"\#(dearer.id)""#) == true, "the settlement's line is in before settle returns")
        #expect(try await db.read("test") { try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM cost_ledger") } == 0)
        // Behind, each counts what it cost: 1 + 4, not the estimates (5 + 1) nor less than spent.
        let during = await tracker.budgetStatus().periods
        #expect(during.allSatisfy { $0.spent == 0 && abs($0.reserved - 5) < 1e-9 }, "\(during)")
        #expect(await tracker.activeReservations == 2)
        // A release of an answered call frees nothing; settling again adds nothing.
        await tracker.release(cheaper)
        try await tracker.settle(dearer, usage: CostUsage(inputTokens: 4_000, outputTokens: 0), pricing: Self.dollarPerK)
        #expect(await tracker.activeReservations == 2)

        await tracker.flushPendingWrites()
        #expect(try await db.read("test") { try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM cost_ledger") } == 2)
        let after = await tracker.budgetStatus().periods
        #expect(after.allSatisfy { abs($0.spent - 5) < 1e-9 && $0.reserved == 0 }, "\(after)")
        #expect(await tracker.activeReservations == 0)
        let report = try await tracker.report(period: .day, breakdowns: [], tenant: nil)
        #expect(abs(report.total.cost - 5) < 1e-9 && report.total.entries == 2, "\(report)")
    }

    @Test func aReportWaitsForTheRowsBehind() async throws {
        let dir = try StoreTempDirectory()
        defer { dir.remove() }
        let db = try await StoreDatabase(path: dir.path())
        let tracker = try CostTracker(database: db, clock: ManualWallClock(storeTestDate("2026-03-10T12:00:00Z")),
                                      holdJournalDirectory: CostTracker.holdJournalDirectory(besideDatabaseAt: db.path),
                                      settlementCommitDelay: .milliseconds(300))
        let reservation = try await tracker.reserve(Self.call, estimatedCost: 1)
        try await tracker.settle(reservation, usage: CostUsage(inputTokens: 500, outputTokens: 0), pricing: Self.dollarPerK)
        let report = try await tracker.report(period: .day, breakdowns: [], tenant: nil)
        #expect(abs(report.total.cost - 0.5) < 1e-9 && report.total.entries == 1, "\(report)")
    }

    @Test func aRewrittenJournalEmptiedLaterTakesItsNextLineAtTheStart() throws {
        let dir = try StoreTempDirectory()
        defer { dir.remove() }
        let journal = HoldJournal(directory: dir.path("holds"), owner: "999999999:3", compactionBytes: 1_000)
        let hold = { (id: String) in CostReservation(id: id, call: Self.call, estimatedCost: 1, createdAt: Date(timeIntervalSince1970: 0)) }
        for index in 0..<20 { try journal.appendHold(hold("cost-\(index)")) }
        try journal.compact(inForce: [hold("cost-0")])   // rewritten: a new descriptor
        while journal.bytes <= HoldJournal.emptyingBytes { try journal.appendRelease("cost-0") }
        try journal.compact(inForce: [])                  // emptied
        try journal.appendHold(hold("cost-next"))
        let data = try #require(FileManager.default.contents(atPath: journal.path))
        #expect(data.first == UInt8(ascii: "+"), "the line goes at the start, not past zero bytes: \(data.prefix(8).map { $0 })")
        #expect(HoldJournal.holds(in: data).map(\.id) == ["cost-next"])
    }

    @Test func aSettlementWrittenPastMidnightCountsInTheDayItIsWrittenIn() async throws {
        let dir = try StoreTempDirectory()
        defer { dir.remove() }
        let clock = ManualWallClock(storeTestDate("2026-03-10T23:59:59Z"))
        let db = try await StoreDatabase(path: dir.path())
        let tracker = try CostTracker(database: db, clock: clock, holdJournalDirectory: CostTracker.holdJournalDirectory(besideDatabaseAt: db.path),
                                      settlementCommitDelay: .seconds(60))
        let reservation = try await tracker.reserve(Self.call, estimatedCost: 1)
        try await tracker.settle(reservation, usage: CostUsage(inputTokens: 500, outputTokens: 0), pricing: Self.dollarPerK)
        clock.advance(by: 2)   // the commit comes after midnight
        await tracker.flushPendingWrites()
        let day = try await tracker.report(period: .day, breakdowns: [], tenant: nil)
        #expect(abs(day.total.cost - 0.5) < 1e-9 && day.total.entries == 1, "the report of 03-11 has it, as the budget does: \(day)")
        #expect(await tracker.budgetStatus().periods.first { $0.period == .day }?.spent == 0.5)
    }

    @Test func aKeysTokensNotYetInTheLedgerAreCounted() async throws {
        let dir = try StoreTempDirectory()
        defer { dir.remove() }
        let clock = ManualWallClock(storeTestDate("2026-03-10T12:00:00Z"))
        let db = try await StoreDatabase(path: dir.path())
        let tracker = try CostTracker(database: db, clock: clock, holdJournalDirectory: CostTracker.holdJournalDirectory(besideDatabaseAt: db.path),
                                      settlementCommitDelay: .seconds(60))
        var call = Self.call
        call.keyId = "k1"
        let reservation = try await tracker.reserve(call, estimatedCost: 1)
        try await tracker.settle(reservation, usage: CostUsage(inputTokens: 300, outputTokens: 20), pricing: Self.dollarPerK)
        let pending = await tracker.pendingTokens(keyId: "k1", since: clock.now.addingTimeInterval(-60))
        let held = await tracker.activeReservations
        #expect(pending.tokens == 320 && pending.oldest == clock.now, "\(pending) \(held)")
        #expect(await tracker.pendingTokens(keyId: "k2", since: clock.now.addingTimeInterval(-60)).tokens == 0)
        await tracker.flushPendingWrites()
        #expect(await tracker.pendingTokens(keyId: "k1", since: clock.now.addingTimeInterval(-60)).tokens == 0)
    }

    @Test func aLineCutShortByTheCrashIsSkipped() throws {
        let hold = #"+{"id":"cost-a","call":{"model":"m","provider":"p","taskId":"t","agentId":"a","taskType":"x"},"cost":1.5,"at":0}"#
        let data = Data((hold + "\n" + #"+{"id":"cost-b","call":{"mod"#).utf8)
        let holds = HoldJournal.holds(in: data)
        #expect(holds.map(\.id) == ["cost-a"] && holds.map(\.estimatedCost) == [1.5])
    }

    @Test func theJournalIsEmptiedWhenNothingIsHeldAndCompactedWhenLarge() async throws {
        let dir = try StoreTempDirectory()
        defer { dir.remove() }
        let db = try await StoreDatabase(path: dir.path())
        let journals = CostTracker.holdJournalDirectory(besideDatabaseAt: db.path)
        let tracker = try CostTracker(database: db, holdJournalDirectory: journals)
        for _ in 0..<400 {
            await tracker.release(try await tracker.reserve(Self.call, estimatedCost: 1))
        }
        let path = (journals as NSString).appendingPathComponent(try #require(Self.journalFiles(journals).first))
        // 400 holds and releases pass 64 KiB; with none held it was emptied on the way.
        #expect(try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int ?? -1 < 64 << 10)

        // Compaction keeps the holds in force, in order, and drops the rest.
        let journal = HoldJournal(directory: journals, owner: "999999999:2", compactionBytes: 1_000)
        let kept = (0..<3).map { CostReservation(id: "cost-kept-\($0)", call: Self.call, estimatedCost: 1, createdAt: Date(timeIntervalSince1970: Double($0))) }
        for index in 0..<20 {
            let hold = CostReservation(id: "cost-gone-\(index)", call: Self.call, estimatedCost: 1, createdAt: Date())
            try journal.appendHold(hold)
            try journal.appendRelease(hold.id)
        }
        for hold in kept { try journal.appendHold(hold) }
        #expect(journal.bytes > 1_000)
        try journal.compact(inForce: kept)
        #expect(journal.bytes < 1_000)
        let data = try #require(FileManager.default.contents(atPath: journal.path))
        #expect(HoldJournal.holds(in: data).map(\.id) == kept.map(\.id))
        // Still appending to the new file.
        try journal.appendRelease("cost-kept-0")
        #expect(HoldJournal.holds(in: try #require(FileManager.default.contents(atPath: journal.path))).map(\.id) == ["cost-kept-1", "cost-kept-2"])
    }

    @Test func stoppingWithNothingHeldRemovesTheJournal() async throws {
        let dir = try StoreTempDirectory()
        defer { dir.remove() }
        let db = try await StoreDatabase(path: dir.path())
        let journals = CostTracker.holdJournalDirectory(besideDatabaseAt: db.path)
        let tracker = try CostTracker(database: db, holdJournalDirectory: journals)
        let held = try await tracker.reserve(Self.call, estimatedCost: 1)
        await tracker.flushPendingWrites()
        #expect(Self.journalFiles(journals).count == 1, "a hold in force keeps its journal")
        try await tracker.settle(held, usage: CostUsage(inputTokens: 100, outputTokens: 0), pricing: Self.dollarPerK)
        await tracker.flushPendingWrites()
        #expect(Self.journalFiles(journals).isEmpty)
    }

    /// The lines are written by hand: the same text the encoder writes for them, and read back as
    /// what was written, escapes, optional fields and odd numbers included.
    @Test func handWrittenLinesAreTheEncodersText() throws {
        let calls = [
            Self.call,
            CostCall(model: "m\"1\\", provider: "openai", taskId: "t\n\u{1}é", agentId: "agent-1", taskType: "code", keyId: "key-7", tenantId: "acme"),
            CostCall(model: "m", provider: "anthropic", taskId: "t", agentId: "a", taskType: "general", keyId: nil, tenantId: "only-tenant"),
        ]
        for (index, call) in calls.enumerated() {
            for cost in [0, 1, 0.000_123_4, 1e-9, 12_345.678_9] {
                let reservation = CostReservation(id: "hold-\(index)", call: call, estimatedCost: cost,
                                                  createdAt: Date(timeIntervalSince1970: 1_764_000_000.123_456 + Double(index)))
                let hold = try HoldJournal.holdLine(reservation)
                let expectedHold = HoldJournal.Hold(id: reservation.id, call: call, cost: cost, at: reservation.createdAt.timeIntervalSince1970)
                #expect(hold == Array("+".utf8) + (try FastJSONEncoder().encode(expectedHold)) + Array("\n".utf8))
                let usage = CostUsage(inputTokens: 1_200 + index, outputTokens: 34, cachedTokens: index, cacheWriteTokens: 5, cacheWriteHourTokens: 2)
                for basis in CostBasis.allCases {
                    let entry = CostLedgerEntry(entryId: reservation.id, call: call, usage: usage, cost: cost, timestamp: Date(), basis: basis)
                    let settled = try HoldJournal.settlementLine(entry)
                    let expected = HoldJournal.Settled(id: entry.entryId, call: call, usage: usage, cost: cost, basis: basis)
                    #expect(settled == Array("=".utf8) + (try FastJSONEncoder().encode(expected)) + Array("\n".utf8))
                }
                let read = HoldJournal.contents(of: Data(hold + (try HoldJournal.settlementLine(
                    CostLedgerEntry(entryId: reservation.id, call: call, usage: usage, cost: cost, timestamp: Date())))))
                #expect(read.holds == [reservation])
                #expect(read.settlements[reservation.id]?.call == call)
                #expect(read.settlements[reservation.id]?.usage == usage)
                #expect(read.settlements[reservation.id]?.cost == cost)
            }
        }
        #expect(throws: (any Error).self) {
            try HoldJournal.holdLine(CostReservation(id: "nan", call: Self.call, estimatedCost: .nan, createdAt: Date()))
        }
    }
}

extension CostTracker {
    static let testCall = CostCall(model: "sonnet", provider: "anthropic", taskId: "task-1", agentId: "agent-1", taskType: "test-generation")
}
