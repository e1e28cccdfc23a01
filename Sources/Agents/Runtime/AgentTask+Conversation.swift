import Providers
import Routing

extension AgentTask {
    /// The model call for this task on `model`: the client's ``conversation`` when there is one
    /// (the agent type's system prompt first, then the client's), else the prompt (after the
    /// context, in one user message) with the agent type's system prompt. The answer's token limit
    /// is ``requestedOutputTokens(role:)``: each target (the pick and every fallback) is sent no
    /// more than its own `maxOutputTokens` (`StreamRun.request(for:)`), which makes it
    /// ``outputTokenLimit(role:model:)`` for the model that answers, as its reservation counts.
    func providerRequest(model: ModelConfiguration, role: AgentRole) -> ProviderRequest {
        let maxTokens = requestedOutputTokens(role: role)
        guard var request = conversation else {
            var request = ProviderRequest(model: model.model, prompt: prompt, system: role.systemPrompt, maxTokens: maxTokens)
            if let context, !context.isEmpty {
                request.messages = [ProviderMessage(role: .user, content: "\(context)\n\n\(prompt)")]
            }
            return request
        }
        request.model = model.model
        request.maxTokens = maxTokens
        let systems = [role.systemPrompt, request.system].compactMap { $0 }.filter { !$0.isEmpty }
        request.system = systems.isEmpty ? nil : systems.joined(separator: "\n\n")
        return request
    }

    /// Why the model chosen for a client's conversation cannot serve it (REQUEST_UNSUPPORTED,
    /// 400), or `nil`: the model the client named was excluded for what it cannot do (tools,
    /// images, context window, its provider's format), rather than for health or budget, which
    /// send the task down the fallback chain; or, with the router off, the default model cannot.
    func conversationProblem(_ selection: ModelSelection, routingTask: RoutingTask) -> TaskFailure? {
        guard conversation != nil else { return nil }
        if let preferred = preferredModel, selection.modelName != preferred,
           let exclusion = selection.trace.candidates.first(where: { $0.modelName == preferred })?.exclusion,
           exclusion.stage == .capabilities || exclusion.stage == .enabled {
            return TaskFailure(code: .requestUnsupported, message: "model '\(preferred)' cannot serve this request: \(exclusion.detail)", model: preferred)
        }
        if !selection.routed {
            let problem = selection.modelConfig.capabilityProblem(
                for: routingTask, inputTokens: routingTask.estimatedInputTokens ?? selection.trace.estimatedInputTokens,
                outputTokens: selection.trace.estimatedOutputTokens)
            if let problem {
                return TaskFailure(code: .requestUnsupported, message: "the router is off and the default model '\(selection.modelName)' cannot serve this request: \(problem)",
                                   model: selection.modelName)
            }
        }
        return nil
    }

    /// A routing failure as a task failure. For a client's conversation, or a task that needs a
    /// kind of input (an `image`, `audio` or `video` task: ``RoutingTask/requiredInputs``), that no
    /// model can serve only because of what it asks for (every exclusion at the capabilities stage,
    /// or a disabled model), it is the request's fault: REQUEST_UNSUPPORTED (400), not ROUTER_001 (503).
    /// The model the client named is the same: excluded for what it cannot do, it is the request
    /// that it cannot serve, whatever kept the other models out (their complexity range, say).
    public func failure(routing error: RouterError, routingTask: RoutingTask? = nil) -> TaskFailure {
        if conversation != nil, error.code == .modelSelectionFailed, let preferred = preferredModel,
           let exclusion = error.exclusions.first(where: { $0.model == preferred }), [.capabilities, .enabled].contains(exclusion.stage) {
            return TaskFailure(code: .requestUnsupported, message: "model '\(preferred)' cannot serve this request: \(exclusion.reason)", model: preferred)
        }
        let needsInput = !(routingTask?.requiredInputs.isEmpty ?? true)
        if conversation != nil || needsInput, error.code == .modelSelectionFailed,
           error.exclusions.contains(where: { $0.stage == .capabilities }),
           error.exclusions.allSatisfy({ [.capabilities, .enabled, .registry].contains($0.stage) }) {
            let reasons = error.exclusions.filter { $0.stage == .capabilities }.map { "\($0.model): \($0.reason)" }
            return TaskFailure(code: .requestUnsupported, message: "no configured model can serve this request: " + reasons.joined(separator: "; "))
        }
        return TaskFailure(code: error.code.errorCode, message: error.message)
    }
}
