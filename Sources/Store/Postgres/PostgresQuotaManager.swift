import FleetSupport
import Foundation
import Logging
import PostgresNIO

/// Provider quotas on the shared PostgreSQL store: any number of fleetd instances count against
/// one row per provider, so together they respect one provider quota.
///
/// Each call is admitted by ONE conditional upsert before it is made:
///
///     INSERT INTO provider_quotas (…, day_requests, month_requests) VALUES (…, 1, 1)
///     ON CONFLICT (provider) DO UPDATE SET day_requests = <current day's count> + 1, …
///     WHERE <not unavailable> AND <current day's count> < $requestsPerDay AND … RETURNING …
///
/// PostgreSQL locks the row and re-checks the condition on its newest version, so admissions
/// from every instance are serialised on the row: the fleet never makes more requests than a
/// request limit allows. Tokens are only known after the call: they are added then, so a token
/// limit is passed by at most the calls in flight when it is reached (a call is admitted while
/// the tokens counted so far are under the limit). A period key that changed (a new day or
/// month in the quota time zone) starts its counters again at zero inside the same statement.
///
/// The router's ``check(provider:)`` reads a snapshot of every provider's row refreshed at most
/// every `refreshInterval` (it is advice for the ranking; admission is the gate). When the store
/// does not answer, ``admit(provider:)`` refuses the call (fail closed, naming the server) and
/// the router keeps the last figures it read.
public actor PostgresQuotaManager: ProviderQuotaAccounting {
    public nonisolated let store: PostgresStore
    private struct Settings: Sendable {
        var configuration: QuotaConfiguration
        var calendar: PeriodCalendar
    }
    private nonisolated let settings: LiveSetting<Settings>
    public nonisolated var configuration: QuotaConfiguration { settings.value.configuration }
    public nonisolated var calendar: PeriodCalendar { settings.value.calendar }
    public nonisolated var countsRequestsOnAdmission: Bool { true }
    private let clock: any WallClock
    private let logger: Logger
    private let refreshInterval: TimeInterval
    /// The last rows read or written, by provider.
    private var snapshot: [String: ProviderQuotaUsage] = [:]
    private var refreshedAt: Date?
    private var refreshing = false

    /// - Throws: ``QuotaError`` for a bad configuration.
    public init(store: PostgresStore, configuration: QuotaConfiguration = QuotaConfiguration(), clock: any WallClock = SystemWallClock(),
                refreshInterval: TimeInterval = 0.25, logger: Logger = Logger(label: "fleetd.quota")) throws {
        try configuration.validate()
        self.store = store
        self.settings = LiveSetting(Settings(configuration: configuration, calendar: try PeriodCalendar(timeZoneIdentifier: configuration.timeZone)))
        self.clock = clock
        self.refreshInterval = refreshInterval
        self.logger = logger
    }

    public nonisolated func tracks(provider: String) -> Bool {
        configuration.providers[provider] != nil
    }

    public nonisolated func update(configuration: QuotaConfiguration) throws {
        try configuration.validate()
        settings.set(Settings(configuration: configuration, calendar: try PeriodCalendar(timeZoneIdentifier: configuration.timeZone)))
    }

    // MARK: - Admission and counting

    public func admit(provider: String) async -> QuotaDecision? {
        guard tracks(provider: provider) else { return nil }
        let now = clock.now
        let (dayKey, monthKey) = keys(at: now)
        let limits = configuration.providers[provider] ?? QuotaConfiguration.Limits()
        let unlimited = Int.max
        let (rd, rm, td, tm) = (limits.requestsPerDay ?? unlimited, limits.requestsPerMonth ?? unlimited,
                                limits.tokensPerDay ?? unlimited, limits.tokensPerMonth ?? unlimited)
        let at = now.timeIntervalSince1970, logger = self.logger
        do {
            let admitted = try await store.withConnection("admitting a call to \(provider) under its quota") { connection -> ProviderQuotaUsage? in
                let rows = try await connection.query("""
                    INSERT INTO provider_quotas (provider, day_key, day_requests, month_key, month_requests, updated_at)
                    VALUES (\(provider), \(dayKey), 1, \(monthKey), 1, \(at))
                    ON CONFLICT (provider) DO UPDATE SET
                        day_requests = (CASE WHEN provider_quotas.day_key = excluded.day_key THEN provider_quotas.day_requests ELSE 0 END) + 1,
                        day_tokens = CASE WHEN provider_quotas.day_key = excluded.day_key THEN provider_quotas.day_tokens ELSE 0 END,
                        day_key = excluded.day_key,
                        month_requests = (CASE WHEN provider_quotas.month_key = excluded.month_key THEN provider_quotas.month_requests ELSE 0 END) + 1,
                        month_tokens = CASE WHEN provider_quotas.month_key = excluded.month_key THEN provider_quotas.month_tokens ELSE 0 END,
                        month_key = excluded.month_key,
                        updated_at = excluded.updated_at
                    WHERE (provider_quotas.unavailable_until IS NULL OR provider_quotas.unavailable_until <= \(at))
                      AND (CASE WHEN provider_quotas.day_key = excluded.day_key THEN provider_quotas.day_requests ELSE 0 END) < \(rd)
                      AND (CASE WHEN provider_quotas.month_key = excluded.month_key THEN provider_quotas.month_requests ELSE 0 END) < \(rm)
                      AND (CASE WHEN provider_quotas.day_key = excluded.day_key THEN provider_quotas.day_tokens ELSE 0 END) < \(td)
                      AND (CASE WHEN provider_quotas.month_key = excluded.month_key THEN provider_quotas.month_tokens ELSE 0 END) < \(tm)
                    RETURNING \(unescaped: Self.columns)
                    """, logger: logger)
                return try await Self.decodeFirst(rows)
            }
            if let admitted {
                snapshot[provider] = admitted
                return nil
            }
        } catch {
            logger.error("a call was refused: the shared provider quotas cannot be read", metadata: ["provider": "\(provider)", "error": "\(error)"])
            return QuotaDecision(provider: provider, allowed: false,
                                 reason: "provider \(provider)'s quota could not be checked: the shared store did not answer (\(Self.message(error)))")
        }
        // Refused: say why from the row as it stands.
        let row = (try? await read(provider)) ?? snapshot[provider]
        let usage = (row ?? ProviderQuotaUsage(provider: provider, dayKey: dayKey, monthKey: monthKey)).current(dayKey: dayKey, monthKey: monthKey)
        var decision = usage.decision(limits: limits, at: now)
        if decision.allowed {
            // The row changed between the refusal and the read (a new period began): say what was refused.
            decision = QuotaDecision(provider: provider, allowed: false, reason: "quota reached for \(provider)", usedFraction: decision.usedFraction)
        }
        decision.reason = decision.reason.map { "\($0), fleet-wide" }
        return decision
    }

    public func record(provider: String, requests: Int, tokens: Int) async throws {
        guard !provider.isEmpty else { throw QuotaError(.invalidArgument, "record: provider name is empty") }
        guard requests >= 0, tokens >= 0 else {
            throw QuotaError(.invalidArgument, "record(\(provider)): requests (\(requests)) and tokens (\(tokens)) must not be negative")
        }
        guard requests > 0 || tokens > 0 else { return }
        let now = clock.now
        let (dayKey, monthKey) = keys(at: now)
        let at = now.timeIntervalSince1970, logger = self.logger
        let row = try await store.withConnection("recording quota use for \(provider)") { connection -> ProviderQuotaUsage? in
            let rows = try await connection.query("""
                INSERT INTO provider_quotas (provider, day_key, day_requests, day_tokens, month_key, month_requests, month_tokens, updated_at)
                VALUES (\(provider), \(dayKey), \(requests), \(tokens), \(monthKey), \(requests), \(tokens), \(at))
                ON CONFLICT (provider) DO UPDATE SET
                    day_requests = (CASE WHEN provider_quotas.day_key = excluded.day_key THEN provider_quotas.day_requests ELSE 0 END) + excluded.day_requests,
                    day_tokens = (CASE WHEN provider_quotas.day_key = excluded.day_key THEN provider_quotas.day_tokens ELSE 0 END) + excluded.day_tokens,
                    day_key = excluded.day_key,
                    month_requests = (CASE WHEN provider_quotas.month_key = excluded.month_key THEN provider_quotas.month_requests ELSE 0 END) + excluded.month_requests,
                    month_tokens = (CASE WHEN provider_quotas.month_key = excluded.month_key THEN provider_quotas.month_tokens ELSE 0 END) + excluded.month_tokens,
                    month_key = excluded.month_key,
                    updated_at = excluded.updated_at
                RETURNING \(unescaped: Self.columns)
                """, logger: logger)
            return try await Self.decodeFirst(rows)
        }
        if let row { snapshot[provider] = row }
    }

    public func markUnavailable(_ provider: String, for duration: TimeInterval, reason: String) async throws {
        guard !provider.isEmpty else { throw QuotaError(.invalidArgument, "markUnavailable: provider name is empty") }
        guard duration.isFinite, duration > 0 else {
            throw QuotaError(.invalidArgument, "markUnavailable(\(provider)): duration must be a positive number of seconds, got \(duration)")
        }
        let until = clock.now.addingTimeInterval(duration)
        try await setAvailability(provider, until: until, reason: reason)
        logger.notice("provider marked unavailable fleet-wide", metadata: ["provider": "\(provider)", "seconds": "\(Int(duration))", "reason": "\(reason)"])
    }

    public func markAvailable(_ provider: String) async throws {
        try await setAvailability(provider, until: nil, reason: nil)
    }

    // MARK: - Reading

    /// From the snapshot (refreshed when older than `refreshInterval`): the router's advice.
    public func check(provider: String) async -> QuotaDecision {
        // Providers without limits are never counted: no need to ask the store about them.
        if tracks(provider: provider) { await refreshIfStale() }
        let now = clock.now
        var decision = evaluate(provider, at: now)
        if !decision.allowed {
            let others = Set(configuration.providers.keys).union(snapshot.keys).subtracting([provider])
            decision.alternatives = QuotaDecision.usable(among: others) { evaluate($0, at: now) }
        }
        return decision
    }

    /// The provider's shared counters for the current day and month (the last ones read when the
    /// store does not answer).
    /// Nothing waits: each count is one statement on the shared store, made when it is recorded.
    public func flushPendingWrites() async {}

    public func usage(of provider: String) async -> ProviderQuotaUsage {
        let now = clock.now
        let (dayKey, monthKey) = keys(at: now)
        if let row = try? await read(provider) { snapshot[provider] = row }
        return (snapshot[provider] ?? ProviderQuotaUsage(provider: provider, dayKey: dayKey, monthKey: monthKey))
            .current(dayKey: dayKey, monthKey: monthKey)
    }

    // MARK: - Internals

    private static let columns = "provider, day_key, day_requests, day_tokens, month_key, month_requests, month_tokens, unavailable_until, unavailable_reason"

    private func keys(at now: Date) -> (day: String, month: String) {
        (calendar.key(.day, at: now), calendar.key(.month, at: now))
    }

    private func evaluate(_ provider: String, at now: Date) -> QuotaDecision {
        let (dayKey, monthKey) = keys(at: now)
        return (snapshot[provider] ?? ProviderQuotaUsage(provider: provider, dayKey: dayKey, monthKey: monthKey))
            .current(dayKey: dayKey, monthKey: monthKey)
            .decision(limits: configuration.providers[provider] ?? QuotaConfiguration.Limits(), at: now)
    }

    private func refreshIfStale() async {
        let now = clock.now
        if let refreshedAt, now.timeIntervalSince(refreshedAt) < refreshInterval { return }
        guard !refreshing else { return }
        refreshing = true
        defer { refreshing = false }
        // Marked first: while the store is away, one selection per interval waits for it, not each.
        refreshedAt = now
        let logger = self.logger
        do {
            let rows = try await store.withConnection("reading provider quotas") { connection in
                var rows: [ProviderQuotaUsage] = []
                for try await row in try await connection.query("SELECT \(unescaped: Self.columns) FROM provider_quotas", logger: logger)
                    .decode(Row.self) {
                    rows.append(Self.usage(row))
                }
                return rows
            }
            snapshot = Dictionary(rows.map { ($0.provider, $0) }, uniquingKeysWith: { a, _ in a })
        } catch {
            logger.warning("provider quotas could not be read; routing uses the last figures", metadata: ["error": "\(error)"])
        }
    }

    private func read(_ provider: String) async throws -> ProviderQuotaUsage? {
        let logger = self.logger
        return try await store.withConnection("reading the quota of \(provider)") { connection in
            try await Self.decodeFirst(try await connection.query("SELECT \(unescaped: Self.columns) FROM provider_quotas WHERE provider = \(provider)",
                                                                  logger: logger))
        }
    }

    private func setAvailability(_ provider: String, until: Date?, reason: String?) async throws {
        let now = clock.now
        let (dayKey, monthKey) = keys(at: now)
        let at = now.timeIntervalSince1970, end = until?.timeIntervalSince1970, logger = self.logger
        let row = try await store.withConnection("saving availability of \(provider)") { connection -> ProviderQuotaUsage? in
            try await Self.decodeFirst(try await connection.query("""
                INSERT INTO provider_quotas (provider, day_key, month_key, unavailable_until, unavailable_reason, updated_at)
                VALUES (\(provider), \(dayKey), \(monthKey), \(end), \(reason), \(at))
                ON CONFLICT (provider) DO UPDATE SET
                    unavailable_until = excluded.unavailable_until, unavailable_reason = excluded.unavailable_reason, updated_at = excluded.updated_at
                RETURNING \(unescaped: Self.columns)
                """, logger: logger))
        }
        if let row { snapshot[provider] = row }
    }

    private typealias Row = (String, String, Int, Int, String, Int, Int, Double?, String?)

    private static func usage(_ row: Row) -> ProviderQuotaUsage {
        var usage = ProviderQuotaUsage(provider: row.0, dayKey: row.1, monthKey: row.4)
        usage.dayRequests = row.2
        usage.dayTokens = row.3
        usage.monthRequests = row.5
        usage.monthTokens = row.6
        usage.unavailableUntil = row.7.map { Date(timeIntervalSince1970: $0) }
        usage.unavailableReason = row.8
        return usage
    }

    private static func decodeFirst(_ rows: PostgresRowSequence) async throws -> ProviderQuotaUsage? {
        var first: ProviderQuotaUsage?
        for try await row in rows.decode(Row.self) where first == nil { first = usage(row) }
        return first
    }

    private static func message(_ error: any Error) -> String {
        (error as? PostgresStoreError)?.message ?? "\(error)"
    }
}
