import Foundation
import Routing
import Store
import Streaming

// The memory store backs the router's and the streaming tool's persistence seams, in the
// `routing/*` and `streaming/*` partitions (docs/store.md, "Partition TTLs").

extension MemoryStore: SelectionRecorder {
    /// `routing/selections/<taskId>` (`<tenant>/<taskId>` for a tenant's task), swarm level: agents may read why a model was chosen.
    public func record(_ selection: ModelSelection) async throws {
        try await store(selection, partition: MemoryPartitions.selections, key: selection.recordKey,
                        as: MemoryReader(agentId: "router", isSystem: true), accessLevel: .swarm)
    }
}

extension MemoryStore: RoutingStatsStore {
    /// `routing/stats/<model>`: never expires by default.
    public func loadStats() async throws -> [ModelStats] {
        try await query(partition: MemoryPartitions.stats, prefix: "").map { try $0.decode(ModelStats.self) }
    }

    public func saveStats(_ stats: ModelStats) async throws {
        try await store(stats, partition: MemoryPartitions.stats, key: stats.model, accessLevel: .system)
    }
}

extension MemoryStore: LearningStore {
    /// `routing/learning/<cell>`: never expires by default.
    public func loadCells() async throws -> [LearnedCell] {
        try await query(partition: MemoryPartitions.learning, prefix: "").map { try $0.decode(LearnedCell.self) }
    }

    public func saveCells(_ cells: [LearnedCell]) async throws {
        for cell in cells {
            try await store(cell, partition: MemoryPartitions.learning, key: cell.key, accessLevel: .system)
        }
    }

    /// On this process's SQLite file (which `fleetd feedback` and `fleetd mcp` open too), the router's
    /// changes are added to the stored cells at each sync, never written over them. On the shared
    /// store each outcome is applied in place instead (``LearningStore/apply(_:to:configuration:)``).
    public var mergesChanges: Bool { shared == nil }

    /// Adds each change to its stored cell, all in one transaction (``merge(_:partition:changes:knownVersion:)``).
    public func syncCells(_ changes: [LearnedCellChange], knownVersion: Int?) async throws -> LearnedCellSync {
        let merged = try await merge(LearnedCell.self, partition: MemoryPartitions.learning,
                                     changes: changes.map { change in MemoryChange<LearnedCell>(key: change.key, transform: { change.applied(to: $0) }) },
                                     knownVersion: knownVersion)
        return LearnedCellSync(cells: merged.values, complete: merged.complete, version: merged.version)
    }

    /// `routing/outcomes/<tenant>/<taskId>` (7 days by default).
    public func saveTaskOutcome(_ record: TaskOutcomeRecord) async throws {
        try await store(record, partition: MemoryPartitions.outcomes, key: record.recordKey, accessLevel: .system)
    }

    public func taskOutcome(taskId: String, tenantId: String?) async throws -> TaskOutcomeRecord? {
        try await retrieve(TaskOutcomeRecord.self, partition: MemoryPartitions.outcomes,
                           key: TaskOutcomeRecord.recordKey(taskId: taskId, tenantId: tenantId))
    }
}

extension MemoryStore: StreamSessionRecorder {
    /// `streaming/sessions/<streamId>` (1 hour by default).
    public func recordSession(_ session: StreamSessionRecord) async throws {
        try await store(session, partition: MemoryPartitions.streamSessions, key: session.streamId, accessLevel: .swarm)
    }

    /// `streaming/metadata/<streamId>` (24 hours by default).
    public func recordMetadata(_ metadata: StreamResultMetadata) async throws {
        try await store(metadata, partition: MemoryPartitions.streamMetadata, key: metadata.streamId, accessLevel: .swarm)
    }
}
