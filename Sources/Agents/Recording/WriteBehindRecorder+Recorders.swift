import Foundation
import Routing
import Store
import Streaming

// The write-behind recorder backs the router's and the streaming tool's persistence seams.

extension WriteBehindRecorder: SelectionRecorder, RoutingStatsStore, StreamSessionRecorder, LearningStore, ToolCallRecorder {
    public func loadCells() async throws -> [LearnedCell] {
        await flush()
        return try await store.loadCells()
    }

    /// On the shared store (PostgreSQL), each cell is updated in place, one atomic step per cell, so
    /// the outcomes of every instance add up instead of the last writer's cell winning.
    public func apply(_ outcome: RoutingOutcome, to cells: [LearnedCell], configuration: LearningConfiguration) async throws -> [LearnedCell]? {
        guard store.shared != nil else { return nil }
        var stored: [LearnedCell] = []
        for cell in cells {
            let blank = LearnedCell(model: cell.model, taskType: cell.taskType, band: cell.band, tenantId: cell.tenantId)
            stored.append(try await store.update(LearnedCell.self, partition: MemoryPartitions.learning, key: cell.key) { current in
                var next = current ?? blank
                next.add(score: outcome.score, weight: outcome.weight, configuration: configuration, at: outcome.at)
                return next
            })
        }
        return stored
    }

    public func saveCells(_ cells: [LearnedCell]) async throws {
        for cell in cells {
            try await enqueue(cell, partition: MemoryPartitions.learning, key: cell.key, owner: "system", accessLevel: .system)
        }
    }

    /// On this process's SQLite file, cells are not written behind: the router's changes are added
    /// to the stored cells at each sync (``syncCells(_:knownVersion:)``), so what another process on
    /// the file learned (`fleetd feedback --jsonl`, `fleetd mcp`) is kept and taken in.
    public nonisolated var mergesChanges: Bool { store.mergesChanges }

    /// One transaction on the store (``MemoryStore/merge(_:partition:changes:knownVersion:)``).
    public func syncCells(_ changes: [LearnedCellChange], knownVersion: Int?) async throws -> LearnedCellSync {
        try await store.syncCells(changes, knownVersion: knownVersion)
    }

    /// A task's record is written behind; a record that carries feedback is written at once (after
    /// what waits), so that on a shared store another instance asked for feedback next refuses it.
    public func saveTaskOutcome(_ record: TaskOutcomeRecord) async throws {
        guard record.feedbackScore != nil else {
            return try await enqueue(record, partition: MemoryPartitions.outcomes, key: record.recordKey, owner: "system", accessLevel: .system)
        }
        await flush()
        try await store.saveTaskOutcome(record)
    }

    /// Flushes first: feedback may come a moment after the task's record was queued.
    public func taskOutcome(taskId: String, tenantId: String?) async throws -> TaskOutcomeRecord? {
        await flush()
        return try await store.taskOutcome(taskId: taskId, tenantId: tenantId)
    }

    /// `routing/selections/<taskId>` (`<tenant>/<taskId>` for a tenant's task), swarm level, as ``ModelSelection``'s JSON: the pick, its
    /// config, the complexity, the reason and the fallbacks. The per-candidate trace is left out
    /// (it was the largest part of every task's JSON); `fleetd route` and `POST /v1/route` show it.
    /// With `predictiveRouting` on, each candidate's prediction stays (without its filter decisions):
    /// what learning contributed is part of the record.
    public func record(_ selection: ModelSelection) async throws {
        var stored = selection
        stored.trace.candidates = selection.trace.candidates.compactMap { candidate in
            guard candidate.prediction != nil else { return nil }
            var kept = candidate
            kept.decisions = []
            return kept
        }
        try await enqueue(stored, partition: MemoryPartitions.selections, key: selection.recordKey, owner: "router", accessLevel: .swarm)
    }

    public func loadStats() async throws -> [ModelStats] {
        await flush()
        return try await store.loadStats()
    }

    /// On the shared store (PostgreSQL), the model's stored stats are updated in place, one atomic
    /// step, so every instance's calls add up instead of the last writer's stats winning.
    public func recordOutcome(model: String, success: Bool, latencyMs: Double?, error: String?, at now: Date) async throws -> ModelStats? {
        guard store.shared != nil else { return nil }
        return try await store.update(ModelStats.self, partition: MemoryPartitions.stats, key: model) { current in
            var next = current ?? ModelStats(model: model)
            next.record(success: success, latencyMs: latencyMs, error: error, at: now)
            return next
        }
    }

    public func saveStats(_ stats: ModelStats) async throws {
        try await enqueue(stats, partition: MemoryPartitions.stats, key: stats.model, owner: "system", accessLevel: .system)
    }

    /// `tools/calls/<taskId>/<callId>`, swarm level.
    public func recordToolCall(_ report: ToolCallReport) async throws {
        try await enqueue(report, partition: MemoryPartitions.toolCalls, key: "\(report.taskId)/\(report.callId)", owner: "system",
                          accessLevel: .swarm)
    }

    public func recordSession(_ session: StreamSessionRecord) async throws {
        try await enqueue(session, partition: MemoryPartitions.streamSessions, key: session.streamId, owner: "system", accessLevel: .swarm)
    }

    public func recordMetadata(_ metadata: StreamResultMetadata) async throws {
        try await enqueue(metadata, partition: MemoryPartitions.streamMetadata, key: metadata.streamId, owner: "system", accessLevel: .swarm)
    }
}
