import FleetSupport
import Foundation
import Logging
import Providers

/// One execution of ``StreamingTool/executeStreaming(_:targets:)``: the producer side.
struct StreamRun: Sendable {
    let tool: StreamingTool
    let request: ProviderRequest
    let targets: [StreamTarget]
    let output: BackpressureBuffer<StreamEvent>
    let streamId: String = StreamRun.makeStreamId()
    let accumulator = StreamAccumulator()

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

    func run() async {
        let clock = StreamClock(tool.clock)
        let startedAt = tool.wallClock.now
        guard let first = targets.first else {
            _ = await output.send(.error(StreamFailure(
                code: .modelSelectionFailed, message: "no model to call: the target list is empty",
                shortDescription: "model_selection_failed", terminal: true, retryable: false, model: nil
            )))
            output.finish()
            return
        }
        let session = StreamSessionRecord(
            streamId: streamId, state: .streaming, model: first.endpoint.name, provider: first.endpoint.provider,
            startedAt: startedAt, bufferSize: configuration.bufferSize,
            backpressureThreshold: configuration.backpressureThreshold, timeoutMs: configuration.timeoutMs
        )
        await record(session)
        guard await output.send(.start(StreamStartMetadata(
            streamId: streamId, model: first.endpoint.name, provider: first.endpoint.provider, startedAt: startedAt,
            bufferSize: configuration.bufferSize, backpressureThreshold: configuration.backpressureThreshold,
            timeoutMs: configuration.timeoutMs
        ))) else {
            await end(session, state: .cancelled, code: nil)
            return
        }

        var lastError: (any Error)?
        var lastTarget = first
        targets: for target in targets {
            lastTarget = target
            var modelRequest = request
            modelRequest.model = target.endpoint.model
            let callRequest = modelRequest
            var streamingFailed = false
            if target.endpoint.supportsStreaming {
                let outcome = await withRetries(clock: clock) {
                    await observed(target, synchronous: false) { await streamAttempt(target: target, request: callRequest, clock: clock) }
                }
                switch outcome {
                case .completed(let model, let sync):
                    await complete(session, target: model, synchronous: sync, clock: clock)
                    return
                case .consumerGone:
                    await end(session, state: .cancelled, code: nil)
                    return
                case .failed(let error):
                    lastError = error
                    if accumulator.deliveredOutput || isTotalTimeout(error, clock: clock) { break targets }
                    streamingFailed = true
                    guard Self.synchronousFallbackMayHelp(error) else { continue targets }
                    logger(target).info("streaming failed before output; trying a synchronous call", metadata: ["error": "\(error)"])
                }
            }
            let outcome: Outcome
            if streamingFailed {
                accumulator.state.withLock { $0.attempts += 1 }
                let single = await observed(target, synchronous: true) { await syncAttempt(target: target, request: callRequest, clock: clock) }
                outcome = Task.isCancelled ? .consumerGone : single
            } else {
                outcome = await withRetries(clock: clock) {
                    await observed(target, synchronous: true) { await syncAttempt(target: target, request: callRequest, clock: clock) }
                }
            }
            switch outcome {
            case .completed(let model, let sync):
                await complete(session, target: model, synchronous: sync, clock: clock)
                return
            case .consumerGone:
                await end(session, state: .cancelled, code: nil)
                return
            case .failed(let error):
                lastError = error
                if accumulator.deliveredOutput || isTotalTimeout(error, clock: clock) { break targets }
            }
        }
        let failure = Self.failure(from: lastError, model: lastTarget.endpoint.name)
        logger(lastTarget).warning("stream failed", metadata: ["code": "\(failure.code)", "stream": "\(streamId)"])
        await end(session, state: .failed, code: failure.code)
        _ = await output.send(.error(failure))
        output.finish()
    }

    /// Runs `attempt` until it completes, fails for good, or the retries run out. Retries only
    /// while no output reached the consumer, and never past the total deadline.
    func withRetries(clock: StreamClock, _ attempt: @Sendable () async -> Outcome) async -> Outcome {
        var retry = 0
        while true {
            accumulator.state.withLock { $0.attempts += 1 }
            let outcome = await attempt()
            if Task.isCancelled { return .consumerGone }
            guard case .failed(let error) = outcome else { return outcome }
            if accumulator.deliveredOutput { return outcome }
            let retryAfter = (error as? ProviderError)?.retryAfter
            let retryable = (error as? ProviderError)?.isRetryable ?? ((error as? StreamingError)?.code == .timeout)
            guard retryable, retry < configuration.retryConfig.maxRetries else { return outcome }
            retry += 1
            let delay = configuration.retryConfig.delay(retry: retry, providerRetryAfter: retryAfter, random: tool.random())
            if clock.elapsed() + delay >= total { return outcome }
            tool.logger.debug("retrying", metadata: ["stream": "\(streamId)", "retry": "\(retry)", "delay": "\(delay)", "error": "\(error)"])
            do { try await clock.sleep(delay) } catch { return .consumerGone }
        }
    }

    /// Runs one attempt and reports its outcome to ``StreamingTool/onAttempt`` (not when the
    /// consumer went away).
    func observed(_ target: StreamTarget, synchronous: Bool, _ attempt: () async -> Outcome) async -> Outcome {
        let start = ContinuousClock.now
        let outcome = await attempt()
        guard let onAttempt = tool.onAttempt else { return outcome }
        let duration = ContinuousClock.now - start
        switch outcome {
        case .completed:
            await onAttempt(StreamAttemptReport(model: target.endpoint.name, provider: target.endpoint.provider,
                                                synchronous: synchronous, duration: duration, error: nil))
        case .failed(let error):
            // A call cut short because its consumer went away says nothing about the provider:
            // reporting it would open breakers whenever clients leave mid-stream.
            if Task.isCancelled || error is CancellationError { break }
            await onAttempt(StreamAttemptReport(model: target.endpoint.name, provider: target.endpoint.provider,
                                                synchronous: synchronous, duration: duration, error: error))
        case .consumerGone:
            break
        }
        return outcome
    }

    func isTotalTimeout(_ error: any Error, clock: StreamClock) -> Bool {
        clock.elapsed() >= total
    }

    /// A synchronous call is worth it when streaming itself may be the problem, not the
    /// request, the key, or the provider's capacity.
    static func synchronousFallbackMayHelp(_ error: any Error) -> Bool {
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
