import Foundation

/// The money path as its callers use it: reservations before a call, a ledger row after it,
/// budget status, alerts and reports.
///
/// Two implementations, chosen by `database.type`:
/// - ``CostTracker`` (SQLite, one process): reservations held in the actor, the check and the hold
///   one actor step; the embedded default, unchanged.
/// - ``PostgresCostTracker`` (PostgreSQL, any number of processes): reservations are atomic
///   conditional updates of the shared totals, so instances together never pass a limit.
///
/// Callers (task billing, the routes, the metrics, the alert service) hold an
/// `any CostAccounting` and never know which one runs.
public protocol CostAccounting: BudgetStatusProviding, AnyObject {
    /// The limits, thresholds, policy and time zone in force.
    var configuration: CostConfiguration { get }
    /// COST_002 events raised by this instance's settlements (each threshold once per period,
    /// fleet-wide with PostgreSQL: the instance whose settlement crossed it raises it).
    var alerts: AsyncStream<CostAlert> { get }

    /// A reload's cost settings (see ``CostTracker/update(configuration:memoryConfiguration:)``).
    func update(configuration: CostConfiguration, memoryConfiguration: MemoryStoreConfiguration) async throws
    /// Holds `estimatedCost` for a call about to be made, or throws ROUTER_002.
    func reserve(_ call: CostCall, estimatedCost: Double, isCheaperAlternative: Bool,
                 keyLimits: CostConfiguration.BudgetLimits?) async throws -> CostReservation
    /// Frees a reservation whose call the provider never accepted.
    func release(_ reservation: CostReservation) async
    /// Records a reserved call's real usage and frees its reservation; idempotent on its id.
    ///
    /// When the store refuses the write (any error but a ``CostError``) it throws (``CostTracker``
    /// with a journal returns once the settlement is in the journal, and writes its row behind), and the tracker
    /// keeps the settlement with its real cost and writes it once the store takes it (``CostTracker``
    /// by a retry with backoff, ``PostgresCostTracker`` by ``PostgresCostTracker/maintain()``, both at
    /// ``flushPendingWrites()``); until then the reservation stays held, counted against the budget.
    /// A ``CostError`` (bad usage) keeps nothing.
    @discardableResult
    func settle(_ reservation: CostReservation, usage: CostUsage, pricing: ModelPricing, basis: CostBasis) async throws -> CostLedgerEntry
    /// Records a call that was not reserved, under a caller-chosen unique `entryId`.
    @discardableResult
    func record(_ call: CostCall, usage: CostUsage, pricing: ModelPricing, entryId: String, basis: CostBasis) async throws -> CostLedgerEntry
    /// Bills reservations nobody will settle any more (an earlier run, or a dead instance whose
    /// lease ran out) at their estimate. Call once at start-up.
    @discardableResult
    func billUnsettledReservations() async throws -> [CostLedgerEntry]
    /// Alerts already raised for the current periods.
    func raisedAlerts() async throws -> [CostAlert]
    /// A key's spend and reservations per period against its limits.
    func keyBudgetStatus(keyId: String, limits: CostConfiguration.BudgetLimits) async -> BudgetStatus
    /// The spend report of one period from the ledger this tracker writes.
    func report(period: BudgetPeriod, breakdowns: Set<CostReport.Breakdown>, tenant: String?) async throws -> CostReport
    /// Writes what waits now (when fleetd stops): holds waiting for a group commit, and the
    /// settlements and releases the store refused earlier.
    func flushPendingWrites() async
    /// Tokens (input + output) of a key's settlements since `since` that are answered but not yet
    /// in the ledger, and the oldest one's time: a key's tokens per minute count them with the
    /// ledger's rows.
    func pendingTokens(keyId: String, since: Date) async -> (tokens: Int, oldest: Date?)
}


extension CostTracker: CostAccounting {
    public func report(period: BudgetPeriod, breakdowns: Set<CostReport.Breakdown>, tenant: String?) async throws -> CostReport {
        // A task answered before the report is in it, though its row is written behind the answer.
        await settledBehind()
        return try await CostReport.load(database: database, period: period, now: clock.now, timeZoneIdentifier: configuration.timeZone,
                                  breakdowns: breakdowns, tenant: tenant)
    }
}
