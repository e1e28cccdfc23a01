import FleetSupport
import Foundation
import Logging
import Providers

/// One execution of ``StreamingTool/executeStreaming(_:targets:)``: the producer side.
///
/// A class: its attempts' closures capture it, and a struct this size (the tool, the request)
/// was copied into each of their contexts, in async frames the producer keeps for as long as the
/// stream is open (docs/performance.md, "Memory per open stream").
final class StreamRun: Sendable {
    let tool: StreamingTool
    /// Shared with the caller, who keeps it too (a task's run: see ``StreamingTool``'s `executeStreaming`).
    private let requestBox: Indirect<ProviderRequest>
    var request: ProviderRequest { requestBox.value }
    let targets: [StreamTarget]
    let output: BackpressureBuffer<StreamEvent>
    /// The time the caller allows from the start (e.g. a task's remaining time); `nil`: `timeoutMs` only.
    let timeLimit: Duration?
    /// The caller's reserve-and-bill around each call.
    let hooks: CallHooks?
    let streamId: String = StreamRun.makeStreamId()
    let accumulator = StreamAccumulator()

    init(tool: StreamingTool, request: Indirect<ProviderRequest>, targets: [StreamTarget], output: BackpressureBuffer<StreamEvent>,
         timeLimit: Duration?, hooks: CallHooks?) {
        self.tool = tool
        self.requestBox = request
        self.targets = targets
        self.output = output
        self.timeLimit = timeLimit
        self.hooks = hooks
    }

    enum Outcome: Sendable {
        case completed(model: StreamTarget, synchronous: Bool)
        case failed(any Error)
        case consumerGone
    }

    static func makeStreamId() -> String {
        let millis = Int(Date().timeIntervalSince1970 * 1000)
        return "stream-\(millis)-" + LocalID.text(length: 8)
    }

    var configuration: StreamingConfiguration { tool.configuration }
    var total: Duration { .milliseconds(configuration.timeoutMs) }
    var firstChunkTimeout: Duration { .milliseconds(configuration.firstChunkTimeoutMs ?? configuration.timeoutMs) }
    var idleTimeout: Duration { .milliseconds(configuration.idleTimeoutMs ?? configuration.timeoutMs) }
    /// No retry waits past this: `timeoutMs`, or the caller's time limit when that is sooner.
    var retryDeadline: Duration { timeLimit.map { min(max(.zero, $0), total) } ?? total }

    func run() async {
        let clock = StreamClock(tool.clock)
        guard let session = await begin() else { return }
        var lastError: (any Error)?
        var lastFailed: String?
        var lastTarget = 0
        turns: for index in targets.indices {
            lastTarget = index
            switch await serve(targetAt: index, session: session, clock: clock, lastError: &lastError, lastFailed: &lastFailed) {
            case .finished: return
            case .nextTarget: continue turns
            case .giveUp: break turns
            }
        }
        await failed(session, target: targets[lastTarget], lastError: lastError)
    }

    /// Records the session and tells `start`; `nil` when there is nothing to call or no one
    /// listens any more (the run is then over).
    ///
    /// Its frame and ``record(_:)``'s are kept small, with the building and the logging out of
    /// line: the producer's task keeps the slabs of its deepest chain of async frames while the
    /// stream is open, and this chain down to the recorder was deeper than the one that reads the
    /// provider (docs/performance.md, "Memory per open stream").
    /// The session's record is returned by reference (it is 104 bytes, and ``run()`` holds it for
    /// as long as the stream is open).
    @inline(never)
    private func begin() async -> Indirect<StreamSessionRecord>? {
        guard let session = openingSession() else {
            await noTargets()
            return nil
        }
        await record(session)
        guard await output.send(startEvent(of: session)) else {
            await end(session, state: .cancelled, code: nil)
            return nil
        }
        return Indirect(session)
    }

    /// The session's first record; `nil` when there is no target.
    @inline(never)
    private func openingSession() -> StreamSessionRecord? {
        guard let first = targets.first else { return nil }
        return StreamSessionRecord(
            streamId: streamId, state: .streaming, model: first.endpoint.name, provider: first.endpoint.provider,
            startedAt: tool.wallClock.now, bufferSize: configuration.bufferSize,
            backpressureThreshold: configuration.backpressureThreshold, timeoutMs: configuration.timeoutMs
        )
    }

    @inline(never)
    private func startEvent(of session: StreamSessionRecord) -> StreamEvent {
        .start(StreamStartMetadata(
            streamId: streamId, model: session.model, provider: session.provider, startedAt: session.startedAt,
            bufferSize: configuration.bufferSize, backpressureThreshold: configuration.backpressureThreshold,
            timeoutMs: configuration.timeoutMs
        ))
    }

    @inline(never)
    private func noTargets() async {
        _ = await output.send(.error(StreamFailure(
            code: .modelSelectionFailed, message: "no model to call: the target list is empty",
            shortDescription: "model_selection_failed", terminal: true, retryable: false, model: nil
        )))
        output.finish()
    }

    /// What a target's turn left: the run is over, the next target is tried, or none is.
    enum Step {
        case finished, nextTarget, giveUp
    }

    /// One target's turn: streamed (with its retries when it is the last), else or then one
    /// synchronous call. The producer waits in here for as long as the stream is open, so the
    /// turn's frame is kept small: the request for the target is built inside each attempt, and
    /// what is logged is out of line (docs/performance.md, "Memory per open stream").
    @inline(never)
    private func serve(targetAt index: Int, session: Indirect<StreamSessionRecord>, clock: StreamClock, lastError: inout (any Error)?,
                       lastFailed: inout String?) async -> Step {
        // A model the budget refused is not stood in for by the built-in responder: the caller
        // gets the refusal (ROUTER_002), not canned text that reads like an answer.
        if index > 0, targets[index].endpoint.provider == .builtin, let refused = lastError as? AttemptRefused,
           refused.failure.code == .budgetExceeded {
            return .giveUp
        }
        let target = Self.withBuiltinRole(targets[index], after: lastError, of: lastFailed)
        // Another target can serve: a failure of this one moves there at once. Waiting and
        // retrying the same model is only for the last target, when nothing else can serve.
        let hasNext = index + 1 < targets.count
        if index > 0, hasNext, let admit = tool.admitFallback, !admit(target) {
            skipping(target, for: targets[index + 1])
            return .nextTarget
        }
        var streamingFailed = false
        if target.endpoint.supportsStreaming {
            let outcome = await attempts(target, synchronous: false, retrying: !hasNext, clock: clock)
            guard let error = await failure(of: outcome, session: session, clock: clock) else { return .finished }
            lastError = error
            lastFailed = target.endpoint.name
            if accumulator.deliveredOutput || isTotalTimeout(error, clock: clock) { return .giveUp }
            if hasNext && Self.failsOver(error) {
                failingOver(from: target, to: targets[index + 1], error: error)
                return .nextTarget
            }
            streamingFailed = true
            accumulator.state.withLock { $0.streamFailed = true }
            guard Self.synchronousFallbackMayHelp(error) else { return .nextTarget }
            tryingSynchronously(target, after: error)
        }
        // After a failed stream, one synchronous call; else the synchronous calls are the target's
        // attempts, retried as streamed ones are.
        let outcome = await attempts(target, synchronous: true, retrying: !hasNext && !streamingFailed, clock: clock)
        guard let error = await failure(of: outcome, session: session, clock: clock) else { return .finished }
        lastError = error
        lastFailed = target.endpoint.name
        if accumulator.deliveredOutput || isTotalTimeout(error, clock: clock) { return .giveUp }
        if hasNext { failingOver(from: target, to: targets[index + 1], error: error) }
        return .nextTarget
    }

    /// An attempt's error, or `nil` when the run is over: the answer is complete (recorded and
    /// told), or no one listens any more (the session is recorded as cancelled).
    @inline(never)
    private func failure(of outcome: Outcome, session: Indirect<StreamSessionRecord>, clock: StreamClock) async -> (any Error)? {
        switch outcome {
        case .completed(let model, let sync):
            await complete(session, target: model, synchronous: sync, clock: clock)
            return nil
        case .consumerGone:
            await end(session.value, state: .cancelled, code: nil)
            return nil
        case .failed(let error):
            return error
        }
    }

    /// Every target failed (or the time ran out): the consumer is told why.
    @inline(never)
    private func failed(_ session: Indirect<StreamSessionRecord>, target: StreamTarget, lastError: (any Error)?) async {
        let failure = Self.failure(from: lastError, model: target.endpoint.name)
        logger(target).warning("stream failed", metadata: ["code": "\(failure.code)", "stream": "\(streamId)"])
        await end(session.value, state: .failed, code: failure.code)
        _ = await output.send(.error(failure))
        output.finish()
    }

    /// The built-in responder reached after a model failed in this call answers saying so
    /// (``BuiltinProvider/Role/afterFailures(last:)``: which model failed last, and how), rather
    /// than as the fleet's only model. Any other target is itself.
    @inline(never)
    static func withBuiltinRole(_ target: StreamTarget, after error: (any Error)?, of model: String?) -> StreamTarget {
        guard target.endpoint.provider == .builtin, let error, let model else { return target }
        return StreamTarget(endpoint: target.endpoint, client: BuiltinProvider(role: .afterFailures(last: "\(model): \(briefly(error))")))
    }

    /// A failure in a few words for a person: `rate limited (HTTP 429)`, `stream timeout`.
    static func briefly(_ error: any Error) -> String {
        var text = failure(from: error, model: nil).shortDescription.replacingOccurrences(of: "_", with: " ")
        if let status = (error as? ProviderError)?.status { text += " (HTTP \(status))" }
        return text
    }

    /// The request as `target` is sent it: its own model name, and no more answer than it may
    /// give (a fallback's `maxOutputTokens` may be below the picked model's: asked for more, it
    /// answers 400, and its cost would pass what was reserved for it). Built where the call is
    /// sent, in synchronous code (``send(to:stop:)``, a whole answer's call), so that no async
    /// frame the producer keeps while the stream is open holds a copy (352 bytes). Out of line:
    /// inlined, its copies once took five slots of the attempt's frame.
    @inline(never)
    func request(for target: StreamTarget) -> ProviderRequest {
        var modelRequest = request
        modelRequest.model = target.endpoint.model
        if let limit = target.endpoint.maxOutputTokens { modelRequest.maxTokens = min(modelRequest.maxTokens, limit) }
        return modelRequest
    }

    @inline(never)
    private func tryingSynchronously(_ target: StreamTarget, after error: any Error) {
        logger(target).info("streaming failed before output; trying a synchronous call", metadata: ["error": "\(error)"])
    }

    /// Calls `target` until an attempt completes, fails for good, or the retries run out. Retries
    /// only when `retrying` (the last target: nothing else can serve), only while no output reached
    /// the consumer, and never when the wait would end past ``retryDeadline``: then the failure (a
    /// rate limit with its Retry-After) is the outcome at once, rather than a sleep past the deadline.
    ///
    /// One loop calling each attempt directly: the producer's task keeps the slabs of its deepest
    /// chain of async frames while a stream is open, and a retry wrapper and an observer taking
    /// the attempt as closures were two more frames and two closure contexts on that chain
    /// (docs/performance.md, "Memory per open stream").
    @inline(never)
    func attempts(_ target: StreamTarget, synchronous: Bool, retrying: Bool, clock: StreamClock) async -> Outcome {
        var retry = 0
        while true {
            accumulator.state.withLock { $0.attempts += 1 }
            let outcome = await observed(target, synchronous: synchronous, clock: clock)
            if Task.isCancelled { return .consumerGone }
            guard case .failed(let error) = outcome else { return outcome }
            guard retrying, !accumulator.deliveredOutput else { return outcome }
            guard let delay = retryDelay(after: error, retry: retry + 1, clock: clock) else { return outcome }
            retry += 1
            do { try await clock.sleep(delay) } catch { return .consumerGone }
        }
    }

    /// How long to wait before retry number `retry` after `error`; `nil` when there is no retry:
    /// the error is not worth one, the retries ran out, or the wait would end past the deadline.
    @inline(never)
    private func retryDelay(after error: any Error, retry: Int, clock: StreamClock) -> Duration? {
        let retryAfter = (error as? ProviderError)?.retryAfter
        let retryable = (error as? ProviderError)?.isRetryable ?? ((error as? StreamingError)?.code == .timeout)
        guard retryable, retry <= configuration.retryConfig.maxRetries else { return nil }
        let delay = configuration.retryConfig.delay(retry: retry, providerRetryAfter: retryAfter, random: tool.random())
        if clock.elapsed() + delay >= retryDeadline {
            logNoRetry(after: error, delay: delay)
            return nil
        }
        logRetry(retry, after: error, delay: delay)
        return delay
    }

    // Logged out of line: a log call's temporaries would widen the frame the producer keeps
    // while a stream is open.
    @inline(never)
    private func logNoRetry(after error: any Error, delay: Duration) {
        tool.logger.debug("not retrying: the wait would end past the call's deadline",
                          metadata: ["stream": "\(streamId)", "delay": "\(delay)", "error": "\(error)"])
    }

    @inline(never)
    private func logRetry(_ retry: Int, after error: any Error, delay: Duration) {
        tool.logger.debug("retrying", metadata: ["stream": "\(streamId)", "retry": "\(retry)", "delay": "\(delay)", "error": "\(error)"])
    }

    @inline(never)
    private func skipping(_ target: StreamTarget, for next: StreamTarget) {
        logger(target).info("fallback skipped: its breaker is open", metadata: ["stream": "\(streamId)", "next": "\(next.endpoint.name)"])
    }

    /// Logs a move to the next target after a failure before output.
    private func failingOver(from target: StreamTarget, to next: StreamTarget, error: any Error) {
        logger(target).info("model failed before output; trying the next model at once",
                            metadata: ["stream": "\(streamId)", "next": "\(next.endpoint.name)", "error": "\(error)"])
    }

    /// Runs one attempt between the caller's hooks (a refused reservation skips the call) and
    /// reports it, cancelled or not, to ``StreamingTool/onAttempt`` and the hooks: the router
    /// ignores cancelled ones (a client leaving says nothing of the provider); billing does not.
    @inline(never)
    func observed(_ target: StreamTarget, synchronous: Bool, clock: StreamClock) async -> Outcome {
        if let refused = await admission(of: target) { return .failed(refused) }
        // Uptime in nanoseconds rather than `ContinuousClock.Instant`, whose size is known only at
        // run time: its slot took more of this frame, which is on the chain the producer keeps.
        let start = DispatchTime.now().uptimeNanoseconds
        let outcome = synchronous ? await syncAttempt(target: target, clock: clock) : await streamAttempt(target: target, clock: clock)
        let duration = Duration.nanoseconds(Int64(DispatchTime.now().uptimeNanoseconds &- start))
        await report(outcome, target: target, synchronous: synchronous, duration: duration)
        return outcome
    }

    /// Why the call to `target` may not be made (a provider quota, the caller's reservation), if
    /// it may not, as an ``AttemptRefused``. Apart from ``observed(_:synchronous:clock:)``, whose
    /// frame is on the chain the producer keeps while a stream is open, and returned as any error:
    /// a refusal is a large value.
    @inline(never)
    private func admission(of target: StreamTarget) async -> (any Error)? {
        if let admit = tool.admitAttempt, let refusal = await admit(target) { return AttemptRefused(failure: refusal) }
        if let hooks, let refusal = await hooks.beforeAttempt(target) { return AttemptRefused(failure: refusal) }
        return nil
    }

    /// Reports an attempt to ``StreamingTool/onAttempt`` and the hooks.
    @inline(never)
    private func report(_ outcome: Outcome, target: StreamTarget, synchronous: Bool, duration: Duration) async {
        let seen = accumulator.state.withLock {
            (accepted: $0.attemptAccepted, usage: $0.usage, output: $0.attemptOutputTokens, unseen: $0.attemptAnswerUnseen)
        }
        var report = StreamAttemptReport(model: target.endpoint.name, provider: target.endpoint.provider, synchronous: synchronous,
                                         duration: duration, error: nil, accepted: seen.accepted, usage: seen.usage,
                                         outputTokensSeen: seen.output)
        report.answerUnseen = seen.unseen
        switch outcome {
        case .completed:
            report.accepted = true
        case .failed(let error):
            report.error = error
            report.cancelled = Task.isCancelled || error is CancellationError
        case .consumerGone:
            report.error = CancellationError()
            report.cancelled = true
        }
        if let onAttempt = tool.onAttempt { await onAttempt(report) }
        if let hooks { await hooks.afterAttempt(report) }
    }

    func isTotalTimeout(_ error: any Error, clock: StreamClock) -> Bool {
        clock.elapsed() >= total
    }

    /// Failures that say the model cannot serve now (rate limited, overloaded, a server error, no
    /// connection, no answer in time): when another target exists, it is tried at once, with no
    /// backoff, no Retry-After wait and no synchronous call to the failing model. The attempt
    /// report has already opened or counted against its breaker.
    static func failsOver(_ error: any Error) -> Bool {
        if error is AttemptRefused { return true } // a cheaper target may still fit the budget
        if let error = error as? ProviderError {
            switch error.kind {
            case .rateLimited, .overloaded, .server, .network, .timeout: return true
            case .auth, .badRequest, .missingCredentials, .midStream, .invalidResponse: return false
            }
        }
        if let error = error as? StreamingError { return error.code == .timeout }
        return false
    }

    /// A synchronous call is worth it when streaming itself may be the problem, not the
    /// request, the key, or the provider's capacity.
    static func synchronousFallbackMayHelp(_ error: any Error) -> Bool {
        if error is AttemptRefused { return false }
        if let error = error as? ProviderError {
            switch error.kind {
            case .auth, .badRequest, .missingCredentials, .rateLimited, .overloaded: return false
            case .server, .network, .timeout, .midStream, .invalidResponse: return true
            }
        }
        return true
    }

    static func failure(from error: (any Error)?, model: String?) -> StreamFailure {
        switch error {
        case let error as AttemptRefused: error.failure
        case let error as StreamingError: StreamFailure(error, terminal: true, model: model)
        case let error as ProviderError: StreamFailure(error, model: model)
        case let error?: StreamFailure(
            code: .providerNetwork, message: String(describing: error), shortDescription: "network",
            terminal: true, retryable: true, model: model
        )
        case nil: StreamFailure(
            code: .modelSelectionFailed, message: "no model could be called", shortDescription: "model_selection_failed",
            terminal: true, retryable: false, model: model
        )
        }
    }

    func logger(_ target: StreamTarget) -> Logger {
        var logger = tool.logger
        logger[metadataKey: "model"] = "\(target.endpoint.name)"
        return logger
    }
}
