import FleetSupport
import Providers
import Routing
import Streaming

/// The built-in local responder in its last-resort place: what it says when it stands in for
/// configured models, and when a compatible client gets the models' failure instead.
///
/// `/v1/tasks` (and MCP's `run_task`) keep the labelled answer (`localDefault: true`), which now
/// says why it answers. A compatible client (`/v1/chat/completions`, `/v1/messages`) gets the
/// error instead, as the provider or the router gave it: an application built on an official
/// SDK cannot tell canned text from a model's answer and would show it to its users, while a
/// 429 or 503 is what the SDK raises (`RateLimitError`, `InternalServerError`) and retries. The
/// responder still answers a compatible request when it is what the fleet has (no key set, or
/// only built-in models), or when the client named it.
extension AgentTask {
    /// The stages that leave a model out for now, not for good: a breaker, the budget, a quota.
    private static let passingExclusions: Set<FilterStage> = [.health, .budget, .quota]

    /// Why the built-in responder was picked in place of configured models that cannot be used
    /// right now, or `nil` when it was not: it is the pick, not named by the client, and a model
    /// of another provider was left out only at the health, budget or quota stage (a model that
    /// is off, has no key, or cannot serve the request leaves the responder in its usual place).
    func builtinStandInReason(_ selection: ModelSelection) -> String? {
        guard selection.routed, selection.modelConfig.provider == .builtin, selection.modelName != preferredModel else { return nil }
        let unavailable = selection.trace.candidates.compactMap { candidate -> String? in
            guard candidate.provider != ProviderKind.builtin.rawValue, let exclusion = candidate.exclusion,
                  Self.passingExclusions.contains(exclusion.stage) else { return nil }
            return "\(candidate.modelName): \(exclusion.detail)"
        }
        guard !unavailable.isEmpty else { return nil }
        return unavailable.prefix(3).joined(separator: "; ") + (unavailable.count > 3 ? "; …" : "")
    }

    /// For a compatible client's request: the failure the router would have given without the
    /// built-in last resort, when the responder stands in for models that cannot be used now
    /// (``builtinStandInReason(_:)``): ROUTER_002 when only the budget left them out, else
    /// ROUTER_001 naming why. `nil` for other tasks, or when the responder is in its usual place.
    ///
    /// Any task, `/v1/tasks` and MCP's included, gets ROUTER_002 when only the budget left the
    /// configured models out: a spent budget is the caller's answer (402, as README promises), not
    /// canned text that reads like a model's. Breakers and quotas leave `/v1/tasks` its labelled answer.
    func compatibleStandInFailure(_ selection: ModelSelection) -> TaskFailure? {
        guard let why = builtinStandInReason(selection) else { return nil }
        let stages = Set(selection.trace.candidates.filter { $0.provider != ProviderKind.builtin.rawValue }
            .compactMap { $0.exclusion?.stage }.filter { Self.passingExclusions.contains($0) })
        if stages == [.budget] {
            return TaskFailure(code: .budgetExceeded, message: "budget exceeded: no configured model may be called for this request (\(why))")
        }
        guard conversation != nil else { return nil }
        return TaskFailure(code: .modelSelectionFailed, message: "no configured model can be called for this request right now (\(why))")
    }

    /// The call targets as this task may use them. For a compatible client's request whose first
    /// target is a real model, the built-in responder is dropped from the fallbacks: when every
    /// model fails, the client gets the last model's error (a provider's 429 with its Retry-After
    /// is the SDK's `RateLimitError`), not canned text. For any task, a built-in responder that
    /// stands in for models that cannot be used now says so (``BuiltinProvider/Role/standingIn(why:)``).
    /// A built-in target reached after failures in the call says that itself (`StreamRun`).
    func callTargets(_ targets: [StreamTarget], standIn why: String?) -> [StreamTarget] {
        var targets = targets
        if conversation != nil, let first = targets.first, first.endpoint.provider != .builtin {
            targets.removeAll { $0.endpoint.provider == .builtin }
        }
        if let why {
            targets = targets.map { target in
                target.endpoint.provider == .builtin
                    ? StreamTarget(endpoint: target.endpoint, client: BuiltinProvider(role: .standingIn(why: why)))
                    : target
            }
        }
        return targets
    }
}
