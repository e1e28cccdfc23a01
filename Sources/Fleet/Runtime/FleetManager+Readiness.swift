import Foundation
import Routing
import Store

/// What `/readyz` reports: whether fleetd can take work now.
public struct Readiness: Sendable, Codable {
    /// `ready` or `not ready`.
    public var status: String
    public var ready: Bool
    /// Why not, one line each; empty when ready.
    public var problems: [String]
}

extension FleetManager {
    /// Ready when the store takes a write and at least one enabled model accepts calls (its
    /// breaker and its provider's are not open). A store on a full or read-only disk, or every
    /// model held out by its breaker, is not ready: a load balancer should send work elsewhere.
    public func readiness() async -> Readiness {
        var problems: [String] = []
        do {
            try await dataPlane.memory.store(Date().timeIntervalSince1970, partition: "system/readiness", key: "probe",
                                             accessLevel: .system, expiry: .after(60))
        } catch {
            problems.append("the store does not take writes: \(error)")
        }
        let statuses = dataPlane.router.modelStatuses().filter(\.enabled)
        let serving = statuses.filter { ($0.breaker?.acceptingCalls ?? true) && ($0.providerBreaker?.acceptingCalls ?? true) }
        if statuses.isEmpty {
            problems.append("no model is enabled")
        } else if serving.isEmpty {
            problems.append("no model can serve: every breaker is open (\(statuses.map(\.name).joined(separator: ", ")))")
        }
        return Readiness(status: problems.isEmpty ? "ready" : "not ready", ready: problems.isEmpty, problems: problems)
    }
}
