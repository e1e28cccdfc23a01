import Agents
import FleetSupport
import Foundation
import Store

/// Who is calling, as ``APIAuthMiddleware`` established it; routes read it as `context.caller`.
///
/// Callers without a tenant (no credential needed, the shared `API_KEY`, the admin token) have
/// full access and see every tenant's tasks. Callers with a tenant (a virtual key, a JWT) see
/// only their tenant's tasks and selections, run tasks under their tenant and user, and are held
/// to their key's or token's limits.
struct Caller: Sendable, Hashable {
    enum Kind: String, Sendable, Hashable {
        /// No credential configured: fleetd is open (loopback, or `api.allowUnauthenticated`).
        case open
        /// v1.0.4's single shared `API_KEY`.
        case sharedKey = "api-key"
        /// `FLEETD_ADMIN_TOKEN`.
        case admin
        /// A JWT signed with `JWT_SECRET`.
        case token
        /// A virtual API key (`fleetd keys create`).
        case key
    }

    var kind: Kind
    var tenantId: String?
    var userId: String?
    /// A virtual key's public id.
    var keyId: String?
    /// What the key or token allows (models, providers, agent types, budgets, rates).
    var limits: APIKeyLimits?
    /// When the credential stops working.
    var expiresAt: Date?

    static let open = Caller(kind: .open)
    static let sharedKey = Caller(kind: .sharedKey)
    static let admin = Caller(kind: .admin)

    /// How logs, errors and routing traces name the caller; never a secret.
    var label: String {
        switch kind {
        case .open: "an unauthenticated caller"
        case .sharedKey: "the shared API key"
        case .admin: "the admin token"
        case .token: "the token of user \(userId ?? "?") of tenant \(tenantId ?? "?")"
        case .key: "key \(APIKeySecret.prefix)\(keyId ?? "?")"
        }
    }

    /// Sees every tenant's tasks and the fleet-wide figures (costs, metrics).
    var seesAllTenants: Bool { tenantId == nil }

    /// What the task path carries for this caller; `nil` for full-access callers, whose tasks
    /// run as v1.0.4's did (the body's tenant and user drive rollout).
    var taskCaller: TaskCaller? {
        guard tenantId != nil || limits != nil else { return nil }
        let budget = limits?.budget
        return TaskCaller(label: label, tenantId: tenantId, userId: userId, keyId: keyId,
                          allowedModels: limits?.models, allowedProviders: limits?.providers, allowedAgentTypes: limits?.agentTypes,
                          budget: budget?.isLimited == true ? budget : nil)
    }
}

/// A request context that carries the authenticated caller (fleetd's own does). Routes added by
/// other features take `context.caller` from here and pass `caller.taskCaller` to their tasks.
protocol AuthenticatedRequestContext {
    /// Set by ``APIAuthMiddleware``; `nil` on routes it does not guard.
    var caller: Caller? { get set }
}

extension AuthenticatedRequestContext {
    /// The caller, or a 401 when the route was reached without ``APIAuthMiddleware``.
    func requireCaller() throws -> Caller {
        guard let caller else {
            throw APIError(.unauthorized, code: "UNAUTHORIZED", message: "this route needs an authenticated caller")
        }
        return caller
    }
}
