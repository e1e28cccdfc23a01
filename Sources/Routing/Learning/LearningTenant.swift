/// Which tenant `predictiveRouting` learns an outcome for and ranks a task with: one rule for every
/// path that names a tenant (a task's routing and its automatic outcomes, `POST
/// /v1/tasks/{id}/feedback`, `fleetd feedback --jsonl`), so what a tenant's tasks teach is what
/// its tasks are ranked with.
public enum LearningTenant {
    /// The authenticated tenant when the caller has one (a tenant's caller never speaks for
    /// another); else the tenant the request named: a task's `tenantId`, feedback's `?tenant=`, an
    /// imported line's `tenant`. An empty name is no tenant (the fleet's cells only).
    public static func resolve(authenticated: String?, named: String?) -> String? {
        if let authenticated { return authenticated.isEmpty ? nil : authenticated }
        guard let named, !named.isEmpty else { return nil }
        return named
    }
}
