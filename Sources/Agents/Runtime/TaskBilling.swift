import FleetSupport
import Foundation
import Logging
import Providers
import Routing
import Store
import Streaming
import Synchronization

/// The money side of one task, around each call the streaming tool makes to a model:
///
/// - before the call, a reservation of its upper bound (the prompt's UTF-8 size as input tokens,
///   which no tokenizer exceeds, plus the answer's token limit at the model's prices), so that
///   concurrent tasks never overshoot a budget by more than one reservation;
/// - after it, a ledger row under the model and provider that served it when the provider
///   accepted the call, however it ended (completed, cut, timed out, cancelled), or a release when
///   the provider refused it. Each row says what its usage rests on (``CostBasis``).
///
/// Ledger work runs in tasks of its own, so a task timeout or a client that leaves never cancels
/// a settlement half way; ``settled()`` waits for all of them.
final class TaskBilling: Sendable {
    private struct State {
        var current: CostReservation?
        var pending: [Task<Void, Never>] = []
        var billed = 0.0
        var rows = 0
    }

    private let state = Mutex(State())
    private let costs: any CostAccounting
    private let registry: ModelRegistry
    private let call: @Sendable (ModelConfiguration) -> CostCall
    /// The input the provider will count, estimated (for a row the provider reported nothing for).
    private let estimatedInputTokens: Int
    /// More input tokens than any provider will count for this request.
    private let inputTokenBound: Int
    private let outputLimit: @Sendable (ModelConfiguration) -> Int
    /// The longest prompt-cache write the request's breakpoints may cause.
    private let promptCacheWrites: PromptCacheWrites
    /// The models (the pick, fallbacks) the router admitted as cheaper than its pick under
    /// `cheaper-only`: their reservations are admitted by the same rule.
    private let cheaperAlternatives: Set<String>
    /// The budgets of the API key the task runs with, checked with each reservation.
    private let keyLimits: CostConfiguration.BudgetLimits?
    private let logger: Logger

    init(costs: any CostAccounting, registry: ModelRegistry, estimatedInputTokens: Int, inputTokenBound: Int,
         promptCacheWrites: PromptCacheWrites = .none,
         cheaperAlternatives: Set<String>, keyLimits: CostConfiguration.BudgetLimits? = nil, logger: Logger,
         call: @escaping @Sendable (ModelConfiguration) -> CostCall, outputLimit: @escaping @Sendable (ModelConfiguration) -> Int) {
        self.costs = costs
        self.registry = registry
        self.estimatedInputTokens = estimatedInputTokens
        self.inputTokenBound = inputTokenBound
        self.promptCacheWrites = promptCacheWrites
        self.cheaperAlternatives = cheaperAlternatives
        self.keyLimits = keyLimits
        self.logger = logger
        self.call = call
        self.outputLimit = outputLimit
    }

    /// The hooks to hand the streaming tool.
    var hooks: CallHooks {
        CallHooks(beforeAttempt: { [self] target in await reserve(for: target) },
                  afterAttempt: { [self] report in bill(report) })
    }

    /// The most a call to `model` can cost for this request: with breakpoints set, an Anthropic
    /// model may write the whole prompt to its cache, at the premium of the longest one.
    func upperBound(_ model: ModelConfiguration) -> Double {
        var usage = CostUsage(inputTokens: inputTokenBound, outputTokens: outputLimit(model))
        if model.provider == .anthropic, promptCacheWrites != .none {
            usage.cacheWriteTokens = inputTokenBound
            usage.cacheWriteHourTokens = promptCacheWrites == .hour ? inputTokenBound : 0
        }
        return (try? usage.cost(pricing: model.capabilities.costPer1kTokens)) ?? 0
    }

    private func reserve(for target: StreamTarget) async -> StreamFailure? {
        guard let model = registry.model(named: target.endpoint.name) else { return nil }
        let costs = self.costs, call = self.call(model), bound = upperBound(model)
        let cheaper = cheaperAlternatives.contains(model.name), keyLimits = self.keyLimits
        // Its own task: GRDB starts no work in a cancelled task, and the hold must be written.
        let result = await ExecutorAffinity.task { () -> Result<CostReservation, any Error> in
            do {
                return .success(try await costs.reserve(call, estimatedCost: bound, isCheaperAlternative: cheaper, keyLimits: keyLimits))
            } catch { return .failure(error) }
        }.value
        switch result {
        case .success(let reservation):
            state.withLock { $0.current = reservation }
            return nil
        case .failure(let error as CostError):
            return StreamFailure(code: error.errorCode, message: error.message, shortDescription: error.shortDescription,
                                 terminal: true, retryable: false, model: model.name)
        case .failure(let error):
            // The store's error (which may name the database's host) is logged, not told to the
            // caller, who may be any tenant.
            logger.error("the cost could not be reserved", metadata: ["model": "\(model.name)", "error": "\(error)"])
            return StreamFailure(code: .costCalculationFailed, message: "the cost could not be reserved: the cost store is unavailable",
                                 shortDescription: "cost_calculation_failed", terminal: true, retryable: false, model: model.name)
        }
    }

    private func bill(_ report: StreamAttemptReport) {
        guard let reservation = state.withLock({ state -> CostReservation? in defer { state.current = nil }; return state.current }),
              let model = registry.model(named: report.model) else { return }
        let costs = self.costs
        guard report.accepted else {
            track(ExecutorAffinity.task { await costs.release(reservation) })
            return
        }
        let (usage, basis) = billedUsage(report, model: model)
        if basis == .estimated, report.succeeded {
            logger.warning("COST_001 CostCalculationFailed: the provider reported no usage; billed at fleetd's estimate",
                           metadata: ["model": "\(model.name)", "task": "\(reservation.call.taskId)"])
        }
        let pricing = model.capabilities.costPer1kTokens
        let logger = self.logger
        track(ExecutorAffinity.task { [self] in
            // A store that is busy or briefly away (another writer holding the SQLite file, a
            // PostgreSQL restart) is tried again for about six seconds, so that the answer goes out
            // with its settlement recorded (the SQLite tracker's journal line, or PostgreSQL's row):
            // settling is idempotent on the reservation's id. Past that, the tracker keeps the
            // settlement and writes it when the store is back.
            var delay = Duration.milliseconds(200)
            for attempt in 1...6 {
                do {
                    let entry = try await costs.settle(reservation, usage: usage, pricing: pricing, basis: basis)
                    state.withLock {
                        $0.billed += entry.cost
                        $0.rows += 1
                    }
                    return
                } catch let error where !(error is CostError) && attempt < 6 {
                    logger.warning("a call's settlement failed; trying again", metadata: [
                        "task": "\(reservation.call.taskId)", "attempt": "\(attempt)", "error": "\(error)",
                    ])
                    try? await Task.sleep(for: delay)
                    delay *= 2
                } catch let error as CostError {
                    // Bad usage: nothing to write. The reservation stays held (and written down):
                    // the budget stays conservative, and the next start bills it at its estimate.
                    logger.error("a call could not be billed; its reservation stays held", metadata: [
                        "task": "\(reservation.call.taskId)", "model": "\(model.name)", "error": "\(error)",
                    ])
                    return
                } catch {
                    // The store still refuses: the tracker kept the settlement with its real cost
                    // (CostAccounting.settle) and writes it once the store takes it, the reservation
                    // held until then. The task costs what it will be billed.
                    let cost = (try? usage.cost(pricing: pricing)) ?? 0
                    state.withLock {
                        $0.billed += cost
                        $0.rows += 1
                    }
                    logger.warning("a call's settlement waits for the cost store; the cost tracker writes it when the store is back", metadata: [
                        "task": "\(reservation.call.taskId)", "model": "\(model.name)", "error": "\(error)",
                    ])
                    return
                }
            }
        })
    }

    /// What a call is billed for, and on what basis.
    private func billedUsage(_ report: StreamAttemptReport, model: ModelConfiguration) -> (CostUsage, CostBasis) {
        let provider = model.provider
        if report.answerUnseen, report.usage == nil {
            // The provider generated an answer fleetd never saw, of up to the answer's limit.
            return (CostUsage(inputTokens: estimatedInputTokens, outputTokens: outputLimit(model)), .estimated)
        }
        if let reported = report.usage {
            let output = max(reported.outputTokens, report.succeeded ? 0 : report.outputTokensSeen)
            let counted = reported.inputTokens + reported.cachedInputTokens + reported.cacheWriteInputTokens > 0
            let input = counted ? reported.inputTokens : estimatedInputTokens
            let usage = CostUsage.reported(provider, promptTokens: input, outputTokens: output,
                                           cacheReadTokens: reported.cachedInputTokens, cacheWriteTokens: reported.cacheWriteInputTokens,
                                           cacheWriteHourTokens: reported.cacheWriteHourInputTokens)
            return (usage, report.succeeded ? .reported : .partial)
        }
        return (CostUsage(inputTokens: estimatedInputTokens, outputTokens: report.outputTokensSeen), .estimated)
    }

    private func track(_ task: Task<Void, Never>) {
        state.withLock { $0.pending.append(task) }
    }

    /// Waits for every settlement and release started so far; returns the dollars billed.
    @discardableResult
    func settled() async -> Double {
        while true {
            let pending = state.withLock { state -> [Task<Void, Never>] in defer { state.pending = [] }; return state.pending }
            if pending.isEmpty { break }
            for task in pending { await task.value }
        }
        return state.withLock { $0.billed }
    }
}
