import Foundation
import Logging
import PostgresNIO

/// What a transaction changes in one `cost_totals` row.
private struct TotalChange {
    var cost = 0.0
    var entries = 0
    var inputTokens = 0
    var outputTokens = 0
    var cachedTokens = 0
    /// Estimates of settled or released reservations, taken out of `reserved`.
    var unreserved = 0.0

    mutating func add(_ entry: CostLedgerEntry) {
        cost += entry.cost
        entries += 1
        inputTokens += entry.usage.inputTokens
        outputTokens += entry.usage.outputTokens
        cachedTokens += entry.usage.cachedTokens
    }
}

extension PostgresCostTracker {
    /// Writes ledger rows, settles the reservations of the same ids, updates every total row
    /// (locked in sorted order) and marks crossed alert thresholds, on one connection inside the
    /// caller's transaction. An entry id already in the ledger is returned as stored and adds nothing.
    static func writeLedger(_ entries: [CostLedgerEntry], keys: [BudgetPeriod: String], configuration: CostConfiguration,
                            instance: String, now: Date, connection: PostgresConnection, logger: Logger) async throws -> LedgerWriteOutcome {
        var changes: [TotalRowKey: TotalChange] = [:]
        // The reservations first (a sweeper holding one makes this wait, then find it gone).
        for (row, amount) in try await unhold(ids: entries.map(\.entryId), connection: connection, logger: logger) {
            changes[row, default: TotalChange()].unreserved += amount
        }
        var periods = BudgetPeriod.allCases.compactMap { p in keys[p].map { (p.rawValue, $0) } }
        periods.append(("all", "all"))
        var stored: [CostLedgerEntry] = []
        for entry in entries {
            let u = entry.usage, c = entry.call
            let inserted = try await connection.query("""
                INSERT INTO cost_ledger (entry_id, model, provider, task_id, agent_id, task_type, input_tokens, output_tokens, cached_tokens,
                                         cost, created_at, basis, key_id, tenant, instance_id)
                VALUES (\(entry.entryId), \(c.model), \(c.provider), \(c.taskId), \(c.agentId), \(c.taskType), \(u.inputTokens), \(u.outputTokens),
                        \(u.cachedTokens), \(entry.cost), \(entry.timestamp.timeIntervalSince1970), \(entry.basis.rawValue), \(c.keyId), \(c.tenantId), \(instance))
                ON CONFLICT (entry_id) DO NOTHING RETURNING entry_id
                """, logger: logger)
            var wasInserted = false
            for try await _ in inserted.decode(String.self) { wasInserted = true }
            guard wasInserted else {
                // Already settled (a retry, or a sweeper billed it first): the stored row, counted once.
                stored += try await ledgerRows(where: entry.entryId, connection: connection, logger: logger)
                continue
            }
            stored.append(entry)
            var scopes = [CostTracker.overallScope, "model:\(c.model)"]
            if let keyId = c.keyId { scopes.append(CostTracker.keyScope(keyId)) }
            if let tenant = c.tenantId { scopes.append("tenant:\(tenant)") }
            for (period, key) in periods {
                for scope in scopes { changes[TotalRowKey(period: period, key: key, scope: scope), default: TotalChange()].add(entry) }
            }
        }
        // Every total row in ONE statement (rows locked in sorted order): the hot rows (overall,
        // this day) are held for one round trip, not one per row.
        let sorted = changes.sorted(by: { $0.key < $1.key })
        if !sorted.isEmpty {
            let periodsColumn = sorted.map(\.key.period), keysColumn = sorted.map(\.key.key), scopes = sorted.map(\.key.scope)
            let costs = sorted.map(\.value.cost), counts = sorted.map { Int64($0.value.entries) }
            let inputs = sorted.map { Int64($0.value.inputTokens) }, outputs = sorted.map { Int64($0.value.outputTokens) }
            let cached = sorted.map { Int64($0.value.cachedTokens) }, unreserved = sorted.map(\.value.unreserved)
            try await connection.query("""
                INSERT INTO cost_totals AS t (period, period_key, scope, cost, entries, input_tokens, output_tokens, cached_tokens, reserved)
                SELECT p, k, s, c, e, i, o, x, -u FROM UNNEST(\(periodsColumn)::text[], \(keysColumn)::text[], \(scopes)::text[],
                    \(costs)::float8[], \(counts)::int8[], \(inputs)::int8[], \(outputs)::int8[], \(cached)::int8[], \(unreserved)::float8[])
                    AS v(p, k, s, c, e, i, o, x, u)
                ON CONFLICT (period, period_key, scope) DO UPDATE SET
                    cost = t.cost + excluded.cost, entries = t.entries + excluded.entries,
                    input_tokens = t.input_tokens + excluded.input_tokens,
                    output_tokens = t.output_tokens + excluded.output_tokens,
                    cached_tokens = t.cached_tokens + excluded.cached_tokens,
                    reserved = CASE WHEN t.reserved + excluded.reserved < 1e-9 THEN 0 ELSE t.reserved + excluded.reserved END
                """, logger: logger)
        }
        let spend = try await overallSpend(keys: keys, connection: connection, logger: logger)
        let alerts = try await markAlerts(spend: spend, configuration: configuration, now: now, connection: connection, logger: logger)
        return LedgerWriteOutcome(entries: stored, spend: spend, alerts: alerts)
    }

    /// Deletes reservations and returns what each total row they were counted in must give back.
    static func unhold(ids: [String], connection: PostgresConnection, logger: Logger) async throws -> [(TotalRowKey, Double)] {
        var released: [(TotalRowKey, Double)] = []
        for id in ids {
            let rows = try await connection.query("""
                DELETE FROM cost_reservations WHERE id = \(id) RETURNING estimated_cost, key_id, key_held, day_key, week_key, month_key
                """, logger: logger)
            for try await (estimate, keyId, keyHeld, day, week, month) in rows.decode((Double, String?, Bool, String, String, String).self) {
                var scopes = [CostTracker.overallScope]
                if keyHeld, let keyId { scopes.append(CostTracker.keyScope(keyId)) }
                for (period, key) in [("day", day), ("week", week), ("month", month)] {
                    for scope in scopes { released.append((TotalRowKey(period: period, key: key, scope: scope), estimate)) }
                }
            }
        }
        // A settlement applies these with its own changes (`writeLedger`); a plain release with
        // ``giveBack(_:connection:logger:)``.
        return released
    }

    /// What reservations counted under other period keys (made before a boundary, or by an
    /// instance whose clock is ahead) hold against the current period rows of the overall scope
    /// and, with `keyId`, of that key (its holds counted on its rows: `key_held`). They settle, and
    /// are dated, in the period they settle in, so each counts against every period it is held
    /// in, as the SQLite tracker counts every held reservation.
    static func carriedHolds(keys: [BudgetPeriod: String], keyId: String?, connection: PostgresConnection,
                             logger: Logger) async throws -> [TotalRowKey: Double] {
        let day = keys[.day] ?? "", week = keys[.week] ?? "", month = keys[.month] ?? ""
        let rows = try await connection.query("""
            SELECT COALESCE(SUM(estimated_cost) FILTER (WHERE day_key <> \(day)), 0)::float8,
                   COALESCE(SUM(estimated_cost) FILTER (WHERE week_key <> \(week)), 0)::float8,
                   COALESCE(SUM(estimated_cost) FILTER (WHERE month_key <> \(month)), 0)::float8,
                   COALESCE(SUM(estimated_cost) FILTER (WHERE key_held AND key_id = \(keyId)::text AND day_key <> \(day)), 0)::float8,
                   COALESCE(SUM(estimated_cost) FILTER (WHERE key_held AND key_id = \(keyId)::text AND week_key <> \(week)), 0)::float8,
                   COALESCE(SUM(estimated_cost) FILTER (WHERE key_held AND key_id = \(keyId)::text AND month_key <> \(month)), 0)::float8
            FROM cost_reservations
            """, logger: logger)
        var carried: [TotalRowKey: Double] = [:]
        for try await (overallDay, overallWeek, overallMonth, keyDay, keyWeek, keyMonth)
            in rows.decode((Double, Double, Double, Double, Double, Double).self) {
            let sums: [(BudgetPeriod, Double, Double)] = [(.day, overallDay, keyDay), (.week, overallWeek, keyWeek), (.month, overallMonth, keyMonth)]
            for (period, overall, ofKey) in sums {
                carried[TotalRowKey(period: period.rawValue, key: keys[period] ?? "", scope: CostTracker.overallScope)] = overall
                if let keyId { carried[TotalRowKey(period: period.rawValue, key: keys[period] ?? "", scope: CostTracker.keyScope(keyId))] = ofKey }
            }
        }
        return carried
    }

    /// Takes released estimates out of `reserved`, rows in sorted order. Sums of doubles leave
    /// residues (2e-17 where nothing is held): below a nano-dollar the row counts as empty.
    static func giveBack(_ released: [(TotalRowKey, Double)], connection: PostgresConnection, logger: Logger) async throws {
        var amounts: [TotalRowKey: Double] = [:]
        for (row, amount) in released { amounts[row, default: 0] += amount }
        for (row, amount) in amounts.sorted(by: { $0.key < $1.key }) {
            try await connection.query("""
                UPDATE cost_totals SET reserved = CASE WHEN reserved - \(amount) < 1e-9 THEN 0 ELSE reserved - \(amount) END
                WHERE period = \(row.period) AND period_key = \(row.key) AND scope = \(row.scope)
                """, logger: logger)
        }
    }

    /// Overall settled spend of the current period keys.
    static func overallSpend(keys: [BudgetPeriod: String], connection: PostgresConnection, logger: Logger) async throws -> [BudgetPeriod: PeriodSpend] {
        var spend: [BudgetPeriod: PeriodSpend] = [:]
        for period in BudgetPeriod.allCases {
            guard let key = keys[period] else { continue }
            spend[period] = PeriodSpend(key: key, spent: 0)
        }
        let rows = try await connection.query("""
            SELECT period, cost FROM cost_totals WHERE scope = \(CostTracker.overallScope)
              AND ((period = 'day' AND period_key = \(keys[.day] ?? "")) OR (period = 'week' AND period_key = \(keys[.week] ?? ""))
                   OR (period = 'month' AND period_key = \(keys[.month] ?? "")))
            """, logger: logger)
        for try await (period, cost) in rows.decode((String, Double).self) {
            if let p = BudgetPeriod(rawValue: period) { spend[p]?.spent = cost }
        }
        return spend
    }

    /// Records each crossed threshold once per period key, fleet-wide: the insert that wins raises it.
    static func markAlerts(spend: [BudgetPeriod: PeriodSpend], configuration: CostConfiguration, now: Date,
                                   connection: PostgresConnection, logger: Logger) async throws -> [CostAlert] {
        var alerts: [CostAlert] = []
        for period in BudgetPeriod.allCases {
            guard let limit = configuration.budgetLimits.limit(for: period), let current = spend[period] else { continue }
            let thresholds = Set([configuration.alertThresholds.percent(for: period), 100].compactMap { $0 }).sorted()
            for threshold in thresholds where current.spent >= limit * threshold / 100 - 1e-9 {
                let rows = try await connection.query("""
                    INSERT INTO cost_alerts (period, period_key, threshold_percent, spent, limit_amount, raised_at)
                    VALUES (\(period.rawValue), \(current.key), \(threshold), \(current.spent), \(limit), \(now.timeIntervalSince1970))
                    ON CONFLICT DO NOTHING RETURNING period
                    """, logger: logger)
                for try await _ in rows.decode(String.self) {
                    alerts.append(CostAlert(period: period, periodKey: current.key, thresholdPercent: threshold,
                                            spent: current.spent, limit: limit, raisedAt: now))
                }
            }
        }
        return alerts
    }

    static func ledgerRows(where entryId: String, connection: PostgresConnection, logger: Logger) async throws -> [CostLedgerEntry] {
        var entries: [CostLedgerEntry] = []
        let rows = try await connection.query("""
            SELECT entry_id, model, provider, task_id, agent_id, task_type, input_tokens, output_tokens, cached_tokens, cost, created_at, basis, key_id, tenant
            FROM cost_ledger WHERE entry_id = \(entryId)
            """, logger: logger)
        for try await row in rows {
            let (id, model, provider, task, agent, type, input, output, cached, cost, created, basis, key, tenant) =
                try row.decode((String, String, String, String, String, String, Int, Int, Int, Double, Double, String, String?, String?).self)
            entries.append(CostLedgerEntry(entryId: id, call: CostCall(model: model, provider: provider, taskId: task, agentId: agent, taskType: type,
                                                                     keyId: key, tenantId: tenant),
                                           usage: CostUsage(inputTokens: input, outputTokens: output, cachedTokens: cached), cost: cost,
                                           timestamp: Date(timeIntervalSince1970: created), basis: CostBasis(rawValue: basis) ?? .reported))
        }
        return entries
    }
}

/// A `cost_totals` row's primary key, in the one order rows are locked.
struct TotalRowKey: Hashable, Sendable, Comparable {
    var period: String
    var key: String
    var scope: String

    static func < (a: TotalRowKey, b: TotalRowKey) -> Bool { (a.period, a.key, a.scope) < (b.period, b.key, b.scope) }
}
