import FleetSupport
import Foundation
import GRDB
import Logging

/// Per-provider request and token quotas for the day and the month, persisted in SQLite.
///
/// Counters belong to a period key (`2026-01-31`, `2026-01`) in the configured time zone; when
/// the key of "now" differs from the stored one the counter starts again at zero, so a month
/// change with the same day number, or a year change, resets correctly. A provider can also be
/// marked unavailable for a while (e.g. after a 429 with retry-after).
public actor QuotaManager: QuotaChecking {
    private struct Settings: Sendable {
        var configuration: QuotaConfiguration
        var calendar: PeriodCalendar
    }
    private nonisolated let settings: LiveSetting<Settings>

    /// The limits in force.
    public nonisolated var configuration: QuotaConfiguration { settings.value.configuration }
    /// Day and month boundaries, in the cost time zone.
    public nonisolated var calendar: PeriodCalendar { settings.value.calendar }

    /// Whether `provider` has limits. Only those are counted: nothing else is enforced or reported.
    public nonisolated func tracks(provider: String) -> Bool {
        configuration.providers[provider] != nil
    }

    /// New limits or time zone (a reload). Counters are kept; a new time zone starts new periods.
    /// - Throws: ``QuotaError`` for a bad configuration (the one in force stays).
    public nonisolated func update(configuration: QuotaConfiguration) throws {
        try configuration.validate()
        settings.set(Settings(configuration: configuration, calendar: try PeriodCalendar(timeZoneIdentifier: configuration.timeZone)))
    }
    private let database: StoreDatabase
    private let clock: any WallClock
    private let logger: Logger
    private var usage: [String: ProviderQuotaUsage]
    /// Counts applied in memory and not yet added in the database, in the order first counted.
    private var pendingCounts: [PendingCount] = []
    private var flushScheduled = false
    /// The write of counts under way, if one is.
    private var writing: Task<Void, Never>?
    /// How long counts wait to be added in the database together (see ``record(provider:requests:tokens:)``).
    public nonisolated let writeDelay: Duration

    /// Requests and tokens to add to one provider's counters for one day and month.
    private struct PendingCount {
        var provider: String
        var dayKey: String
        var monthKey: String
        var requests: Int
        var tokens: Int
    }

    /// Loads persisted counters.
    /// - Throws: ``QuotaError`` for a bad configuration, ``StoreError`` when the store fails.
    public init(database: StoreDatabase, configuration: QuotaConfiguration = QuotaConfiguration(),
                clock: any WallClock = SystemWallClock(), writeDelay: Duration = .milliseconds(50),
                logger: Logger = Logger(label: "fleetd.quota")) async throws {
        try configuration.validate()
        self.writeDelay = writeDelay
        self.settings = LiveSetting(Settings(configuration: configuration, calendar: try PeriodCalendar(timeZoneIdentifier: configuration.timeZone)))
        self.database = database
        self.clock = clock
        self.logger = logger
        let rows = try await database.read("loading provider quotas") { db in
            try Row.fetchAll(db, sql: "SELECT * FROM provider_quotas").map(ProviderQuotaUsage.init(row:))
        }
        self.usage = Dictionary(rows.map { ($0.provider, $0) }, uniquingKeysWith: { a, _ in a })
    }

    /// Counts a call against `provider`'s quotas.
    ///
    /// The count applies in memory at once (every check after it sees it); it is added in the
    /// database by a group commit at most ``writeDelay`` later, with the counts that came in
    /// meanwhile, so no call waits for SQLite. A crash loses at most that last moment's counts.
    /// A store that fails is logged and the counts are tried again; the in-memory counts stay.
    /// - Throws: ``QuotaError`` for an empty provider or negative counts.
    public func record(provider: String, requests: Int = 1, tokens: Int = 0) async throws {
        guard !provider.isEmpty else { throw QuotaError(.invalidArgument, "record: provider name is empty") }
        guard requests >= 0, tokens >= 0 else {
            throw QuotaError(.invalidArgument, "record(\(provider)): requests (\(requests)) and tokens (\(tokens)) must not be negative")
        }
        let now = clock.now
        var current = currentUsage(provider, at: now)
        current.dayRequests += requests
        current.monthRequests += requests
        current.dayTokens += tokens
        current.monthTokens += tokens
        usage[provider] = current
        add(PendingCount(provider: provider, dayKey: current.dayKey, monthKey: current.monthKey, requests: requests, tokens: tokens))
        scheduleFlush(after: writeDelay)
    }

    /// Makes sure the waiting counts are written `delay` from now (once, however many wait).
    private func scheduleFlush(after delay: Duration) {
        guard !flushScheduled else { return }
        flushScheduled = true
        Task {
            try? await Task.sleep(for: delay)
            await self.flushPendingWrites()
        }
    }

    private func add(_ count: PendingCount) {
        if let index = pendingCounts.firstIndex(where: { $0.provider == count.provider && $0.dayKey == count.dayKey && $0.monthKey == count.monthKey }) {
            pendingCounts[index].requests += count.requests
            pendingCounts[index].tokens += count.tokens
        } else {
            pendingCounts.append(count)
        }
    }

    /// Adds the waiting counts in the database, in one transaction. Also called when fleetd stops:
    /// when it returns, every count made before the call is in the file (or, the write having
    /// failed, still waits in memory). One write at a time, in order: a call made while a timed
    /// flush is writing waits for that write first, where it used to find nothing waiting and
    /// return while the counts were still on their way (and fleetd then closed the database).
    public func flushPendingWrites() async {
        flushScheduled = false
        while let writing {
            await writing.value
        }
        guard !pendingCounts.isEmpty else { return }
        let batch = pendingCounts
        pendingCounts.removeAll(keepingCapacity: true)
        // The write clears `writing` itself before it ends: a caller waiting on it then finds the
        // next write or none, never a finished one to wait on again.
        let write = Task {
            await self.save(batch)
            self.writing = nil
        }
        writing = write
        await write.value
    }

    private func save(_ batch: [PendingCount]) async {
        let now = clock.now.timeIntervalSince1970
        do {
            try await Task {
                try await database.write("recording quota use of \(batch.count) provider(s)") { db in
                    let increment = try db.cachedStatement(sql: """
                        INSERT INTO provider_quotas (provider, day_key, day_requests, day_tokens, month_key, month_requests, month_tokens, updated_at)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                        ON CONFLICT(provider) DO UPDATE SET
                            day_requests = CASE WHEN day_key = excluded.day_key THEN day_requests + excluded.day_requests ELSE excluded.day_requests END,
                            day_tokens = CASE WHEN day_key = excluded.day_key THEN day_tokens + excluded.day_tokens ELSE excluded.day_tokens END,
                            day_key = excluded.day_key,
                            month_requests = CASE WHEN month_key = excluded.month_key THEN month_requests + excluded.month_requests ELSE excluded.month_requests END,
                            month_tokens = CASE WHEN month_key = excluded.month_key THEN month_tokens + excluded.month_tokens ELSE excluded.month_tokens END,
                            month_key = excluded.month_key,
                            updated_at = excluded.updated_at
                        """)
                    for count in batch {
                        try increment.execute(arguments: [count.provider, count.dayKey, count.requests, count.tokens,
                                                          count.monthKey, count.requests, count.tokens, now])
                    }
                }
            }.value
        } catch {
            logger.error("provider quota counts could not be saved; they stay counted in memory and are tried again",
                         metadata: ["providers": "\(Set(batch.map(\.provider)).sorted())", "error": "\(error)"])
            let later = pendingCounts
            pendingCounts = []
            for count in batch + later { add(count) }
            scheduleFlush(after: .seconds(1))
        }
    }

    /// Makes `provider` unusable for `duration` seconds (e.g. a rate limit's retry-after).
    public func markUnavailable(_ provider: String, for duration: TimeInterval, reason: String) async throws {
        guard !provider.isEmpty else { throw QuotaError(.invalidArgument, "markUnavailable: provider name is empty") }
        guard duration.isFinite, duration > 0 else {
            throw QuotaError(.invalidArgument, "markUnavailable(\(provider)): duration must be a positive number of seconds, got \(duration)")
        }
        let now = clock.now
        var current = currentUsage(provider, at: now)
        current.unavailableUntil = now.addingTimeInterval(duration)
        current.unavailableReason = reason
        try await setAvailability(current, now: now)
        logger.notice("provider marked unavailable", metadata: ["provider": "\(provider)", "seconds": "\(Int(duration))", "reason": "\(reason)"])
    }

    /// Makes `provider` usable again at once.
    public func markAvailable(_ provider: String) async throws {
        let now = clock.now
        var current = currentUsage(provider, at: now)
        current.unavailableUntil = nil
        current.unavailableReason = nil
        try await setAvailability(current, now: now)
    }

    /// Whether `provider` can be used now, why not, how much is used, and which others can.
    public func check(provider: String) async -> QuotaDecision {
        let now = clock.now
        var decision = evaluate(provider, at: now)
        if !decision.allowed {
            let others = Set(configuration.providers.keys).union(usage.keys).subtracting([provider])
            decision.alternatives = QuotaDecision.usable(among: others) { evaluate($0, at: now) }
        }
        return decision
    }

    /// The provider's counters for the current day and month.
    public func usage(of provider: String) -> ProviderQuotaUsage {
        currentUsage(provider, at: clock.now)
    }

    // MARK: - Internals

    private func currentUsage(_ provider: String, at now: Date) -> ProviderQuotaUsage {
        let dayKey = calendar.key(.day, at: now), monthKey = calendar.key(.month, at: now)
        return (usage[provider] ?? ProviderQuotaUsage(provider: provider, dayKey: dayKey, monthKey: monthKey))
            .current(dayKey: dayKey, monthKey: monthKey)
    }

    private func evaluate(_ provider: String, at now: Date) -> QuotaDecision {
        currentUsage(provider, at: now).decision(limits: configuration.providers[provider] ?? QuotaConfiguration.Limits(), at: now)
    }

    private func setAvailability(_ current: ProviderQuotaUsage, now: Date) async throws {
        usage[current.provider] = current
        try await database.write("saving availability of \(current.provider)") { db in
            try db.execute(sql: """
                INSERT INTO provider_quotas (provider, day_key, month_key, unavailable_until, unavailable_reason, updated_at)
                VALUES (?, ?, ?, ?, ?, ?)
                ON CONFLICT(provider) DO UPDATE SET
                    unavailable_until = excluded.unavailable_until, unavailable_reason = excluded.unavailable_reason,
                    updated_at = excluded.updated_at
                """, arguments: [current.provider, current.dayKey, current.monthKey,
                                 current.unavailableUntil?.timeIntervalSince1970, current.unavailableReason, now.timeIntervalSince1970])
        }
    }
}
