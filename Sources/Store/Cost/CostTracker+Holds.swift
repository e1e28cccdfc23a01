import FleetSupport
import Foundation
import GRDB

/// Reservation holds: written down where a restart finds them (``HoldJournal``, or the
/// `cost_reservations` table without one), released, kept small, and billed after a crash.
extension CostTracker {
    /// Keeps the journal small once holds have left it: emptied when none is in force, rewritten
    /// with those in force when it passed its size.
    func compactJournal() {
        guard let journal else { return }
        // Checked before anything is built: this runs after every settlement and release.
        guard journal.isCompactionDue(holdsInForce: !reservations.isEmpty) else { return }
        holdsInTable = holdsInTable.filter { reservations[$0] != nil }
        do {
            try journal.compact(inForce: reservations.values.filter { !holdsInTable.contains($0.id) }.sorted { $0.createdAt < $1.createdAt },
                                settled: (Array(behind.values) + unwritten.values).sorted { $0.entryId < $1.entryId })
        } catch {
            logger.error("reservation journal could not be compacted", metadata: ["error": "\(error)"])
        }
    }

    /// Makes sure the holds waiting now are written within ``holdWriteDelay``: by a settlement's
    /// transaction if one comes first, else by one of their own.
    func scheduleHoldWrite() {
        guard !holdFlushScheduled else { return }
        holdFlushScheduled = true
        let delay = holdWriteDelay
        Task {
            try? await Task.sleep(for: delay)
            await self.writePendingHolds()
        }
    }

    /// Writes what waits: the settlements the store refused earlier (one more try), then the holds
    /// waiting now. Called when fleetd stops; what still fails is billed at its estimate at the
    /// next start.
    public func flushPendingWrites() async {
        await writeSettlementsBehind()
        await settledBehind()
        await retryUnwrittenSettlements()
        await writePendingHolds()
    }

    /// Writes the holds waiting now (unless a transaction being written will take them).
    func writePendingHolds() async {
        holdFlushScheduled = false
        // Nothing held (fleetd stopping, or a quiet moment): this process's journal has nothing a
        // restart would bill.
        if reservations.isEmpty { journal?.remove() }
        guard !pendingHolds.isEmpty else { return }
        // A transaction being written took the holds that were waiting when it began, not those
        // made since: those wait for the next delay (returning without it left them unwritten
        // until some later reserve or settle).
        guard !writing else { return scheduleHoldWrite() }
        writing = true
        defer { writing = false }
        do {
            _ = try await Task { try await self.write([], now: self.clock.now) }.value
        } catch {
            // `write` put them back; the next settlement or schedule tries again.
            logger.error("reservation holds could not be written: a crash now would leave their calls unbilled",
                         metadata: ["error": "\(error)"])
        }
        await writeQueuedSettlements()
        if !pendingHolds.isEmpty { scheduleHoldWrite() }
    }

    /// Every hold waiting, and those of them to write with a transaction that settles `entries`
    /// (a hold it settles is left out: its row would be deleted in the same transaction).
    func takePendingHolds(settling entries: [CostLedgerEntry]) -> (all: [CostReservation], toWrite: [CostReservation]) {
        guard !pendingHolds.isEmpty else { return ([], []) }
        let all = pendingHoldOrder.compactMap { pendingHolds[$0] }
        pendingHolds.removeAll(keepingCapacity: true)
        pendingHoldOrder.removeAll(keepingCapacity: true)
        guard !entries.isEmpty else { return (all, all) }
        let settled = Set(entries.map(\.entryId))
        return (all, all.filter { !settled.contains($0.id) })
    }

    /// Puts holds back after their transaction failed, those still held.
    func restorePendingHolds(_ holds: [CostReservation]) {
        for hold in holds where reservations[hold.id] != nil && pendingHolds[hold.id] == nil {
            pendingHolds[hold.id] = hold
            pendingHoldOrder.append(hold.id)
        }
    }

    static func insertHolds(_ holds: [CostReservation], in db: Database) throws {
        guard !holds.isEmpty else { return }
        let insert = try db.cachedStatement(sql: """
            INSERT INTO cost_reservations (id, model, provider, task_id, agent_id, task_type, estimated_cost, created_at, key_id, tenant, owner)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO NOTHING
            """)
        let owner = ProcessIdentity.current
        for hold in holds {
            let call = hold.call
            try insert.execute(arguments: [hold.id, call.model, call.provider, call.taskId, call.agentId, call.taskType,
                                           hold.estimatedCost, hold.createdAt.timeIntervalSince1970, call.keyId, call.tenantId, owner])
        }
    }

    /// Frees a reservation whose call the provider never accepted (nothing to bill). Releasing
    /// twice, or after settling, does nothing.
    public func release(_ reservation: CostReservation) async {
        // Its call was answered: the settlement kept for it frees it once written.
        guard unwritten[reservation.id] == nil, behind[reservation.id] == nil else { return }
        guard reservations.removeValue(forKey: reservation.id) != nil, configuration.enabled else { return }
        if let journal, holdsInTable.remove(reservation.id) == nil {
            do {
                try journal.appendRelease(reservation.id)
            } catch {
                // Left in the journal, it would be billed at its estimate after a crash: say so.
                logger.error("a released reservation could not be marked in the journal", metadata: ["reservation": "\(reservation.id)", "error": "\(error)"])
            }
            compactJournal()
            return
        }
        // Never written down: nothing to remove.
        if pendingHolds.removeValue(forKey: reservation.id) != nil {
            pendingHoldOrder.removeAll { $0 == reservation.id }
            return
        }
        do {
            try await database.write("releasing a reservation") { db in
                try db.execute(sql: "DELETE FROM cost_reservations WHERE id = ?", arguments: [reservation.id])
            }
        } catch {
            // Left in the table, it would be billed at its estimate after a restart: say so.
            logger.error("a released reservation could not be removed from the store", metadata: ["reservation": "\(reservation.id)", "error": "\(error)"])
        }
    }

    /// Bills, at their estimate, the reservations a previous run held and never settled (it
    /// crashed or was killed): one `estimated` ledger row each, then they are gone. Call once at
    /// start-up, before serving. Returns the rows written.
    ///
    /// Each is dated now, when it is billed, in its ledger row as in the totals it adds to, as any
    /// settlement is dated when it settles (a report and the budget agree on its period).
    @discardableResult
    public func billUnsettledReservations() async throws -> [CostLedgerEntry] {
        let now = clock.now
        let leftovers = journal.map { HoldJournal.leftovers(in: $0.directory, isLive: { ProcessIdentity.isAnotherLiveProcess($0) }) } ?? []
        let journalHolds = leftovers.flatMap(\.holds)
        let journalSettlements = leftovers.reduce(into: [String: CostLedgerEntry]()) { $0.merge($1.settlements) { first, _ in first } }
        var entries = try await database.read("reading unsettled reservations") { db in
            // Holds of another fleetd process still running on this file are its calls in flight.
            try Row.fetchAll(db, sql: "SELECT * FROM cost_reservations ORDER BY created_at")
                .filter { !ProcessIdentity.isAnotherLiveProcess($0["owner"]) }.map { row in
                CostLedgerEntry(entryId: row["id"],
                                call: CostCall(model: row["model"], provider: row["provider"], taskId: row["task_id"],
                                               agentId: row["agent_id"], taskType: row["task_type"],
                                               keyId: row["key_id"], tenantId: row["tenant"]),
                                usage: CostUsage(inputTokens: 0, outputTokens: 0), cost: row["estimated_cost"],
                                timestamp: now, basis: .estimated)
            }
        }
        // A journal's holds the ledger already has were settled before the crash; one settled in
        // the journal only is billed at its real cost (dated now), the others at their estimate.
        entries += try await database.read("reading settled reservations") { db in
            let settled = try db.cachedStatement(sql: "SELECT 1 FROM cost_ledger WHERE entry_id = ?")
            return try journalHolds.filter { try Bool.fetchOne(settled, arguments: [$0.id]) == nil }.map { hold in
                if let entry = journalSettlements[hold.id] { return CostLedgerEntry.redated([entry], at: now)[0] }
                return CostLedgerEntry(entryId: hold.id, call: hold.call, usage: CostUsage(inputTokens: 0, outputTokens: 0),
                                       cost: hold.estimatedCost, timestamp: now, basis: .estimated)
            }
        }
        // Billed (or nothing to bill), the journals are done with: removed only after the write,
        // so a failure leaves them for the next start.
        let stored = entries.isEmpty ? [] : try await write(entries, now: now)
        for leftover in leftovers { unlink(leftover.path) }
        guard !stored.isEmpty else { return [] }
        let estimated = stored.filter { $0.basis == .estimated }
        logger.warning("billed reservations left unsettled by an earlier run: answered calls at their real cost, calls in flight at their estimate", metadata: [
            "count": "\(stored.count)", "usd": "\(Self.money(stored.reduce(0) { $0 + $1.cost }))",
            "atEstimate": "\(estimated.count)", "atEstimateUSD": "\(Self.money(estimated.reduce(0) { $0 + $1.cost }))",
        ])
        return stored
    }
}
