import FleetSupport
import Foundation
import Store

extension ModelConfiguration {
    /// Why this model cannot serve the task (streaming, tools, context window, input kinds, its
    /// provider's wire format), or `nil` when it can: the capabilities stage of routing, also used
    /// to check a model the caller named or the default model when the router is off.
    public func capabilityProblem(for task: RoutingTask, inputTokens: Int, outputTokens: Int) -> String? {
        let caps = capabilities
        if task.needsStreaming && !caps.supportsStreaming {
            return "task needs streaming; the model does not stream"
        }
        if task.needsTools && !caps.supportsTools {
            return "task uses tools; the model cannot call tools"
        }
        let answer = task.outputTokenLimit.map { limit in caps.maxOutputTokens.map { min(limit, $0) } ?? limit } ?? outputTokens
        let needed = inputTokens + answer
        if needed > caps.maxTokens {
            return "needs ~\(needed) tokens (\(inputTokens) in + up to \(answer) out); context window is \(caps.maxTokens)"
        }
        let missing = task.requiredInputs.subtracting(caps.inputModalities).sorted()
        if !missing.isEmpty {
            // A kind only the task type asks for says so: the task carries no such attachment.
            var why = ""
            if let type = task.type, let kind = type.requiredInput, missing.contains(kind), !task.attachments.contains(kind) {
                why = " (task type \(type.rawValue))"
            }
            return "cannot take \(missing.map(\.rawValue).joined(separator: ", ")) input" + why
        }
        let limits = task.providerLimits.filter { $0.provider == provider && $0.applies(to: model) }.map(\.reason)
        if !limits.isEmpty {
            return "\(provider.rawValue) cannot carry " + limits.joined(separator: "; ")
        }
        return nil
    }
}

extension RoutingTask {
    /// The kinds of input besides text the model that serves the task must take: its attachments',
    /// and its type's (``TaskType/requiredInput``: an `image`, `audio` or `video` task is about
    /// such input, attached or not). Empty for a text task.
    public var requiredInputs: Set<InputModality> {
        var kinds = Set(attachments)
        if let kind = type?.requiredInput { kinds.insert(kind) }
        kinds.remove(.text)
        return kinds
    }

    /// More input tokens than a provider counts for the prompt and context: no tokenizer makes
    /// more tokens than the text has UTF-8 bytes, plus the framing a task's request adds (as
    /// `ProviderRequest.inputTokenBound` counts it). An agent type's system prompt is not in it.
    public var inputTokenBound: Int {
        prompt.utf8.count + (context?.utf8.count ?? 0) + 8 * (context == nil ? 3 : 4) + 16
    }
}

extension RoutingEngine {
    /// What a task's call to `model` reserves against the budget before it is made (`TaskBilling`):
    /// the prompt's UTF-8 size as input tokens plus the answer's limit (``RoutingTask/outputTokenLimit``
    /// cut to the model's `maxOutputTokens`) at the model's prices. `nil` when the task sets no
    /// answer limit: the budget is then checked against the expected cost.
    public static func reservedCost(_ model: ModelConfiguration, task: RoutingTask) -> Double? {
        guard let limit = task.outputTokenLimit else { return nil }
        let answer = model.capabilities.maxOutputTokens.map { min(limit, $0) } ?? limit
        return estimatedCost(model, inputTokens: task.inputTokenBound, outputTokens: answer)
    }
}

extension FilterDecision {
    /// A stage a model passed; its text is written only into a full trace.
    static func passed(_ stage: FilterStage, _ text: @autoclosure () -> String, _ detail: RoutingEngine.TraceDetail) -> FilterDecision {
        FilterDecision(stage: stage, passed: true, detail: detail == .full ? text() : "")
    }
}

extension RoutingEngine {
    /// Enabled, capabilities, privacy and constraints. Appends a decision per stage until one fails.
    func hardFilters(_ model: ModelConfiguration, task: RoutingTask, inputTokens: Int, outputTokens: Int, cost: Double,
                     stats: [String: ModelStats], detail: TraceDetail, into decisions: inout [FilterDecision]) -> Bool {
        guard model.enabled else {
            decisions.append(.init(stage: .enabled, passed: false, detail: model.disabledReason))
            return false
        }
        decisions.append(.init(stage: .enabled, passed: true, detail: "enabled"))

        if !task.allowLists.isEmpty {
            if let why = task.accessRefusal(model) {
                decisions.append(.init(stage: .access, passed: false, detail: why))
                return false
            }
            decisions.append(.passed(.access, "allowed for " + task.allowLists.map(\.source).joined(separator: " and "), detail))
        }

        let caps = model.capabilities
        let needed = inputTokens + outputTokens
        if let problem = model.capabilityProblem(for: task, inputTokens: inputTokens, outputTokens: outputTokens) {
            decisions.append(.init(stage: .capabilities, passed: false, detail: problem))
            return false
        }
        decisions.append(.passed(.capabilities, "~\(needed) of \(caps.maxTokens) tokens" + (task.needsStreaming ? ", streams" : ""), detail))

        if task.privacy == .localOnly && !model.provider.isLocal {
            decisions.append(.init(stage: .privacy, passed: false, detail: "task is local-only and \(model.provider.rawValue) is not a local provider"))
            return false
        }
        decisions.append(.init(stage: .privacy, passed: true, detail: task.privacy == .localOnly ? "local provider" : "standard task"))

        let c = task.constraints
        if let maxCost = c.maxCost, cost > maxCost {
            decisions.append(.init(stage: .constraints, passed: false, detail: "estimated cost \(money(cost)) above maxCost \(money(maxCost))"))
            return false
        }
        if let minQuality = c.minQuality, model.effectiveQuality < minQuality {
            decisions.append(.init(stage: .constraints, passed: false, detail: "quality \(fmt(model.effectiveQuality)) below minQuality \(fmt(minQuality))"))
            return false
        }
        let latency = expectedLatency(model, stats)
        if let maxLatency = c.maxLatencyMs, latency > maxLatency {
            decisions.append(.init(stage: .constraints, passed: false, detail: "expected latency \(Int(latency)) ms above maxLatencyMs \(Int(maxLatency))"))
            return false
        }
        if c.maxCost != nil || c.minQuality != nil || c.maxLatencyMs != nil {
            decisions.append(.passed(.constraints, "cost \(money(cost)), quality \(fmt(model.effectiveQuality)), latency \(Int(latency)) ms within limits", detail))
        }
        return true
    }

    /// Budget, then quota, then health over the chain, in order. Returns the survivors in chain order.
    /// Throws ROUTER_002 / ROUTER_003 when the budget leaves nothing that could otherwise have served.
    func applyOperationalFilters(
        _ chain: [(model: ModelConfiguration, role: FallbackEntry.Role)], task: RoutingTask, inputs: RoutingInputs, detail: TraceDetail,
        traces: inout [CandidateTrace], traceIndex: [String: Int], alerts: inout [RoutingAlert]
    ) throws(RouterError) -> [(model: ModelConfiguration, role: FallbackEntry.Role)] {
        // What the budget is checked against: what the task's call will reserve when the task has
        // an answer limit (``reservedCost(_:task:estimatedInputTokens:)``), else the expected cost.
        let costs = Dictionary(chain.map { entry -> (String, Double) in
            let expected = traces[traceIndex[entry.model.name] ?? 0].estimatedCost
            return (entry.model.name, Self.reservedCost(entry.model, task: task) ?? expected)
        }, uniquingKeysWith: { a, _ in a })
        func record(_ name: String, _ decision: FilterDecision) {
            if let i = traceIndex[name] { traces[i].decisions.append(decision) }
        }
        func note(_ name: String, _ text: String) {
            if let i = traceIndex[name] { traces[i].notes.append(text) }
        }
        func quotaDecision(_ m: ModelConfiguration) -> QuotaDecision? { inputs.quotas[m.provider] }
        func quotaOK(_ m: ModelConfiguration) -> Bool { quotaDecision(m)?.allowed ?? true }
        func healthOK(_ m: ModelConfiguration) -> Bool {
            if case .blocked? = inputs.health[m.name] { return false }
            return true
        }

        // 1. Budget.
        let budget = inputs.budget
        // The fleet's spend and remainder are not a tenant's business: a tenant's task is checked
        // against the fleet budget, but its trace and errors carry no fleet-wide figures. A caller
        // with a budget of its own (an API key's) is shown that budget's figures instead, tenant or not.
        let own = task.callerBudget
        let figures = task.tenantId == nil && own == nil
        // A passed budget decision's text, with what the call means for the caller's own budget.
        func withOwnBudget(_ text: String, cost: Double) -> String {
            own.map { text + "; " + $0.note(cost: cost) } ?? text
        }
        var afterBudget: [(model: ModelConfiguration, role: FallbackEntry.Role)] = []
        afterBudget.reserveCapacity(chain.count)
        var budgetExcluded = 0
        if !budget.enabled || budget.remaining == nil {
            for entry in chain {
                let text = own == nil ? (budget.enabled ? "no limit set" : "budget off")
                    : withOwnBudget(budget.enabled ? "no fleet limit set" : "fleet budget off", cost: costs[entry.model.name] ?? 0)
                record(entry.model.name, .init(stage: .budget, passed: true, detail: text))
            }
            afterBudget = chain
        } else {
            let remaining = budget.remaining ?? 0
            let exhausted = budget.isExhausted
            // The model routing would pick without the budget: the reference for `cheaper-only`.
            let reference = chain.first { quotaOK($0.model) && healthOK($0.model) }
            let referenceCost = reference.map { costs[$0.model.name] ?? 0 }
            var alerted = false
            for entry in chain {
                let cost = costs[entry.model.name] ?? 0
                let overBudget = exhausted || cost > remaining
                if cost == 0 {
                    record(entry.model.name, .init(stage: .budget, passed: true, detail: "free model: spends no budget"))
                    afterBudget.append(entry)
                } else if !overBudget {
                    record(entry.model.name, .passed(.budget, figures ? "estimated \(money(cost)) within remaining \(money(remaining))"
                                                                      : withOwnBudget("estimated \(money(cost)) within the fleet budget", cost: cost), detail))
                    afterBudget.append(entry)
                } else {
                    let over = !figures ? (exhausted ? "the fleet budget is used up" : "estimated \(money(cost)) exceeds what the fleet budget has left")
                        : exhausted ? "budget used up (remaining \(money(remaining)))" : "estimated \(money(cost)) exceeds remaining \(money(remaining))"
                    let cheaper = referenceCost.map { cost < $0 } ?? false
                    switch budget.policy.admission(cheaperThanPick: cheaper) {
                    case .refused where budget.policy == .block:
                        record(entry.model.name, .init(stage: .budget, passed: false, detail: "\(over); policy block"))
                        budgetExcluded += 1
                    case .refused:
                        let than = reference.map { "not cheaper than the pick \($0.model.name) (\(money(referenceCost ?? 0)))" } ?? "no pick to compare with"
                        record(entry.model.name, .init(stage: .budget, passed: false, detail: "\(over); \(than); policy cheaper-only"))
                        budgetExcluded += 1
                    case .withAlert:
                        record(entry.model.name, .init(stage: .budget, passed: true,
                                                       detail: withOwnBudget("\(over); allowed with an alert (policy allow-with-alert)", cost: cost),
                                                       admission: .withAlert))
                        if !alerted {
                            alerts.append(RoutingAlert(code: .budgetAlertTriggered, message: "BudgetAlertTriggered: \(over); task \(task.taskId) allowed by policy allow-with-alert"))
                            alerted = true
                        }
                        afterBudget.append(entry)
                    case .cheaperThanPick:
                        let name = reference?.model.name ?? ""
                        record(entry.model.name, .init(stage: .budget, passed: true,
                                                       detail: withOwnBudget("\(over); cheaper than \(name) (\(money(referenceCost ?? 0))), allowed by policy cheaper-only", cost: cost),
                                                       admission: .cheaperThanPick))
                        afterBudget.append(entry)
                    }
                }
            }
        }
        if afterBudget.isEmpty && budgetExcluded > 0 {
            let status = fleetBudgetLine(budget, task: task)
            switch budget.policy {
            case .cheaperOnly:
                throw RouterError(code: .noAffordableModel,
                                  message: "no model cheaper than the pick can serve task \(task.taskId) within the budget (\(status)); raise the budget or simplify the task",
                                  exclusions: exclusions(traces), taskId: task.taskId)
            default:
                throw RouterError(code: .budgetExceeded,
                                  message: "budget exceeded for task \(task.taskId) (\(status)); policy block refuses paid models",
                                  exclusions: exclusions(traces), taskId: task.taskId)
            }
        }

        // 2. Quota.
        var afterQuota: [(model: ModelConfiguration, role: FallbackEntry.Role)] = []
        afterQuota.reserveCapacity(chain.count)
        for entry in afterBudget {
            let m = entry.model
            guard let q = quotaDecision(m) else {
                record(m.name, .passed(.quota, "no quota tracked for \(m.provider.rawValue)", detail))
                afterQuota.append(entry)
                continue
            }
            if !q.allowed {
                record(m.name, .init(stage: .quota, passed: false, detail: "\(m.provider.rawValue) quota: \(q.reason ?? "not allowed")"))
                continue
            }
            let used = Int((q.usedFraction * 100).rounded())
            if q.usedFraction >= configuration.quotaPreferenceThreshold && configuration.quotaPreferenceThreshold < 1 {
                record(m.name, .init(stage: .quota, passed: true, detail: "\(m.provider.rawValue) quota \(used)% used"))
                note(m.name, "\(m.provider.rawValue) quota \(used)% used, past the \(Int((configuration.quotaPreferenceThreshold * 100).rounded()))% threshold: other providers are preferred")
            } else {
                record(m.name, .passed(.quota, "\(m.provider.rawValue) quota \(used)% used", detail))
            }
            afterQuota.append(entry)
        }

        // 3. Health.
        var survivors: [(model: ModelConfiguration, role: FallbackEntry.Role)] = []
        survivors.reserveCapacity(chain.count)
        for entry in afterQuota {
            switch inputs.health[entry.model.name] ?? .available {
            case .available:
                record(entry.model.name, .init(stage: .health, passed: true, detail: "breakers closed"))
                survivors.append(entry)
            case .probe(let detail):
                record(entry.model.name, .init(stage: .health, passed: true, detail: detail))
                note(entry.model.name, detail)
                survivors.append(entry)
            case .blocked(_, let detail):
                record(entry.model.name, .init(stage: .health, passed: false, detail: detail))
            }
        }
        return survivors
    }

    func exclusions(_ traces: [CandidateTrace]) -> [ModelExclusion] {
        traces.compactMap { t in t.exclusion.map { ModelExclusion(model: t.modelName, stage: $0.stage, reason: $0.detail) } }
    }

    /// The trace's line on the budget: the caller's own budget when it has one
    /// (``RoutingTask/callerBudget``), e.g. "key fk-ab12cd34: day $0.5000 of $2.0000 used; policy
    /// block", else the fleet's (``fleetBudgetLine(_:task:)``).
    func budgetLine(_ budget: BudgetStatus, task: RoutingTask) -> String {
        task.callerBudget?.line ?? fleetBudgetLine(budget, task: task)
    }

    /// One line on the fleet budget, e.g. "day $98.00 of $100.00 used; policy block". For a
    /// tenant's task, or a caller shown its own budget, no fleet-wide figure: only that the fleet
    /// budget was checked.
    func fleetBudgetLine(_ budget: BudgetStatus, task: RoutingTask) -> String {
        guard budget.enabled else { return "budget off" }
        if task.tenantId != nil {
            return "fleet budget checked (its figures are not shown to a tenant's caller); policy \(budget.policy.rawValue)"
        }
        if task.callerBudget != nil {
            return "fleet budget checked; policy \(budget.policy.rawValue)"
        }
        return Self.budgetSummary(budget)
    }

    /// One line on a budget's periods and policy, e.g. "day $98.00 of $100.00 used; policy block":
    /// the fleet's in an operator's trace, a key's own in its caller's (`POST /v1/route`).
    public static func budgetSummary(_ budget: BudgetStatus) -> String {
        guard budget.enabled else { return "budget off" }
        let periods = budget.periods.compactMap { p -> String? in
            guard let limit = p.limit else { return nil }
            return "\(p.period.rawValue) \(money(p.spent + p.reserved)) of \(money(limit)) used"
        }
        return (periods.isEmpty ? "no limit set" : periods.joined(separator: ", ")) + "; policy \(budget.policy.rawValue)"
    }
}
