import FleetSupport
import Foundation
import GRDB
import Logging

/// The cost ledger and budget enforcer.
///
/// A call reserves its estimated cost first (``reserve(_:estimatedCost:isCheaperAlternative:)``),
/// is settled with its real usage after (``settle(_:usage:pricing:)``), or released when it failed
/// (``release(_:)``). Reservations are held in this actor and count against every limit until
/// settled, so concurrent calls together never overshoot a limit by more than one call's estimate
/// (when estimates are not below real costs).
///
/// Nothing on a call's way out waits for SQLite: a reservation is held in memory and, for what a
/// restart bills when a crash left the call unsettled, appended to this process's
/// ``HoldJournal`` (one `write(2)` before the call is made) when the tracker was given a journal
/// directory (`fleetd serve` and `fleetd mcp` are). Without one, or when the journal cannot be
/// written, its row in `cost_reservations` is written by the next group commit, started at once by
/// default (``holdWriteDelay`` 0; a longer delay lets a call settled or released first skip its
/// hold, at the price of a crash window that long). A settlement is not waited for either when its
/// hold is in the journal: its line (`=`, the real cost) is appended before `settle` returns, so
/// before the answer goes out, and its ledger row is written by a group commit started at once or
/// after ``settlementCommitDelay`` (10 ms in `fleetd serve`; `CostTracker+SettlementsBehind.swift`); a crash before that commit bills the real cost from
/// the journal at the next start. Without a journal, `settle` waits for the ledger row. One the
/// store refuses (the file locked by another writer, the disk full) is kept here with its real
/// cost, its reservation still held, and written by a retry of its own once the store takes it
/// (`CostTracker+UnwrittenSettlements.swift`).
///
/// Each settlement writes one ledger row, the running totals (day, week, month, all time; overall
/// and per model) and the alert marks in ONE transaction, and is idempotent on the entry id. The
/// `routing/costs` memory mirrors go in the same transaction, or through the write-behind recorder
/// when the tracker was given one (`fleetd serve` does). Alerts (COST_002) go to ``alerts`` and the
/// log, once per period and threshold, remembered in the database across restarts.
public actor CostTracker: BudgetStatusProviding {
    public nonisolated let database: StoreDatabase
    private struct Settings: Sendable {
        var configuration: CostConfiguration
        var calendar: PeriodCalendar
    }
    private nonisolated let settings: LiveSetting<Settings>
    /// The limits, thresholds, policy and time zone in force.
    public nonisolated var configuration: CostConfiguration { settings.value.configuration }
    /// Period boundaries in the configured time zone.
    public nonisolated var calendar: PeriodCalendar { settings.value.calendar }
    /// COST_002 events. Buffers the newest 256 until someone iterates; one subscriber.
    public nonisolated let alerts: AsyncStream<CostAlert>

    private let alertContinuation: AsyncStream<CostAlert>.Continuation
    private let memory: MemoryStore
    /// Writes the `routing/costs` mirrors after the settlement's transaction; without one they
    /// go in the transaction.
    private let mirrors: WriteBehindRecorder?
    let clock: any WallClock
    let logger: Logger
    var reservations: [String: CostReservation] = [:]
    private var spentCache: [BudgetPeriod: PeriodSpend] = [:]
    /// Settled spend per API key and period (see `CostTracker+KeyBudgets.swift`).
    var keySpentCache: [String: [BudgetPeriod: PeriodSpend]] = [:]
    /// Settlements that arrived while a transaction was being written (see ``settle(_:usage:pricing:)``).
    private var queuedSettlements: [QueuedSettlement] = []
    /// Whether a ledger transaction is being written now (one at a time: group commit).
    var writing = false
    /// Holds not yet in `cost_reservations`, in the order they were made.
    var pendingHolds: [String: CostReservation] = [:]
    var pendingHoldOrder: [String] = []
    var holdFlushScheduled = false
    /// How long a hold may wait for a transaction to carry it before one is written for it alone:
    /// the window in which a crash would leave a call in flight unbilled.
    public nonisolated let holdWriteDelay: Duration
    /// Where holds are written as they are made; `nil`: the `cost_reservations` table only.
    let journal: HoldJournal?
    /// Holds in force that went to the table because the journal could not be written.
    var holdsInTable: Set<String> = []
    /// Settlements the store refused, by entry id, with their real usage and cost: written by
    /// ``retryUnwrittenSettlements()``. Their reservations stay held (and counted) until then.
    var unwritten: [String: CostLedgerEntry] = [:]
    /// Whether a retry of ``unwritten`` is scheduled.
    var settlementRetryScheduled = false
    /// The wait before the next retry: ``settlementRetryInterval``, doubled after each failed
    /// round up to 16 times it.
    var settlementRetryDelay: Duration
    /// The first wait before a settlement the store refused is tried again.
    public nonisolated let settlementRetryInterval: Duration
    /// Settlements in the journal whose ledger rows the next group commit writes, by entry id (see
    /// `CostTracker+SettlementsBehind.swift`). Their reservations stay held, at the real cost, until
    /// the rows are written.
    var behind: [String: CostLedgerEntry] = [:]
    var behindOrder: [String] = []
    var behindWriteScheduled = false
    /// How long the group commit of the settlements behind waits to gather more (with a journal):
    /// their durability is the journal's, so this only trades a report's wait for fewer commits.
    public nonisolated let settlementCommitDelay: Duration
    /// How many settlements went behind, and how many of them are written (or kept for a retry):
    /// a reader waits for those made before it asked (``settledBehind()``).
    var behindIssued = 0
    var behindDone = 0
    var behindWaiters: [(target: Int, continuation: CheckedContinuation<Void, Never>)] = []

    private struct QueuedSettlement {
        var entry: CostLedgerEntry
        var continuation: CheckedContinuation<CostLedgerEntry, any Error>
    }

    /// - Parameters:
    ///   - memoryConfiguration: TTLs for the `routing/costs` mirrors.
    ///   - holdJournalDirectory: where each process appends its holds as they are made (see
    ///     ``HoldJournal``; ``holdJournalDirectory(besideDatabaseAt:)`` names the usual place).
    ///     `nil`: holds go to the `cost_reservations` table by group commit.
    ///   - mirrors: the write-behind recorder for the `routing/costs` mirrors (a running service):
    ///     they are then written within its interval after the ledger row, off the settlement's
    ///     transaction. Without one they are written in the transaction.
    ///   - settlementRetryInterval: the first wait before a settlement the store refused is tried
    ///     again (doubled after each failed round, up to 16 times it).
    ///   - settlementCommitDelay: with a journal, how long the group commit of the settlements
    ///     answered meanwhile waits before it starts (0: at once).
    /// - Throws: ``CostError`` `.invalidConfiguration` when the configuration is out of range.
    public init(
        database: StoreDatabase,
        configuration: CostConfiguration = CostConfiguration(),
        memoryConfiguration: MemoryStoreConfiguration = MemoryStoreConfiguration(),
        clock: any WallClock = SystemWallClock(),
        holdWriteDelay: Duration = .zero,
        holdJournalDirectory: String? = nil,
        mirrors: WriteBehindRecorder? = nil,
        settlementRetryInterval: Duration = .seconds(2),
        settlementCommitDelay: Duration = .zero,
        logger: Logger = Logger(label: "fleetd.cost")
    ) throws {
        try configuration.validate()
        self.database = database
        self.mirrors = mirrors
        self.settlementRetryInterval = settlementRetryInterval
        self.settlementRetryDelay = settlementRetryInterval
        self.settlementCommitDelay = settlementCommitDelay
        self.holdWriteDelay = holdWriteDelay
        self.journal = holdJournalDirectory.map { HoldJournal(directory: $0) }
        self.settings = LiveSetting(Settings(configuration: configuration, calendar: try PeriodCalendar(timeZoneIdentifier: configuration.timeZone)))
        self.memory = MemoryStore(database: database, configuration: memoryConfiguration, clock: clock)
        self.clock = clock
        self.logger = logger
        (alerts, alertContinuation) = AsyncStream.makeStream(of: CostAlert.self, bufferingPolicy: .bufferingNewest(256))
    }

    deinit { alertContinuation.finish() }

    /// The usual journal directory for the holds of processes using the SQLite file at `path`:
    /// `<file>-holds`, beside it.
    public static func holdJournalDirectory(besideDatabaseAt path: String) -> String { path + "-holds" }

    /// A reload's cost settings: limits, thresholds, policy and time zone apply to the next
    /// reservation; reservations held now stay held. A new time zone starts new periods (totals
    /// are re-read for the new period keys). The spend already settled is checked against the new
    /// limits and thresholds at once: an alert a lowered limit makes due (COST_002) is raised now,
    /// not at the next settlement, once per period and threshold as at settlement.
    /// - Throws: ``CostError`` `.invalidConfiguration` (the settings in force stay).
    public func update(configuration: CostConfiguration, memoryConfiguration: MemoryStoreConfiguration) async throws {
        try configuration.validate()
        let calendar = try PeriodCalendar(timeZoneIdentifier: configuration.timeZone)
        if configuration.timeZone != self.configuration.timeZone {
            spentCache = [:]
            keySpentCache = [:]
        }
        settings.set(Settings(configuration: configuration, calendar: calendar))
        memory.update(configuration: memoryConfiguration)
        await raiseAlertsForSettledSpend()
    }

    /// Marks and raises the thresholds the settled spend crosses under the limits in force (a
    /// reload that lowered a limit or a threshold). A store failure is logged: the settings stay,
    /// and the next settlement checks again.
    private func raiseAlertsForSettledSpend() async {
        guard configuration.enabled else { return }
        do {
            try await refreshSpend()
            let spend = spentCache, configuration = configuration, now = clock.now
            let alerts = try await database.write("marking budget alerts after a reload") { db in
                try Self.markAlerts(spend: spend, configuration: configuration, now: now, in: db)
            }
            raise(alerts)
        } catch {
            logger.error("budget alerts not checked after a reload: store failed", metadata: ["error": "\(error)"])
        }
    }

    /// Logs each alert and hands it to ``alerts``.
    private func raise(_ alerts: [CostAlert]) {
        for alert in alerts {
            logger.warning("\(alert.message)", metadata: ["code": "\(ErrorCode.budgetAlertTriggered.rawValue)", "period": "\(alert.period.rawValue)"])
            alertContinuation.yield(alert)
        }
    }

    // MARK: - Reservations

    /// Holds `estimatedCost` for a call about to be made.
    ///
    /// A call estimated at $0 (a free model) is admitted whatever the spend, and still held.
    /// Otherwise, when spent + reserved + estimate would pass a limit: `block` throws ROUTER_002;
    /// `cheaper-only` throws ROUTER_002 unless `isCheaperAlternative` (the router picked a model
    /// cheaper than its first choice because of the budget); `allow-with-alert` lets it through
    /// (the 100% alert is raised when the spend settles).
    ///
    /// With `keyLimits` (the budgets of the API key `call.keyId` names), the same step also checks
    /// the key's settled spend plus its reservations plus this estimate against each of the key's
    /// limits, and refuses with ROUTER_002 whatever the policy: a key's budget is a hard limit.
    public func reserve(_ call: CostCall, estimatedCost: Double, isCheaperAlternative: Bool = false,
                        keyLimits: CostConfiguration.BudgetLimits? = nil) async throws -> CostReservation {
        guard estimatedCost.isFinite, estimatedCost >= 0 else {
            throw CostError(.costCalculationFailed, "estimated cost for \(call.model) must be a finite, non-negative amount, got \(estimatedCost)")
        }
        let reservation = CostReservation(id: "cost-\(LocalID.text(length: 12))", call: call, estimatedCost: estimatedCost, createdAt: clock.now)
        guard configuration.enabled else { return reservation }
        do {
            try await refreshSpend()
        } catch {
            // A failing store must not stop routing: decide on the last known totals (from an
            // earlier period they are only higher, so the check stays conservative). With no
            // totals at all there is nothing safe to decide on.
            guard spentCache.count == BudgetPeriod.allCases.count else { throw error }
            logger.error("budget check uses cached totals: store failed", metadata: ["error": "\(error)"])
        }
        let keyId = keyLimits?.isLimited == true ? call.keyId : nil
        if let keyId { try await refreshKeySpend(keyId) }
        // No suspension from here to the insert: the check and the hold are atomic in the actor.
        if let keyId, let keyLimits {
            try checkKeyBudget(keyId, limits: keyLimits, call: call, estimatedCost: estimatedCost)
        }
        let reserved = reservedTotal
        for period in BudgetPeriod.allCases {
            guard let limit = configuration.budgetLimits.limit(for: period) else { continue }
            let spent = spentCache[period]?.spent ?? 0
            // A call estimated at $0 (a free model) takes nothing further past a limit: admitted
            // whatever the spend, as the router's budget filter admits it.
            guard estimatedCost > 0, spent + reserved + estimatedCost > limit + 1e-12 else { continue }
            let detail = "\(period.rawValue) budget \(spentCache[period]?.key ?? "") has $\(Self.money(limit - spent - reserved)) left "
                + "(limit $\(Self.money(limit)), spent $\(Self.money(spent)), reserved $\(Self.money(reserved))); \(call.model) needs about $\(Self.money(estimatedCost))"
            switch configuration.policy.admission(cheaperThanPick: isCheaperAlternative) {
            case .refused:
                let rule = configuration.policy == .block ? "policy block" : "policy cheaper-only admits only a cheaper model"
                throw CostError(.budgetExceeded, "BudgetExceeded: \(detail); \(rule)", period: period)
            case .cheaperThanPick, .withAlert:
                logger.warning("budget limit passed, call allowed by policy", metadata: [
                    "period": "\(period.rawValue)", "policy": "\(configuration.policy.rawValue)", "model": "\(call.model)",
                ])
            }
        }
        reservations[reservation.id] = reservation
        // Held in memory (the check and the hold are one step), and written down so that a crash
        // leaves it to be billed at the next start: in the journal before the call is made, or by
        // the next group commit.
        if let journal {
            do {
                try journal.appendHold(reservation)
                return reservation
            } catch {
                logger.error("reservation journal not written; the hold goes to the database instead", metadata: ["error": "\(error)"])
            }
        }
        if journal != nil { holdsInTable.insert(reservation.id) }
        pendingHolds[reservation.id] = reservation
        pendingHoldOrder.append(reservation.id)
        scheduleHoldWrite()
        return reservation
    }

    /// Records the real usage of a reserved call and frees the reservation.
    ///
    /// Idempotent: settling the same reservation again returns the stored entry and adds nothing.
    /// When it throws COST_001 (bad usage) nothing is kept and the reservation stays held: retry.
    /// With a journal, it returns once the settlement's line is written; its ledger row follows by
    /// group commit (`CostTracker+SettlementsBehind.swift`). Without one, or when the line cannot
    /// be written, it waits for the row, and when the store refuses the write (``StoreError``) it
    /// throws. Either way a settlement the store refuses is kept with its real cost and written by
    /// a retry of its own when the store is back; the reservation stays held until then. Settling
    /// again meanwhile is safe.
    ///
    /// Group commit: while one settlement is being written, the ones that arrive wait and are
    /// then written together, in one transaction, by the caller that was writing. Under load a
    /// transaction carries many entries and their totals are added once per period.
    @discardableResult
    public func settle(_ reservation: CostReservation, usage: CostUsage, pricing: ModelPricing,
                       basis: CostBasis = .reported) async throws -> CostLedgerEntry {
        var entry = try ledgerEntry(CostSettlement(reservation: reservation, usage: usage, pricing: pricing), at: clock.now)
        entry.basis = basis
        guard configuration.enabled else {
            reservations.removeValue(forKey: reservation.id)
            return entry
        }
        if let pending = behind[reservation.id] { return pending }
        if let journal, reservations[reservation.id] != nil, unwritten[reservation.id] == nil,
           !holdsInTable.contains(reservation.id), settleBehind(entry, journal: journal) {
            return entry
        }
        if writing {
            return try await withCheckedThrowingContinuation { continuation in
                queuedSettlements.append(QueuedSettlement(entry: entry, continuation: continuation))
            }
        }
        writing = true
        defer { writing = false }
        let own: Result<CostLedgerEntry, any Error>
        do {
            own = .success(try await write([entry], now: clock.now)[0])
            reservations.removeValue(forKey: reservation.id)
            forgetUnwritten([entry.entryId])
        } catch {
            own = .failure(error)
            keepUnwritten([entry], error: error)
        }
        await writeQueuedSettlements()
        compactJournal()
        return try own.get()
    }

    /// Writes the settlements that queued while a transaction was written, together, until none
    /// is left (the caller holds `writing`).
    func writeQueuedSettlements() async {
        while true {
            if !queuedSettlements.isEmpty {
                let batch = queuedSettlements
                queuedSettlements.removeAll()
                do {
                    // In a task of its own: these settlements belong to other callers, and a
                    // cancellation of this one (its client left) must not fail them.
                    let stored = try await Task { try await self.write(batch.map(\.entry), now: self.clock.now) }.value
                    for (queued, entry) in zip(batch, stored) {
                        reservations.removeValue(forKey: queued.entry.entryId)
                        queued.continuation.resume(returning: entry)
                    }
                    forgetUnwritten(batch.map(\.entry.entryId))
                } catch {
                    keepUnwritten(batch.map(\.entry), error: error)
                    for queued in batch { queued.continuation.resume(throwing: error) }
                }
            } else if !behindOrder.isEmpty {
                // The settlements behind the answer (CostTracker+SettlementsBehind.swift).
                await writeBehindBatch()
            } else {
                return
            }
        }
    }

    /// Settles many reservations in one transaction (faster; all or nothing).
    public func settleAll(_ settlements: [CostSettlement]) async throws -> [CostLedgerEntry] {
        let now = clock.now
        let entries = try settlements.map { try ledgerEntry($0, at: now) }
        guard configuration.enabled else {
            for s in settlements { reservations.removeValue(forKey: s.reservation.id) }
            return entries
        }
        let stored: [CostLedgerEntry]
        do {
            stored = try await write(entries, now: now)
        } catch {
            keepUnwritten(entries, error: error)
            throw error
        }
        for s in settlements { reservations.removeValue(forKey: s.reservation.id) }
        forgetUnwritten(entries.map(\.entryId))
        compactJournal()
        return stored
    }

    /// The ledger entry of a settlement: its reservation's id and call, its real cost.
    private func ledgerEntry(_ settlement: CostSettlement, at now: Date) throws -> CostLedgerEntry {
        CostLedgerEntry(entryId: settlement.reservation.id, call: settlement.reservation.call, usage: settlement.usage,
                        cost: try settlement.usage.cost(pricing: settlement.pricing), timestamp: now)
    }

    /// Records a call that was not reserved, under a caller-chosen unique `entryId`.
    @discardableResult
    public func record(_ call: CostCall, usage: CostUsage, pricing: ModelPricing, entryId: String,
                       basis: CostBasis = .reported) async throws -> CostLedgerEntry {
        guard !entryId.isEmpty else { throw CostError(.costCalculationFailed, "ledger entry id is empty for task \(call.taskId)") }
        let now = clock.now
        let entry = CostLedgerEntry(entryId: entryId, call: call, usage: usage, cost: try usage.cost(pricing: pricing),
                                    timestamp: now, basis: basis)
        guard configuration.enabled else { return entry }
        return try await write([entry], now: now)[0]
    }

    // MARK: - Status

    /// Spent and reserved per period with the limits and policy. On a database failure the
    /// last known figures are returned (and the failure logged).
    public func budgetStatus() async -> BudgetStatus {
        guard configuration.enabled else { return .unlimited }
        do {
            try await refreshSpend()
        } catch {
            logger.error("budget status uses cached figures: store failed", metadata: ["error": "\(error)"])
        }
        let reserved = reservedTotal
        let periods = BudgetPeriod.allCases.map { period in
            PeriodBudgetStatus(period: period, limit: configuration.budgetLimits.limit(for: period),
                               spent: spentCache[period]?.spent ?? 0, reserved: reserved)
        }
        return BudgetStatus(enabled: true, policy: configuration.policy, periods: periods)
    }

    /// Reservations currently held.
    public var activeReservations: Int { reservations.count }

    /// Alerts already raised for the current periods (from the database).
    public func raisedAlerts() async throws -> [CostAlert] {
        let now = clock.now
        let keys = BudgetPeriod.allCases.map { ($0, calendar.key($0, at: now)) }
        return try await database.read("reading raised budget alerts") { db in
            try keys.flatMap { period, key in
                try Row.fetchAll(db, sql: "SELECT * FROM cost_alerts WHERE period = ? AND period_key = ? ORDER BY threshold_percent",
                                 arguments: [period.rawValue, key]).map { row in
                    CostAlert(period: period, periodKey: key, thresholdPercent: row["threshold_percent"], spent: row["spent"],
                              limit: row["limit_amount"], raisedAt: Date(timeIntervalSince1970: row["raised_at"]))
                }
            }
        }
    }

    // MARK: - Internals

    private var reservedTotal: Double { reservations.values.reduce(0) { $0 + held($1) } }

    /// Dollars held by the reservations made with one API key.
    func reserved(byKey keyId: String) -> Double {
        reservations.values.reduce(0) { $0 + ($1.call.keyId == keyId ? held($1) : 0) }
    }

    /// What a reservation holds: its estimate, or, once its settlement waits for its ledger row
    /// (``behind``), its real cost: spent to the cent, not yet in the totals.
    private func held(_ reservation: CostReservation) -> Double {
        guard !behind.isEmpty, let settled = behind[reservation.id] else { return reservation.estimatedCost }
        return settled.cost
    }

    func keys(at date: Date) -> LedgerPeriodKeys {
        LedgerPeriodKeys(keys: Dictionary(uniqueKeysWithValues: BudgetPeriod.allCases.map { ($0, calendar.key($0, at: date)) }))
    }

    /// One transaction: the holds waiting (less those these entries settle), then the entries.
    func write(_ entries: [CostLedgerEntry], now: Date) async throws -> [CostLedgerEntry] {
        let keys = keys(at: now)
        let configuration = configuration
        let memory = memory
        let holds = takePendingHolds(settling: entries)
        let recorder = mirrors
        let outcome: LedgerWriteOutcome
        do {
            outcome = try await database.write("writing \(entries.count) ledger entr\(entries.count == 1 ? "y" : "ies") and \(holds.toWrite.count) hold(s)") { db in
                try Self.insertHolds(holds.toWrite, in: db)
                guard !entries.isEmpty else { return LedgerWriteOutcome(entries: [], spend: [:], alerts: []) }
                return try Self.writeLedger(entries, keys: keys, configuration: configuration, memory: memory,
                                            mirrorWrites: recorder == nil ? .inTransaction : .returned, now: now, in: db)
            }
        } catch {
            restorePendingHolds(holds.all)
            throw error
        }
        merge(outcome.spend)
        mergeKeySpend(outcome.keySpend)
        if let recorder, !outcome.mirrors.isEmpty {
            await recorder.enqueue(outcome.mirrors.map { ($0.key, $0.value) }, partition: MemoryPartitions.costs, owner: "system", accessLevel: .system)
        }
        raise(outcome.alerts)
        return outcome.entries
    }

    /// Totals only grow within a period key, so the larger figure is the newer one: settlements
    /// that resume out of order never make the cache go back.
    private func merge(_ spend: [BudgetPeriod: PeriodSpend]) {
        for (period, value) in spend {
            if let cached = spentCache[period], cached.key == value.key {
                spentCache[period]?.spent = max(cached.spent, value.spent)
            } else {
                spentCache[period] = value
            }
        }
    }

    /// Loads settled totals for periods whose key changed (first use, or a period boundary).
    private func refreshSpend() async throws {
        while true {
            let current = keys(at: clock.now)
            let stale = BudgetPeriod.allCases.compactMap { p in spentCache[p]?.key == current.keys[p] ? nil : (p, current.keys[p] ?? "") }
            if stale.isEmpty { return }
            let loaded = try await database.read("loading budget totals") { db in
                try stale.map { period, key in
                    (period, PeriodSpend(key: key, spent: try Self.totalCost(period: period.rawValue, key: key, scope: Self.overallScope, in: db)))
                }
            }
            for (period, value) in loaded where spentCache[period]?.key != value.key {
                spentCache[period] = value
            }
        }
    }

    static func money(_ amount: Double) -> String { String(format: "%.4f", amount) }
}

/// One reservation with its real usage, for ``CostTracker/settleAll(_:)``.
public struct CostSettlement: Sendable {
    public var reservation: CostReservation
    public var usage: CostUsage
    public var pricing: ModelPricing

    public init(reservation: CostReservation, usage: CostUsage, pricing: ModelPricing) {
        self.reservation = reservation
        self.usage = usage
        self.pricing = pricing
    }
}
