import FleetSupport
import Foundation
import Logging
import PostgresNIO

/// The cost ledger and budget enforcer on the shared PostgreSQL store: any number of fleetd
/// instances reserve against, settle into and report from one set of totals.
///
/// A reservation is ONE conditional upsert per total row (day, week and month overall, and the
/// API key's rows when the key has limits), in one transaction:
///
///     INSERT INTO cost_totals (…, reserved) VALUES (…, $estimate)
///     ON CONFLICT (period, period_key, scope) DO UPDATE SET reserved = cost_totals.reserved + excluded.reserved
///     WHERE cost_totals.cost + cost_totals.reserved + excluded.reserved <= $limit RETURNING …
///
/// PostgreSQL locks the row and re-checks the condition on its newest version, so holds from every
/// instance and task are serialised on the row: spent + reserved never passes a limit under the
/// `block` policy (when estimates are not below real costs, which task billing's upper bounds
/// guarantee). Rows are always locked in one order (sorted by period, key, scope), in reservations
/// and settlements alike; a deadlock or serialization failure reruns the transaction.
///
/// A row's `reserved` holds the estimates counted under its period key, but a reservation settles
/// (and is dated) in the period it settles in: one made at 23:59:59 and settled after midnight is
/// the new day's spend. So each check also counts the holds made under other period keys (read
/// from `cost_reservations`, ``carriedHolds(keys:keyId:connection:logger:)``), as the SQLite
/// tracker counts every held reservation whatever its period. Reservations take their turn under
/// one advisory lock (``holdLock``) before they read those and hold: one counted under the ending
/// period and one under the next lock different rows, and each must see the other.
///
/// A settlement deletes the reservation, writes the ledger row, moves the estimate out of
/// `reserved` and the cost into `cost` of every total row (overall, model, key, tenant; day, week,
/// month, all time) and marks crossed alert thresholds, in ONE transaction; it is idempotent on
/// the entry id. Each reservation carries this instance's id and a lease; ``maintain()`` renews
/// this instance's leases, retries settlements the store refused, and (one instance at a time, by
/// `pg_try_advisory_xact_lock`) bills at their estimate the reservations whose lease ran out.
///
/// Not here: the `routing/costs` memory mirrors the SQLite tracker writes (the ledger is the
/// record). Quotas (``PostgresQuotaManager``), keys and the memory store have their own tables.
public actor PostgresCostTracker: CostAccounting {
    public nonisolated let store: PostgresStore
    private struct Settings: Sendable {
        var configuration: CostConfiguration
        var calendar: PeriodCalendar
    }
    private nonisolated let settings: LiveSetting<Settings>
    public nonisolated var configuration: CostConfiguration { settings.value.configuration }
    public nonisolated var calendar: PeriodCalendar { settings.value.calendar }
    public nonisolated let alerts: AsyncStream<CostAlert>
    private let alertContinuation: AsyncStream<CostAlert>.Continuation
    let clock: any WallClock
    let logger: Logger
    /// Settlements the store refused (it was unreachable), with their real cost: written by
    /// ``maintain()`` (and at ``flushPendingWrites()``) when it returns. Their reservations stay
    /// held in the table, counted against the budget, under this instance's renewed lease.
    private var unwritten: [String: CostLedgerEntry] = [:]
    /// The reservations this process still has to settle or release: the only rows whose leases
    /// ``maintain()`` renews. A row of this instance not in here (a hold whose transaction failed
    /// after it committed) runs out of lease like a dead instance's.
    private var held: Set<String> = []
    /// Reservations whose release the store refused, or whose hold failed without a clear
    /// rollback: released again by ``maintain()`` (and at ``flushPendingWrites()``) until the
    /// store takes it, so an unused estimate does not stay held, and is never billed, while this
    /// instance lives.
    private var unreleased: Set<String> = []
    /// The last figures read, for status while the store is away.
    private var lastStatus: BudgetStatus?

    /// The advisory lock that lets one instance at a time bill expired reservations.
    static let sweepLock: Int64 = 0x666C_6565_7464_0002
    /// The advisory lock every reservation holds from its check to its commit, fleet-wide. They
    /// all wait for the overall day row anyway; this also orders those counted under different
    /// period keys (a boundary), which lock different rows.
    static let holdLock: Int64 = 0x666C_6565_7464_0004

    public init(store: PostgresStore, configuration: CostConfiguration = CostConfiguration(), clock: any WallClock = SystemWallClock(),
                logger: Logger = Logger(label: "fleetd.cost")) throws {
        try configuration.validate()
        self.store = store
        self.settings = LiveSetting(Settings(configuration: configuration, calendar: try PeriodCalendar(timeZoneIdentifier: configuration.timeZone)))
        self.clock = clock
        self.logger = logger
        (alerts, alertContinuation) = AsyncStream.makeStream(of: CostAlert.self, bufferingPolicy: .bufferingNewest(256))
    }

    deinit { alertContinuation.finish() }

    /// A reload's cost settings; the settled spend is checked against the new limits and
    /// thresholds at once (an alert a lowered limit makes due is raised now, once fleet-wide).
    public func update(configuration: CostConfiguration, memoryConfiguration: MemoryStoreConfiguration) async throws {
        try configuration.validate()
        settings.set(Settings(configuration: configuration, calendar: try PeriodCalendar(timeZoneIdentifier: configuration.timeZone)))
        guard configuration.enabled else { return }
        let now = clock.now, keys = periodKeys(at: now), logger = self.logger
        do {
            let alerts = try await store.transaction("marking budget alerts after a reload") { connection in
                let spend = try await Self.overallSpend(keys: keys, connection: connection, logger: logger)
                return try await Self.markAlerts(spend: spend, configuration: configuration, now: now, connection: connection, logger: logger)
            }
            raise(alerts)
        } catch {
            logger.error("budget alerts not checked after a reload: store failed", metadata: ["error": "\(error)"])
        }
    }

    /// The settlements waiting for the store to come back.
    public var unwrittenSettlements: Int { unwritten.count }

    // MARK: - Reservations

    public func reserve(_ call: CostCall, estimatedCost: Double, isCheaperAlternative: Bool = false,
                        keyLimits: CostConfiguration.BudgetLimits? = nil) async throws -> CostReservation {
        guard estimatedCost.isFinite, estimatedCost >= 0 else {
            throw CostError(.costCalculationFailed, "estimated cost for \(call.model) must be a finite, non-negative amount, got \(estimatedCost)")
        }
        let now = clock.now
        let reservation = CostReservation(id: "cost-\(LocalID.text(length: 12))", call: call, estimatedCost: estimatedCost, createdAt: now)
        let configuration = self.configuration
        guard configuration.enabled else { return reservation }
        let keys = periodKeys(at: now)
        let admission = configuration.policy.admission(cheaperThanPick: isCheaperAlternative)
        var rows: [HeldRow] = BudgetPeriod.allCases.map { period in
            HeldRow(period: period, key: keys[period] ?? "", scope: CostTracker.overallScope,
                    limit: configuration.budgetLimits.limit(for: period), conditional: admission == .refused)
        }
        let keyId = keyLimits?.isLimited == true ? call.keyId : nil
        if let keyId, let keyLimits {
            // A key's budget is a hard limit whatever the policy.
            rows += BudgetPeriod.allCases.map { period in
                HeldRow(period: period, key: keys[period] ?? "", scope: CostTracker.keyScope(keyId), limit: keyLimits.limit(for: period), conditional: true)
            }
        }
        rows.sort()
        let lease = now.addingTimeInterval(store.configuration.reservationLease.timeInterval)
        let instance = store.configuration.instanceId
        // Counted as held from before the transaction: an upkeep round that runs meanwhile renews it.
        held.insert(reservation.id)
        do {
            try await hold(reservation, call: call, estimatedCost: estimatedCost, keyId: keyId, keys: keys, rows: rows,
                           lease: lease, instance: instance, policy: configuration.policy)
        } catch let error as CostError {
            // A refusal: the transaction rolled back, nothing is held.
            held.remove(reservation.id)
            throw error
        } catch {
            // The store failed: the hold may have committed before the answer was lost. Released
            // until the store confirms (releasing a row that was never written does nothing).
            unreleased.insert(reservation.id)
            throw error
        }
        return reservation
    }

    /// The reservation's transaction: its row, then (under ``holdLock``) the estimate held on every
    /// total row, checked with what holds of other periods carry.
    private func hold(_ reservation: CostReservation, call: CostCall, estimatedCost: Double, keyId: String?, keys: [BudgetPeriod: String],
                      rows heldRows: [HeldRow], lease: Date, instance: String, policy: BudgetPolicy) async throws {
        let now = reservation.createdAt, logger = self.logger, clock = self.clock, calendar = self.calendar
        try await store.transaction("reserving $\(CostTracker.money(estimatedCost)) for \(call.model)") { connection in
            // The reservation row first: it locks nothing others wait for, so the shared total
            // rows below are held for as short a time as possible (until commit).
            try await connection.query("""
                INSERT INTO cost_reservations (id, model, provider, task_id, agent_id, task_type, estimated_cost, created_at, key_id, tenant,
                                               key_held, day_key, week_key, month_key, instance_id, lease_expires_at)
                VALUES (\(reservation.id), \(call.model), \(call.provider), \(call.taskId), \(call.agentId), \(call.taskType), \(estimatedCost),
                        \(now.timeIntervalSince1970), \(call.keyId), \(call.tenantId), \(keyId != nil), \(keys[.day] ?? ""), \(keys[.week] ?? ""),
                        \(keys[.month] ?? ""), \(instance), \(lease.timeIntervalSince1970))
                """, logger: logger)
            try await connection.query("SELECT pg_advisory_xact_lock(\(Self.holdLock))", logger: logger)
            // Under the lock, the period keys of now: a reservation that waited across a boundary
            // holds against the new period, where it will settle.
            let keysNow = Self.periodKeys(at: clock.now, calendar: calendar)
            var rows = heldRows
            if keysNow != keys {
                rows = heldRows.map { row in
                    var row = row
                    row.key = keysNow[row.period] ?? ""
                    return row
                }
                try await connection.query("""
                    UPDATE cost_reservations SET day_key = \(keysNow[.day] ?? ""), week_key = \(keysNow[.week] ?? ""), month_key = \(keysNow[.month] ?? "")
                    WHERE id = \(reservation.id)
                    """, logger: logger)
            }
            let carried = try await Self.carriedHolds(keys: keysNow, keyId: keyId, connection: connection, logger: logger)
            for row in rows {
                let carriedHere = carried[row.total] ?? 0
                let held = try await Self.hold(row, estimatedCost, carried: carriedHere, connection: connection, logger: logger)
                guard let held else {
                    throw try await Self.refusal(row, carried: carriedHere, call: call, estimatedCost: estimatedCost, connection: connection, logger: logger)
                }
                if !row.conditional, let limit = row.limit, held.cost + held.reserved + carriedHere > limit + 1e-12 {
                    logger.warning("budget limit passed, call allowed by policy", metadata: [
                        "period": "\(row.period.rawValue)", "policy": "\(policy.rawValue)", "model": "\(call.model)",
                    ])
                }
            }
        }
    }

    /// Adds the estimate to one total row's `reserved` if the row's limit allows it, counting what
    /// holds of other period keys carry into it; `nil` when not.
    private static func hold(_ row: HeldRow, _ estimate: Double, carried: Double, connection: PostgresConnection,
                             logger: Logger) async throws -> (cost: Double, reserved: Double)? {
        let limit = row.limit ?? .infinity
        // A $0 estimate (a free model) takes nothing further past a limit: held unconditionally.
        let conditional = row.conditional && estimate > 0
        // A fresh row (a new period's first hold) is inserted without the ON CONFLICT condition:
        // check the estimate and the carried holds here.
        if conditional, carried + estimate > limit + 1e-12 { return nil }
        let rows = try await connection.query("""
            INSERT INTO cost_totals (period, period_key, scope, reserved) VALUES (\(row.period.rawValue), \(row.key), \(row.scope), \(estimate))
            ON CONFLICT (period, period_key, scope) DO UPDATE SET reserved = cost_totals.reserved + excluded.reserved
            WHERE NOT \(conditional) OR cost_totals.cost + cost_totals.reserved + excluded.reserved + \(carried) <= \(limit) + 1e-12
            RETURNING cost, reserved
            """, logger: logger)
        for try await (cost, reserved) in rows.decode((Double, Double).self) { return (cost, reserved) }
        return nil
    }

    /// The ROUTER_002 error for a row with no room, with its figures (holds carried in included).
    private static func refusal(_ row: HeldRow, carried: Double, call: CostCall, estimatedCost: Double, connection: PostgresConnection,
                                logger: Logger) async throws -> CostError {
        var spent = 0.0, reserved = carried
        let rows = try await connection.query("""
            SELECT cost, reserved FROM cost_totals WHERE period = \(row.period.rawValue) AND period_key = \(row.key) AND scope = \(row.scope)
            """, logger: logger)
        for try await (c, r) in rows.decode((Double, Double).self) { (spent, reserved) = (c, r + carried) }
        let limit = row.limit ?? 0
        let owner = row.scope == CostTracker.overallScope ? "" : "key \(row.scope.dropFirst(4))'s "
        return CostError(.budgetExceeded, "BudgetExceeded: \(owner)\(row.period.rawValue) budget \(row.key) has $\(CostTracker.money(limit - spent - reserved)) left "
            + "(limit $\(CostTracker.money(limit)), spent $\(CostTracker.money(spent)), reserved $\(CostTracker.money(reserved)) fleet-wide); "
            + "\(call.model) needs about $\(CostTracker.money(estimatedCost))", period: row.period)
    }

    /// Every hold and settlement is written before it returns; what the store refused (settlements,
    /// releases) gets one more try here, as fleetd stops. What still fails stays in the table and is
    /// billed at its estimate once this instance's lease runs out.
    public func flushPendingWrites() async {
        guard configuration.enabled else { return }
        await retryUnfinished()
    }

    public func release(_ reservation: CostReservation) async {
        // Its call was answered: the settlement kept for it frees it once written.
        guard configuration.enabled, unwritten[reservation.id] == nil else { return }
        do {
            try await remove(ids: [reservation.id])
            held.remove(reservation.id)
            unreleased.remove(reservation.id)
        } catch {
            // Released again by each upkeep round until the store takes it; meanwhile it stays
            // held (and would be billed at its estimate if this instance died first): say so.
            unreleased.insert(reservation.id)
            logger.error("a released reservation could not be removed from the store; retried by the next upkeep round",
                         metadata: ["reservation": "\(reservation.id)", "error": "\(error)"])
        }
    }

    /// Deletes reservations and gives their estimates back, in one transaction (ids not in the
    /// table are skipped).
    private func remove(ids: [String]) async throws {
        let logger = self.logger
        try await store.transaction("releasing \(ids.count) reservation\(ids.count == 1 ? "" : "s")") { connection in
            try await Self.giveBack(try await Self.unhold(ids: ids, connection: connection, logger: logger), connection: connection, logger: logger)
        }
    }

    /// The settlements and releases the store refused earlier, tried again.
    private func retryUnfinished() async {
        if !unreleased.isEmpty {
            let ids = unreleased.sorted()
            do {
                try await remove(ids: ids)
                for id in ids { unreleased.remove(id); held.remove(id) }
                logger.notice("releases held while the store was away are written", metadata: ["count": "\(ids.count)"])
            } catch {
                logger.warning("releases still wait for the store", metadata: ["count": "\(ids.count)", "error": "\(error)"])
            }
        }
        if !unwritten.isEmpty {
            // Each dated now, when it is written, in its ledger row as in the totals it adds to.
            let now = clock.now
            let pending = CostLedgerEntry.redated(unwritten.values, at: now)
            do {
                let stored = try await write(pending)
                for entry in pending { unwritten.removeValue(forKey: entry.entryId); held.remove(entry.entryId) }
                logger.notice("settlements held while the store was away are written at their real cost; their reservations are freed", metadata: [
                    "count": "\(stored.count)", "usd": "\(CostTracker.money(stored.reduce(0) { $0 + $1.cost }))",
                ])
            } catch {
                logger.warning("settlements still wait for the store", metadata: ["count": "\(pending.count)", "error": "\(error)"])
            }
        }
    }

    // MARK: - Settlements

    @discardableResult
    public func settle(_ reservation: CostReservation, usage: CostUsage, pricing: ModelPricing, basis: CostBasis = .reported) async throws -> CostLedgerEntry {
        let entry = CostLedgerEntry(entryId: reservation.id, call: reservation.call, usage: usage,
                                    cost: try usage.cost(pricing: pricing), timestamp: clock.now, basis: basis)
        guard configuration.enabled else { return entry }
        do {
            let written = try await write([entry])[0]
            held.remove(reservation.id)
            unreleased.remove(reservation.id)
            if unwritten.removeValue(forKey: entry.entryId) != nil { // an earlier try of this settlement, refused
                logger.notice("a settlement the store refused earlier is written; its reservation is freed",
                              metadata: ["reservation": "\(entry.entryId)"])
            }
            return written
        } catch let error where !(error is CostError) {
            // The call was answered: its row must not be lost. Kept here and retried until the
            // store takes it; the reservation meanwhile stays held under this instance's lease.
            if unwritten[entry.entryId] == nil {
                logger.error("a settlement could not be written: kept with its real cost and written when the store takes it; its reservation stays held until then",
                             metadata: [
                                 "reservation": "\(entry.entryId)", "task": "\(entry.call.taskId)", "model": "\(entry.call.model)",
                                 "usd": "\(CostTracker.money(entry.cost))", "error": "\(error)",
                             ])
            }
            unwritten[entry.entryId] = entry
            throw error
        }
    }

    @discardableResult
    public func record(_ call: CostCall, usage: CostUsage, pricing: ModelPricing, entryId: String, basis: CostBasis = .reported) async throws -> CostLedgerEntry {
        guard !entryId.isEmpty else { throw CostError(.costCalculationFailed, "ledger entry id is empty for task \(call.taskId)") }
        let entry = CostLedgerEntry(entryId: entryId, call: call, usage: usage, cost: try usage.cost(pricing: pricing), timestamp: clock.now, basis: basis)
        guard configuration.enabled else { return entry }
        return try await write([entry])[0]
    }

    /// Writes entries, settling the reservations of the same ids, in one transaction; raises the
    /// alerts the transaction marked.
    private func write(_ entries: [CostLedgerEntry]) async throws -> [CostLedgerEntry] {
        let now = clock.now
        let keys = periodKeys(at: now), configuration = self.configuration
        let instance = store.configuration.instanceId, logger = self.logger
        let outcome = try await store.transaction("settling \(entries.count) ledger entr\(entries.count == 1 ? "y" : "ies")") { connection in
            try await Self.writeLedger(entries, keys: keys, configuration: configuration, instance: instance, now: now,
                                       connection: connection, logger: logger)
        }
        raise(outcome.alerts)
        lastStatus = nil
        return outcome.entries
    }

    func raise(_ alerts: [CostAlert]) {
        for alert in alerts {
            logger.warning("\(alert.message)", metadata: ["code": "\(ErrorCode.budgetAlertTriggered.rawValue)", "period": "\(alert.period.rawValue)"])
            alertContinuation.yield(alert)
        }
    }

    // MARK: - Leases

    /// One round of upkeep (``PostgresMaintenance`` runs it every third of the lease): renews this
    /// instance's leases, writes settlements the store refused earlier, and bills the expired
    /// reservations of dead instances when no other instance is doing so. Returns what it billed.
    @discardableResult
    public func maintain() async -> [CostLedgerEntry] {
        let now = clock.now
        let lease = now.addingTimeInterval(store.configuration.reservationLease.timeInterval).timeIntervalSince1970
        let instance = store.configuration.instanceId, logger = self.logger
        // Only what this process still holds: a row it failed to release is released below (not
        // renewed for the instance's life), one it lost track of runs out and is billed.
        let mine = Array(held)
        do {
            try await store.withConnection("renewing reservation leases") { connection in
                _ = try await connection.query("""
                    UPDATE cost_reservations SET lease_expires_at = \(lease) WHERE instance_id = \(instance) AND id = ANY(\(mine))
                    """, logger: logger)
            }
        } catch {
            logger.warning("reservation leases could not be renewed", metadata: ["error": "\(error)"])
            return []
        }
        await retryUnfinished()
        do {
            return try await billExpiredReservations()
        } catch {
            logger.warning("expired reservations could not be billed", metadata: ["error": "\(error)"])
            return []
        }
    }

    /// Bills, at their estimate, reservations whose lease ran out (their instance died or lost the
    /// store for longer than the lease), under an advisory lock so one instance at a time does it.
    /// Each is dated when it is billed, in the ledger row as in the totals it adds to (as any
    /// settlement, and as the SQLite tracker's ``CostTracker/billUnsettledReservations()``): the
    /// hold counted against every period it was held in, up to this one.
    @discardableResult
    public func billExpiredReservations() async throws -> [CostLedgerEntry] {
        let now = clock.now
        let keys = periodKeys(at: now), configuration = self.configuration
        let instance = store.configuration.instanceId, logger = self.logger
        let outcome = try await store.transaction("billing expired reservations") { connection -> LedgerWriteOutcome? in
            var locked = false
            for try await got in try await connection.query("SELECT pg_try_advisory_xact_lock(\(Self.sweepLock))", logger: logger).decode(Bool.self) {
                locked = got
            }
            guard locked else { return nil }
            var entries: [CostLedgerEntry] = []
            let rows = try await connection.query("""
                SELECT id, model, provider, task_id, agent_id, task_type, estimated_cost, key_id, tenant
                FROM cost_reservations WHERE lease_expires_at < \(now.timeIntervalSince1970)
                ORDER BY created_at LIMIT 500 FOR UPDATE SKIP LOCKED
                """, logger: logger)
            for try await (id, model, provider, task, agent, type, estimate, key, tenant)
                in rows.decode((String, String, String, String, String, String, Double, String?, String?).self) {
                entries.append(CostLedgerEntry(entryId: id, call: CostCall(model: model, provider: provider, taskId: task, agentId: agent,
                                                                         taskType: type, keyId: key, tenantId: tenant),
                                               usage: CostUsage(inputTokens: 0, outputTokens: 0), cost: estimate,
                                               timestamp: now, basis: .estimated))
            }
            guard !entries.isEmpty else { return nil }
            return try await Self.writeLedger(entries, keys: keys, configuration: configuration, instance: instance, now: now,
                                              connection: connection, logger: logger)
        }
        guard let outcome else { return [] }
        logger.warning("billed reservations whose lease ran out at their estimate", metadata: [
            "count": "\(outcome.entries.count)", "usd": "\(CostTracker.money(outcome.entries.reduce(0) { $0 + $1.cost }))",
        ])
        raise(outcome.alerts)
        return outcome.entries
    }

    /// With PostgreSQL, reservations of live instances are theirs to settle: only the ones whose
    /// lease ran out are billed.
    @discardableResult
    public func billUnsettledReservations() async throws -> [CostLedgerEntry] {
        try await billExpiredReservations()
    }

    // MARK: - Internals

    func periodKeys(at date: Date) -> [BudgetPeriod: String] {
        Self.periodKeys(at: date, calendar: calendar)
    }

    static func periodKeys(at date: Date, calendar: PeriodCalendar) -> [BudgetPeriod: String] {
        Dictionary(uniqueKeysWithValues: BudgetPeriod.allCases.map { ($0, calendar.key($0, at: date)) })
    }

    func rememberStatus(_ status: BudgetStatus) { lastStatus = status }
    var rememberedStatus: BudgetStatus? { lastStatus }
}

/// One total row a reservation holds against.
struct HeldRow: Sendable, Comparable {
    var period: BudgetPeriod
    var key: String
    var scope: String
    var limit: Double?
    /// Whether the limit applies (`false`: the policy lets the call through over the limit).
    var conditional: Bool

    static func < (a: HeldRow, b: HeldRow) -> Bool {
        (a.period.rawValue, a.key, a.scope) < (b.period.rawValue, b.key, b.scope)
    }

    /// The `cost_totals` row's key.
    var total: TotalRowKey { TotalRowKey(period: period.rawValue, key: key, scope: scope) }
}

extension Duration {
    /// Seconds as a `TimeInterval`.
    var timeInterval: TimeInterval { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}

extension PostgresCostTracker {
    /// None: a settlement's row is written before `settle` returns (one it could not write is
    /// kept and counted by the key's reservation until `maintain()` writes it).
    public func pendingTokens(keyId: String, since: Date) -> (tokens: Int, oldest: Date?) { (0, nil) }
}
