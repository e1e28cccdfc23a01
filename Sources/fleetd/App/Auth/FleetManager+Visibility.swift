import Fleet
import Foundation

extension FleetManager {
    /// `GET /v1/tasks/{id}` for `caller`: a tenant's caller sees its tenant's task with that id
    /// and nothing else (another tenant's task is a 404, as if it did not exist). Callers who
    /// see every tenant get the task submitted without a tenant, else the one tenant's task with
    /// that id; `?tenant=` picks one when several tenants used the id.
    func visibleRecord(_ id: String, to caller: Caller?, tenant: String?) async throws -> TaskRecord {
        let notFound = APIError(.notFound, code: "UNKNOWN_TASK", message: "no task '\(id)' (fleetd remembers the last 10,000 tasks)", field: "id")
        guard let caller, caller.seesAllTenants else {
            guard let record = taskRecord(id, tenant: caller?.tenantId) else { throw notFound }
            return record
        }
        if let tenant {
            guard let record = taskRecord(id, tenant: tenant) else { throw notFound }
            return record
        }
        if let record = taskRecord(id) { return record }
        let records = taskRecords(id: id)
        guard records.count <= 1 else {
            throw APIError(.conflict, code: "AMBIGUOUS_TASK",
                           message: "\(records.count) tenants have a task '\(id)' (\(records.compactMap(\.tenantId).joined(separator: ", "))); add ?tenant=",
                           field: "tenant")
        }
        guard let record = records.first else { throw notFound }
        return record
    }
}
