import Foundation
import Routing
import Streaming

/// What one task with `predictiveRouting` on tells the learner: a failed or timed-out call counts
/// against its model, a call cut short by a client that left counts a little against it, and the
/// answer counts for the model that gave it (half when it stopped at its token limit). Automatic
/// signals weigh ``LearningConfiguration/automaticWeight``; a caller's feedback later weighs 1.
struct TaskLearning: Sendable {
    let router: ModelRouter
    let taskId: String
    let tenantId: String?
    let taskType: TaskType
    let complexity: Double

    init(router: ModelRouter, selection: ModelSelection, tenantId: String?) {
        self.router = router
        self.taskId = selection.taskId
        self.tenantId = tenantId
        self.taskType = selection.complexity.taskType
        self.complexity = selection.complexity.overall
    }

    /// The hooks that report failed calls (successes are told by ``completed(model:finishReason:)``).
    var hooks: CallHooks {
        CallHooks(beforeAttempt: { _ in nil }, afterAttempt: { report in
            guard !report.succeeded else { return }
            if report.cancelled {
                await learn(model: report.model, signal: .walkedAway)
                return
            }
            switch CallFailure(report.error ?? CancellationError()) {
            case .rateLimited, .overloaded, .authentication:
                // Capacity and keys: the breakers' business, not how well the model does this task.
                return
            case .timeout:
                await learn(model: report.model, signal: .timeout)
            default:
                await learn(model: report.model, signal: .error)
            }
        })
    }

    /// The task's answer came from `model`: learn from it and keep the record feedback attaches to.
    func completed(model: String, finishReason: String?) async {
        let truncated = ["length", "max_tokens", "MAX_TOKENS"].contains(finishReason ?? "")
        let signal: OutcomeSignal = truncated ? .truncated : .completed
        await learn(model: model, signal: signal)
        await router.rememberOutcome(TaskOutcomeRecord(taskId: taskId, model: model, taskType: taskType, complexity: complexity,
                                                       tenantId: tenantId, signal: signal, at: Date()))
    }

    private func learn(model: String, signal: OutcomeSignal) async {
        let weight = router.configuration.learning.automaticWeight
        await router.learn(RoutingOutcome(taskId: taskId, model: model, taskType: taskType, complexity: complexity, tenantId: tenantId,
                                          score: signal.automaticScore ?? 0, weight: weight, signal: signal))
    }
}

extension CallHooks {
    /// Both sets of hooks: `first`'s refusal wins before a call; after it, both hear the report in order.
    static func combining(_ first: CallHooks?, _ second: CallHooks?) -> CallHooks? {
        guard let first else { return second }
        guard let second else { return first }
        return CallHooks(beforeAttempt: { target in
            if let refusal = await first.beforeAttempt(target) { return refusal }
            return await second.beforeAttempt(target)
        }, afterAttempt: { report in
            await first.afterAttempt(report)
            await second.afterAttempt(report)
        })
    }
}
