import Foundation
import GRDB

/// Spend for one budget period: total, and broken down by model, provider, task type and agent.
public struct CostReport: Sendable, Hashable, Codable {
    /// One row of a breakdown.
    public struct Line: Sendable, Hashable, Codable {
        public var name: String
        /// US dollars.
        public var cost: Double
        public var entries: Int
        public var inputTokens: Int
        public var outputTokens: Int
        public var cachedTokens: Int
    }

    public var period: BudgetPeriod
    /// e.g. `2026-01-31`, `2026-W05`, `2026-01`.
    public var periodKey: String
    public var start: Date
    /// Exclusive.
    public var end: Date
    public var timeZone: String
    /// Everything in the period (name `total`).
    public var total: Line
    public var byModel: [Line]
    public var byProvider: [Line]
    public var byTaskType: [Line]
    public var byAgent: [Line]
    /// By what the usage rests on: `reported`, `partial`, `estimated`, `cache` (``CostBasis``).
    public var byBasis: [Line]
    /// By virtual API key (its public id; `-` for calls made without one), when asked for.
    public var byKey: [Line]?
    /// By tenant (`-` for calls made for none), when asked for.
    public var byTenant: [Line]?
    /// The tenant the report is limited to, when it is.
    public var tenant: String?

    /// The breakdowns a report can add on request.
    public enum Breakdown: String, Sendable, CaseIterable, Codable {
        case key, tenant
    }

    /// Reads the ledger for the period containing `now`, in `timeZone`.
    ///
    /// Breakdowns are sorted by cost (highest first), then name. Reads go by timestamp, so the
    /// report is right even if the configured time zone changed since the entries were written.
    ///
    /// - Parameters:
    ///   - breakdowns: extra breakdowns to add (by key, by tenant).
    ///   - tenant: limits every figure to the calls made for that tenant.
    public static func load(database: StoreDatabase, period: BudgetPeriod, now: Date = Date(),
                            timeZone: TimeZone = TimeZone(identifier: "UTC") ?? .gmt,
                            breakdowns: Set<Breakdown> = [], tenant: String? = nil) async throws -> CostReport {
        let calendar = PeriodCalendar(timeZone: timeZone)
        let interval = calendar.interval(period, containing: now)
        var arguments: StatementArguments = [interval.start.timeIntervalSince1970, interval.end.timeIntervalSince1970]
        if let tenant { arguments += [tenant] }
        let range = arguments
        let tenantFilter = tenant == nil ? "" : "AND tenant = ?"
        let lines = try await database.read("loading cost report") { db in
            func group(_ column: String?) throws -> [Line] {
                let name = column.map { "COALESCE(\($0), '-')" } ?? "'total'"
                let sql = """
                    SELECT \(name) AS name, TOTAL(cost) AS cost, COUNT(*) AS entries, TOTAL(input_tokens) AS input,
                           TOTAL(output_tokens) AS output, TOTAL(cached_tokens) AS cached
                    FROM cost_ledger WHERE created_at >= ? AND created_at < ? \(tenantFilter)
                    \(column.map { "GROUP BY \($0)" } ?? "") ORDER BY cost DESC, name
                    """
                return try Row.fetchAll(db, sql: sql, arguments: range).map { row in
                    Line(name: row["name"] ?? "total", cost: row["cost"], entries: row["entries"],
                         inputTokens: Int(row["input"] as Double), outputTokens: Int(row["output"] as Double),
                         cachedTokens: Int(row["cached"] as Double))
                }
            }
            return try [group(nil), group("model"), group("provider"), group("task_type"), group("agent_id"), group("basis"),
                        breakdowns.contains(.key) ? group("key_id") : [], breakdowns.contains(.tenant) ? group("tenant") : []]
        }
        return CostReport(
            period: period, periodKey: calendar.key(period, at: now), start: interval.start, end: interval.end,
            timeZone: timeZone.identifier,
            total: lines[0].first ?? Line(name: "total", cost: 0, entries: 0, inputTokens: 0, outputTokens: 0, cachedTokens: 0),
            byModel: lines[1], byProvider: lines[2], byTaskType: lines[3], byAgent: lines[4], byBasis: lines[5],
            byKey: breakdowns.contains(.key) ? lines[6] : nil, byTenant: breakdowns.contains(.tenant) ? lines[7] : nil,
            tenant: tenant
        )
    }

    /// ``load(database:period:now:timeZone:)`` with a time-zone identifier from the configuration.
    /// - Throws: ``CostError`` `.invalidConfiguration` for an unknown identifier.
    public static func load(database: StoreDatabase, period: BudgetPeriod, now: Date = Date(), timeZoneIdentifier: String,
                            breakdowns: Set<Breakdown> = [], tenant: String? = nil) async throws -> CostReport {
        let calendar = try PeriodCalendar(timeZoneIdentifier: timeZoneIdentifier)
        var report = try await load(database: database, period: period, now: now, timeZone: calendar.timeZone,
                                    breakdowns: breakdowns, tenant: tenant)
        report.timeZone = timeZoneIdentifier // Foundation may canonicalise (UTC → GMT); keep the configured name
        return report
    }

    /// Sections in output order with their titles.
    public var sections: [(title: String, lines: [Line])] {
        var sections = [("model", byModel), ("provider", byProvider), ("task type", byTaskType), ("agent", byAgent), ("basis", byBasis)]
        if let byKey { sections.append(("key", byKey)) }
        if let byTenant { sections.append(("tenant", byTenant)) }
        return sections
    }
}
