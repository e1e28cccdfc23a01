import Foundation

/// Provider quotas as the task path, the router and the routes use them.
///
/// Two implementations, chosen by `database.type` (as ``CostAccounting``):
/// - ``QuotaManager`` (SQLite, one process): counters in the actor and the instance's file; a
///   call is counted after it is made, in memory at once and in the file by group commit.
/// - ``PostgresQuotaManager`` (PostgreSQL, any number of processes): counters in one shared row
///   per provider; each call is admitted by one atomic conditional update before it is made, so
///   the instances together never make more requests than a request limit allows.
public protocol ProviderQuotaAccounting: QuotaChecking, AnyObject {
    /// The limits in force.
    var configuration: QuotaConfiguration { get }
    /// Whether `provider` has limits. Only those are counted.
    func tracks(provider: String) -> Bool
    /// New limits or time zone (a reload).
    func update(configuration: QuotaConfiguration) throws
    /// Whether ``admit(provider:)`` counts the request it admits (so ``record(provider:requests:tokens:)``
    /// after the call must count tokens only).
    var countsRequestsOnAdmission: Bool { get }
    /// Before a call to `provider`: `nil` lets it go (and, when ``countsRequestsOnAdmission``,
    /// counts it); a decision with `allowed == false` says why not.
    func admit(provider: String) async -> QuotaDecision?
    /// Counts a call's requests and tokens against `provider`'s quotas.
    func record(provider: String, requests: Int, tokens: Int) async throws
    /// Makes `provider` unusable for `duration` seconds.
    func markUnavailable(_ provider: String, for duration: TimeInterval, reason: String) async throws
    /// Makes `provider` usable again at once.
    func markAvailable(_ provider: String) async throws
    /// The provider's counters for the current day and month.
    func usage(of provider: String) async -> ProviderQuotaUsage
    /// Writes what waits for a group commit now (when fleetd stops).
    func flushPendingWrites() async
}

extension QuotaManager: ProviderQuotaAccounting {
    /// The SQLite manager counts a call after it is made (the router's check keeps it within the limits).
    public nonisolated var countsRequestsOnAdmission: Bool { false }

    /// Always lets the call go: on one process the router's quota check before the selection is the gate.
    public func admit(provider: String) async -> QuotaDecision? { nil }
}
