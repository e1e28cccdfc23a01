import Foundation
import GRDB

/// Settled spend of one period, overall.
struct PeriodSpend: Sendable, Hashable {
    var key: String
    var spent: Double
}

/// What one ledger transaction did.
struct LedgerWriteOutcome: Sendable {
    var entries: [CostLedgerEntry]
    /// Overall settled spend per period after the transaction, for the keys it wrote.
    var spend: [BudgetPeriod: PeriodSpend]
    /// Settled spend per period of each API key the transaction billed.
    var keySpend: [String: [BudgetPeriod: PeriodSpend]] = [:]
    var alerts: [CostAlert]
    /// The `routing/costs` mirrors, when they are left to the write-behind recorder.
    var mirrors: [CostMirror] = []
}

/// One `routing/costs` memory entry to write: a ledger row, a day's summary or a model's total.
struct CostMirror: Sendable {
    var key: String
    var value: any Encodable & Sendable
}

/// Where the `routing/costs` mirrors are written.
enum CostMirrorWrites {
    /// In the settlement's transaction (no write-behind recorder: a tracker on its own).
    case inTransaction
    /// Returned with the outcome, for the write-behind recorder.
    case returned
}

/// One `cost_totals` row.
private struct TotalKey: Hashable {
    var period: String
    var key: String
    var scope: String
}

/// What a batch of ledger entries adds to one `cost_totals` row.
private struct TotalAddition {
    var cost = 0.0
    var entries = 0
    var inputTokens = 0
    var outputTokens = 0
    var cachedTokens = 0

    mutating func add(_ entry: CostLedgerEntry) {
        cost += entry.cost
        entries += 1
        inputTokens += entry.usage.inputTokens
        outputTokens += entry.usage.outputTokens
        cachedTokens += entry.usage.cachedTokens
    }
}

/// The period rows a ledger entry adds to: day, week, month, and all-time (`all`/`all`).
struct LedgerPeriodKeys: Sendable {
    var keys: [BudgetPeriod: String]
    var dayKey: String { keys[.day] ?? "" }
}

extension CostTracker {
    /// The shared scope name for totals over every model.
    static let overallScope = "overall"

    /// The `cost_totals` scope of one API key's spend.
    static func keyScope(_ keyId: String) -> String { "key:\(keyId)" }

    /// Writes ledger rows, running totals, alert marks and memory mirrors in ONE transaction.
    /// A row whose entry id is already in the ledger is returned as stored and adds nothing.
    static func writeLedger(
        _ entries: [CostLedgerEntry],
        keys: LedgerPeriodKeys,
        configuration: CostConfiguration,
        memory: MemoryStore,
        mirrorWrites: CostMirrorWrites = .inTransaction,
        now: Date,
        in db: Database
    ) throws -> LedgerWriteOutcome {
        var stored: [CostLedgerEntry] = []
        var mirrors: [CostMirror] = []
        let insert = try db.cachedStatement(sql: """
            INSERT INTO cost_ledger (entry_id, model, provider, task_id, agent_id, task_type,
                                     input_tokens, output_tokens, cached_tokens, cost, created_at, basis, key_id, tenant)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(entry_id) DO NOTHING
            """)
        // A settled reservation is no longer in flight: gone in the same transaction as its row.
        let settled = try db.cachedStatement(sql: "DELETE FROM cost_reservations WHERE id = ?")
        let addTotal = try db.cachedStatement(sql: """
            INSERT INTO cost_totals (period, period_key, scope, cost, entries, input_tokens, output_tokens, cached_tokens)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT(period, period_key, scope) DO UPDATE SET
                cost = cost + excluded.cost, entries = entries + excluded.entries,
                input_tokens = input_tokens + excluded.input_tokens,
                output_tokens = output_tokens + excluded.output_tokens,
                cached_tokens = cached_tokens + excluded.cached_tokens
            """)
        var touchedModels = Set<String>()
        var touchedKeys = Set<String>()
        // The batch's additions per total row, written once each after the ledger rows.
        var additions: [TotalKey: TotalAddition] = [:]
        var periods = BudgetPeriod.allCases.compactMap { p in keys.keys[p].map { (p.rawValue, $0) } }
        periods.append(("all", "all"))
        for entry in entries {
            let u = entry.usage
            try insert.execute(arguments: [entry.entryId, entry.call.model, entry.call.provider, entry.call.taskId,
                                           entry.call.agentId, entry.call.taskType, u.inputTokens, u.outputTokens,
                                           u.cachedTokens, entry.cost, entry.timestamp.timeIntervalSince1970, entry.basis.rawValue,
                                           entry.call.keyId, entry.call.tenantId])
            let inserted = db.changesCount == 1
            try settled.execute(arguments: [entry.entryId])
            guard inserted else {
                // Already settled: return the stored row, count nothing again.
                if let row = try Row.fetchOne(db, sql: "SELECT * FROM cost_ledger WHERE entry_id = ?", arguments: [entry.entryId]) {
                    stored.append(ledgerEntry(row))
                }
                continue
            }
            stored.append(entry)
            touchedModels.insert(entry.call.model)
            var scopes = [overallScope, "model:\(entry.call.model)"]
            if let keyId = entry.call.keyId {
                scopes.append(keyScope(keyId))
                touchedKeys.insert(keyId)
            }
            if let tenant = entry.call.tenantId { scopes.append("tenant:\(tenant)") }
            for (period, key) in periods {
                for scope in scopes {
                    additions[TotalKey(period: period, key: key, scope: scope), default: TotalAddition()].add(entry)
                }
            }
            mirrors.append(CostMirror(key: "\(Int64((entry.timestamp.timeIntervalSince1970 * 1000).rounded()))-\(entry.call.taskId)-\(entry.entryId)",
                                      value: entry))
        }

        for (row, addition) in additions {
            try addTotal.execute(arguments: [row.period, row.key, row.scope, addition.cost, addition.entries,
                                             addition.inputTokens, addition.outputTokens, addition.cachedTokens])
        }

        var spend: [BudgetPeriod: PeriodSpend] = [:]
        for period in BudgetPeriod.allCases {
            guard let key = keys.keys[period] else { continue }
            spend[period] = PeriodSpend(key: key, spent: try totalCost(period: period.rawValue, key: key, scope: overallScope, in: db))
        }
        guard !touchedModels.isEmpty else { return LedgerWriteOutcome(entries: stored, spend: spend, alerts: []) }
        mirrors += try summaryMirrors(keys: keys, models: touchedModels, in: db)
        var keySpend: [String: [BudgetPeriod: PeriodSpend]] = [:]
        for keyId in touchedKeys {
            for period in BudgetPeriod.allCases {
                guard let key = keys.keys[period] else { continue }
                keySpend[keyId, default: [:]][period] = PeriodSpend(
                    key: key, spent: try totalCost(period: period.rawValue, key: key, scope: keyScope(keyId), in: db))
            }
        }

        let alerts = try markAlerts(spend: spend, configuration: configuration, now: now, in: db)
        if mirrorWrites == .inTransaction {
            let expiry = try memory.expiryDate(.partitionDefault, partition: "routing/costs", now: now)
            for mirror in mirrors {
                try MemoryStore.upsert(
                    MemoryEntry(partition: "routing/costs", key: mirror.key,
                                value: try MemoryStore.encode(mirror.value, context: "routing/costs/\(mirror.key)"),
                                owner: "system", accessLevel: .system, createdAt: now, expiresAt: expiry),
                    writer: .system, now: now, in: db)
            }
            mirrors = []
        }
        return LedgerWriteOutcome(entries: stored, spend: spend, keySpend: keySpend, alerts: alerts, mirrors: mirrors)
    }

    /// The summary mirrors in the memory store: `routing/costs/daily/<day>` and
    /// `routing/costs/model/<name>/total` (docs/store.md, "Cost ledger and budgets").
    private static func summaryMirrors(keys: LedgerPeriodKeys, models: Set<String>, in db: Database) throws -> [CostMirror] {
        let day = try Row.fetchOne(try db.cachedStatement(sql: "SELECT cost, entries FROM cost_totals WHERE period = 'day' AND period_key = ? AND scope = ?"),
                                   arguments: [keys.dayKey, overallScope])
        var mirrors = [CostMirror(key: "daily/\(keys.dayKey)", value: DailyCostSummary(date: keys.dayKey, total: day?["cost"] ?? 0, entries: day?["entries"] ?? 0))]
        for model in models {
            mirrors.append(CostMirror(key: "model/\(model)/total", value: try totalCost(period: "all", key: "all", scope: "model:\(model)", in: db)))
        }
        return mirrors
    }

    /// Records each crossed threshold (configured percent and 100%) once per period key.
    static func markAlerts(spend: [BudgetPeriod: PeriodSpend], configuration: CostConfiguration, now: Date, in db: Database) throws -> [CostAlert] {
        var alerts: [CostAlert] = []
        for period in BudgetPeriod.allCases {
            guard let limit = configuration.budgetLimits.limit(for: period), let current = spend[period] else { continue }
            let thresholds = Set([configuration.alertThresholds.percent(for: period), 100].compactMap { $0 }).sorted()
            for threshold in thresholds where current.spent >= limit * threshold / 100 - 1e-9 {
                try db.cachedStatement(sql: """
                    INSERT INTO cost_alerts (period, period_key, threshold_percent, spent, limit_amount, raised_at)
                    VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING
                    """).execute(arguments: [period.rawValue, current.key, threshold, current.spent, limit, now.timeIntervalSince1970])
                if db.changesCount == 1 {
                    alerts.append(CostAlert(period: period, periodKey: current.key, thresholdPercent: threshold,
                                            spent: current.spent, limit: limit, raisedAt: now))
                }
            }
        }
        return alerts
    }

    static func totalCost(period: String, key: String, scope: String, in db: Database) throws -> Double {
        // A cached statement: this runs for every settlement (GRDB's compile and authorizer showed
        // in fleetd's profile when each call prepared its SQL anew).
        try Double.fetchOne(try db.cachedStatement(sql: "SELECT cost FROM cost_totals WHERE period = ? AND period_key = ? AND scope = ?"),
                            arguments: [period, key, scope]) ?? 0
    }

    static func ledgerEntry(_ row: Row) -> CostLedgerEntry {
        CostLedgerEntry(
            entryId: row["entry_id"],
            call: CostCall(model: row["model"], provider: row["provider"], taskId: row["task_id"], agentId: row["agent_id"], taskType: row["task_type"],
                           keyId: row["key_id"], tenantId: row["tenant"]),
            usage: CostUsage(inputTokens: row["input_tokens"], outputTokens: row["output_tokens"], cachedTokens: row["cached_tokens"]),
            cost: row["cost"],
            timestamp: Date(timeIntervalSince1970: row["created_at"]),
            basis: CostBasis(rawValue: row["basis"] ?? "reported") ?? .reported
        )
    }
}

/// The value of `routing/costs/daily/<YYYY-MM-DD>`.
public struct DailyCostSummary: Sendable, Hashable, Codable {
    /// The day key in the cost time zone.
    public var date: String
    /// US dollars settled that day.
    public var total: Double
    public var entries: Int

    public init(date: String, total: Double, entries: Int) {
        self.date = date
        self.total = total
        self.entries = entries
    }
}
