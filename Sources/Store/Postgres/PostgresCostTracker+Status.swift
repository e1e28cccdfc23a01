import Foundation
import PostgresNIO

// Budget status, alerts and reports read from the shared tables: every instance sees the same.

extension PostgresCostTracker {
    /// Spent and reserved (fleet-wide) per period with the limits and policy. With the store
    /// away, the last figures read (and the failure logged).
    public func budgetStatus() async -> BudgetStatus {
        let configuration = self.configuration
        guard configuration.enabled else { return .unlimited }
        do {
            let rows = try await totals(keyId: nil)
            let status = BudgetStatus(enabled: true, policy: configuration.policy, periods: BudgetPeriod.allCases.map { period in
                PeriodBudgetStatus(period: period, limit: configuration.budgetLimits.limit(for: period),
                                   spent: rows[period]?.cost ?? 0, reserved: rows[period]?.reserved ?? 0)
            })
            rememberStatus(status)
            return status
        } catch {
            logger.error("budget status uses cached figures: store failed", metadata: ["error": "\(error)"])
            return rememberedStatus ?? BudgetStatus(enabled: true, policy: configuration.policy, periods: BudgetPeriod.allCases.map { period in
                PeriodBudgetStatus(period: period, limit: configuration.budgetLimits.limit(for: period), spent: 0, reserved: 0)
            })
        }
    }

    public func keyBudgetStatus(keyId: String, limits: CostConfiguration.BudgetLimits) async -> BudgetStatus {
        guard configuration.enabled else { return .unlimited }
        var rows: [BudgetPeriod: (cost: Double, reserved: Double)] = [:]
        do {
            rows = try await totals(keyId: keyId)
        } catch {
            logger.error("key budget status without figures: store failed", metadata: ["key": "\(keyId)", "error": "\(error)"])
        }
        return BudgetStatus(enabled: true, policy: .block, periods: BudgetPeriod.allCases.map { period in
            PeriodBudgetStatus(period: period, limit: limits.limit(for: period), spent: rows[period]?.cost ?? 0, reserved: rows[period]?.reserved ?? 0)
        })
    }

    /// The current period rows of the overall scope, or of one key's, with the holds carried into
    /// them from other period keys counted as reserved (as a reservation's check counts them).
    private func totals(keyId: String?) async throws -> [BudgetPeriod: (cost: Double, reserved: Double)] {
        let keys = periodKeys(at: clock.now), logger = self.logger
        let scope = keyId.map { CostTracker.keyScope($0) } ?? CostTracker.overallScope
        return try await store.withConnection("reading budget totals", optional: true) { connection in
            var result: [BudgetPeriod: (cost: Double, reserved: Double)] = [:]
            let carried = try await Self.carriedHolds(keys: keys, keyId: keyId, connection: connection, logger: logger)
            for period in BudgetPeriod.allCases {
                result[period] = (0, carried[TotalRowKey(period: period.rawValue, key: keys[period] ?? "", scope: scope)] ?? 0)
            }
            let rows = try await connection.query("""
                SELECT period, cost, reserved FROM cost_totals WHERE scope = \(scope)
                  AND ((period = 'day' AND period_key = \(keys[.day] ?? "")) OR (period = 'week' AND period_key = \(keys[.week] ?? ""))
                       OR (period = 'month' AND period_key = \(keys[.month] ?? "")))
                """, logger: logger)
            for try await (period, cost, reserved) in rows.decode((String, Double, Double).self) {
                if let p = BudgetPeriod(rawValue: period) { result[p] = (cost, reserved + (result[p]?.reserved ?? 0)) }
            }
            return result
        }
    }

    public func raisedAlerts() async throws -> [CostAlert] {
        let keys = periodKeys(at: clock.now), logger = self.logger
        return try await store.withConnection("reading raised budget alerts") { connection in
            var alerts: [CostAlert] = []
            for period in BudgetPeriod.allCases {
                let key = keys[period] ?? ""
                let rows = try await connection.query("""
                    SELECT threshold_percent, spent, limit_amount, raised_at FROM cost_alerts
                    WHERE period = \(period.rawValue) AND period_key = \(key) ORDER BY threshold_percent
                    """, logger: logger)
                for try await (threshold, spent, limit, raised) in rows.decode((Double, Double, Double, Double).self) {
                    alerts.append(CostAlert(period: period, periodKey: key, thresholdPercent: threshold, spent: spent, limit: limit,
                                            raisedAt: Date(timeIntervalSince1970: raised)))
                }
            }
            return alerts
        }
    }

    /// Reservations held in the shared table, by every instance.
    public func heldReservations() async throws -> Int {
        let logger = self.logger
        return try await store.withConnection("counting reservations") { connection in
            var count = 0
            for try await n in try await connection.query("SELECT count(*) FROM cost_reservations", logger: logger).decode(Int.self) { count = n }
            return count
        }
    }

    public func report(period: BudgetPeriod, breakdowns: Set<CostReport.Breakdown>, tenant: String?) async throws -> CostReport {
        try await CostReport.load(store: store, period: period, now: clock.now, timeZoneIdentifier: configuration.timeZone,
                                  breakdowns: breakdowns, tenant: tenant)
    }
}

extension CostReport {
    /// ``load(database:period:now:timeZone:breakdowns:tenant:)`` from the shared PostgreSQL ledger.
    public static func load(store: PostgresStore, period: BudgetPeriod, now: Date = Date(), timeZoneIdentifier: String,
                            breakdowns: Set<Breakdown> = [], tenant: String? = nil) async throws -> CostReport {
        let calendar = try PeriodCalendar(timeZoneIdentifier: timeZoneIdentifier)
        let interval = calendar.interval(period, containing: now)
        let start = interval.start.timeIntervalSince1970, end = interval.end.timeIntervalSince1970
        let logger = store.logger
        // Column names come from this fixed list only; every value is bound.
        let columns: [String?] = [nil, "model", "provider", "task_type", "agent_id", "basis",
                                  breakdowns.contains(.key) ? "key_id" : "", breakdowns.contains(.tenant) ? "tenant" : ""]
        let lines = try await store.withConnection("loading cost report") { connection in
            var lines: [[Line]] = []
            for column in columns {
                if column == "" { lines.append([]); continue }
                let name = column.map { "COALESCE(\($0), '-')" } ?? "'total'"
                let group = column.map { "GROUP BY \($0)" } ?? ""
                let rows = try await connection.query("""
                    SELECT \(unescaped: name) AS name, COALESCE(SUM(cost), 0)::float8, COUNT(*)::int8, COALESCE(SUM(input_tokens), 0)::float8,
                           COALESCE(SUM(output_tokens), 0)::float8, COALESCE(SUM(cached_tokens), 0)::float8
                    FROM cost_ledger WHERE created_at >= \(start) AND created_at < \(end) AND (\(tenant)::text IS NULL OR tenant = \(tenant))
                    \(unescaped: group) ORDER BY 2 DESC, 1
                    """, logger: logger)
                var group_: [Line] = []
                for try await (n, cost, entries, input, output, cached) in rows.decode((String, Double, Int, Double, Double, Double).self) {
                    group_.append(Line(name: n, cost: cost, entries: entries, inputTokens: Int(input), outputTokens: Int(output), cachedTokens: Int(cached)))
                }
                lines.append(group_)
            }
            return lines
        }
        return CostReport(
            period: period, periodKey: calendar.key(period, at: now), start: interval.start, end: interval.end, timeZone: timeZoneIdentifier,
            total: lines[0].first ?? Line(name: "total", cost: 0, entries: 0, inputTokens: 0, outputTokens: 0, cachedTokens: 0),
            byModel: lines[1], byProvider: lines[2], byTaskType: lines[3], byAgent: lines[4], byBasis: lines[5],
            byKey: breakdowns.contains(.key) ? lines[6] : nil, byTenant: breakdowns.contains(.tenant) ? lines[7] : nil,
            tenant: tenant
        )
    }
}
