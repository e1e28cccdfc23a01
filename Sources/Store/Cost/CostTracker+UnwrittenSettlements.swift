import Foundation
import Logging

/// Settlements the store refused (SQLite locked by another writer past its busy timeout, the disk
/// full, an I/O error): kept in the tracker with their real usage and cost, and written by a retry
/// of their own, ``settlementRetryInterval`` after the refusal and then with backoff, and by
/// ``flushPendingWrites()`` when fleetd stops.
///
/// Meanwhile each one's reservation stays held: its estimate (an upper bound of the real cost)
/// counts against every limit, and its hold stays in the journal or the `cost_reservations` table,
/// so a crash before the write bills it at its estimate at the next start, as before. Written,
/// the real cost is billed and the hold freed. Writing is idempotent on the entry id, so a caller
/// that settles the same reservation again meanwhile (task billing retries too) counts it once.
extension CostTracker {
    /// The settlements waiting for the store to take them.
    public var unwrittenSettlements: Int { unwritten.count }

    /// Keeps the settlements a failed write carried, to be written later; an error that is not the
    /// store's (COST_001: bad usage) keeps nothing. Logs each once, when it is first kept.
    func keepUnwritten(_ entries: [CostLedgerEntry], error: any Error) {
        guard !(error is CostError), !entries.isEmpty else { return }
        for entry in entries where unwritten[entry.entryId] == nil {
            unwritten[entry.entryId] = entry
            logger.error("a settlement could not be written: kept with its real cost and written when the store takes it; its reservation stays held until then",
                         metadata: [
                             "reservation": "\(entry.entryId)", "task": "\(entry.call.taskId)", "model": "\(entry.call.model)",
                             "usd": "\(Self.money(entry.cost))", "error": "\(error)",
                         ])
        }
        scheduleSettlementRetry()
    }

    /// Forgets kept settlements a caller's own settle has just written.
    func forgetUnwritten(_ ids: [String]) {
        guard !unwritten.isEmpty else { return }
        var written = 0
        for id in ids where unwritten.removeValue(forKey: id) != nil { written += 1 }
        guard written > 0 else { return }
        logger.notice("settlements the store refused earlier are written; their reservations are freed", metadata: ["count": "\(written)"])
        if unwritten.isEmpty { settlementRetryDelay = settlementRetryInterval }
    }

    /// Makes sure the kept settlements are tried again after the current delay (once, however many
    /// wait); each round scheduled doubles the next delay, up to 16 times the first.
    func scheduleSettlementRetry() {
        guard !settlementRetryScheduled, !unwritten.isEmpty else { return }
        settlementRetryScheduled = true
        let delay = settlementRetryDelay
        settlementRetryDelay = min(delay * 2, settlementRetryInterval * 16)
        Task {
            try? await Task.sleep(for: delay)
            await self.runScheduledSettlementRetry()
        }
    }

    private func runScheduledSettlementRetry() async {
        settlementRetryScheduled = false
        await retryUnwrittenSettlements()
    }

    /// Writes the kept settlements in one transaction, each dated now, when it is written, in its
    /// ledger row as in the totals it adds to (as any settlement is dated when it settles). Written,
    /// their reservations are freed; refused again, the next round is scheduled.
    func retryUnwrittenSettlements() async {
        guard !unwritten.isEmpty else { return }
        // One ledger transaction at a time: behind the one being written, the next round.
        guard !writing else { return scheduleSettlementRetry() }
        writing = true
        defer { writing = false }
        let now = clock.now
        let entries = CostLedgerEntry.redated(unwritten.values, at: now)
        do {
            // In a task of its own: these settlements belong to calls long answered, and nothing
            // that cancels the caller (fleetd stopping) may cancel their write half way.
            let stored = try await Task { try await self.write(entries, now: now) }.value
            for entry in entries {
                unwritten.removeValue(forKey: entry.entryId)
                reservations.removeValue(forKey: entry.entryId)
            }
            settlementRetryDelay = settlementRetryInterval
            logger.notice("settlements the store refused earlier are written at their real cost; their reservations are freed", metadata: [
                "count": "\(stored.count)", "usd": "\(Self.money(stored.reduce(0) { $0 + $1.cost }))",
            ])
        } catch {
            logger.warning("settlements the store refused still wait for it; their reservations stay held", metadata: [
                "count": "\(entries.count)", "retryIn": "\(settlementRetryDelay)", "error": "\(error)",
            ])
            scheduleSettlementRetry()
        }
        await writeQueuedSettlements()
        compactJournal()
    }
}
