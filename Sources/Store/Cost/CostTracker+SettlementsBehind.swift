import Foundation

/// Settlements whose ledger rows are written behind the answer.
///
/// With a hold journal, what a crash must not lose is already on disk when `settle` returns: the
/// settlement's line (`=`, its real usage and cost) is appended to the journal, one `write(2)`.
/// Its ledger row, its totals and its alerts then go in by group commit, started at once or after
/// ``settlementCommitDelay`` (`fleetd serve`: 10 ms, so one commit carries the settlements of those
/// milliseconds even at one caller), and not waited for: the answer no longer waits for a SQLite transaction and the hop to GRDB's writer
/// (about 0.7 ms of a JSON task's 2.4 ms on config/fleet.yaml before, docs/performance.md), and
/// under load one transaction carries many settlements.
///
/// What stays true meanwhile:
/// - the budget: the reservation stays held until the row is written, at the real cost, so spent
///   plus reserved counts what was spent to the cent (at its estimate it would refuse calls the
///   budget has room for, until the commit);
/// - a crash: the next start bills the journal's settlements that the ledger lacks at their real
///   cost (``billUnsettledReservations()``), the other holds at their estimate, as before;
/// - readers: a cost report waits for the rows behind (``settledBehind()``), so a task answered
///   is in the report asked for after it;
/// - a store that refuses the commit: the settlements are kept with their real cost and retried,
///   as a refused settlement always was (`CostTracker+UnwrittenSettlements.swift`).
extension CostTracker {
    /// Appends `entry` to the journal and leaves its ledger row to the next group commit.
    /// - Returns: `false` when the journal could not be written: the caller settles the usual way.
    func settleBehind(_ entry: CostLedgerEntry, journal: HoldJournal) -> Bool {
        do {
            try journal.appendSettlement(entry)
        } catch {
            logger.error("settlement journal not written; the settlement waits for its ledger row instead", metadata: ["error": "\(error)"])
            return false
        }
        behind[entry.entryId] = entry
        behindOrder.append(entry.entryId)
        behindIssued += 1
        if !behindWriteScheduled {
            behindWriteScheduled = true
            let delay = settlementCommitDelay
            Task {
                if delay > .zero { try? await Task.sleep(for: delay) }
                await self.writeSettlementsBehind()
            }
        }
        return true
    }

    /// Writes the settlements behind now, with those queued meanwhile, unless a transaction is
    /// being written: its writer takes them when it is done (``writeQueuedSettlements()``).
    func writeSettlementsBehind() async {
        behindWriteScheduled = false
        guard !behindOrder.isEmpty, !writing else { return }
        writing = true
        defer { writing = false }
        await writeQueuedSettlements()
        compactJournal()
    }

    /// One group commit of the settlements behind now (the caller holds `writing`). Refused, they
    /// are kept with their real cost and retried; their reservations stay held either way until
    /// their rows are written.
    func writeBehindBatch() async {
        let taken = behindOrder.count
        // Dated when written, as their totals are (the period they count in), so a report and the
        // budget agree on a settlement's period when the commit falls past a boundary.
        let now = clock.now
        let entries = CostLedgerEntry.redated(behindOrder.compactMap { behind[$0] }, at: now)
        behindOrder.removeAll(keepingCapacity: true)
        defer {
            behindDone += taken
            resumeBehindWaiters()
        }
        guard !entries.isEmpty else { return }
        do {
            // In a task of its own: nothing that cancels whoever writes now may cut this write.
            _ = try await Task { try await self.write(entries, now: now) }.value
            for entry in entries {
                behind.removeValue(forKey: entry.entryId)
                reservations.removeValue(forKey: entry.entryId)
            }
            forgetUnwritten(entries.map(\.entryId))
        } catch {
            for entry in entries { behind.removeValue(forKey: entry.entryId) }
            keepUnwritten(entries, error: error)
        }
    }

    /// Returns once every settlement made before the call is in the ledger, or kept for a retry
    /// because the store refused it (not those made after: under steady load a report does not
    /// wait for a quiet moment).
    public func settledBehind() async {
        guard behindDone < behindIssued else { return }
        let target = behindIssued
        await withCheckedContinuation { behindWaiters.append((target, $0)) }
    }

    /// Resumes the readers whose settlements are all written (or kept for a retry).
    func resumeBehindWaiters() {
        guard !behindWaiters.isEmpty else { return }
        let done = behindDone
        let ready = behindWaiters.filter { $0.target <= done }
        guard !ready.isEmpty else { return }
        behindWaiters.removeAll { $0.target <= done }
        for waiter in ready { waiter.continuation.resume() }
    }

    /// The tokens of a key's settlements answered but not yet in the ledger (written behind, or
    /// refused by the store and kept), since `since`.
    public func pendingTokens(keyId: String, since: Date) -> (tokens: Int, oldest: Date?) {
        var tokens = 0
        var oldest: Date?
        for entry in [behind.values, unwritten.values].joined() where entry.call.keyId == keyId && entry.timestamp >= since {
            tokens += entry.usage.inputTokens + entry.usage.outputTokens
            oldest = min(oldest ?? entry.timestamp, entry.timestamp)
        }
        return (tokens, oldest)
    }
}
