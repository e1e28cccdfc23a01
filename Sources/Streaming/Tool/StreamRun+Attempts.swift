import FleetSupport
import Foundation
import Providers

extension StreamRun {
    /// One streaming call, in the producer's own task. The watchdog stops it with a cancellation
    /// signal, which every provider client honours at each wait (the answer's head, the next piece
    /// of its body), so no task is started per attempt only to have one to cancel: that task's
    /// memory stayed beside every open stream (docs/performance.md, "One task less per stream").
    func streamAttempt(target: StreamTarget, clock: StreamClock) async -> Outcome {
        accumulator.resetUndelivered()
        let watchdog = StreamWatchdog(clock: clock, totalDeadline: total, maxSleep: idleTimeout)
        watchdog.arm(after: firstChunkTimeout, kind: .firstChunk)
        let stop = CancellationSignal()
        watchdog.start { _ in stop.cancel() }
        let outcome = await pull(target: target, watchdog: watchdog, stop: stop)
        watchdog.stop()
        return verdict(outcome, watchdog: watchdog, target: target)
    }

    /// One synchronous call, bounded by the total deadline, in the producer's own task as a
    /// streamed one is: the watchdog stops it with the signal.
    func syncAttempt(target: StreamTarget, clock: StreamClock) async -> Outcome {
        accumulator.resetUndelivered()
        let watchdog = StreamWatchdog(clock: clock, totalDeadline: total, maxSleep: idleTimeout)
        watchdog.pause()
        let stop = CancellationSignal()
        watchdog.start { _ in stop.cancel() }
        let outcome = await answer(target: target, stop: stop)
        watchdog.stop()
        return verdict(outcome, watchdog: watchdog, target: target)
    }

    /// Asks for the whole answer and delivers it, until `stop` (the watchdog) or the producer's
    /// cancellation (the consumer left) ends the call.
    private func answer(target: StreamTarget, stop: CancellationSignal) async -> Outcome {
        // Stopped before it is asked for (its time was up, or the consumer left): the call is not
        // made (the provider clients make none either), so nothing was accepted to bill.
        if Task.isCancelled || stop.isCancelled { return .failed(CancellationError()) }
        do {
            let response = try await target.client.complete(request(for: target), cancellation: stop)
            accumulator.state.withLock { $0.attemptAccepted = true }
            if Task.isCancelled || stop.isCancelled { return .failed(CancellationError()) }
            accumulator.state.withLock {
                $0.finishReason = response.finishReason
                $0.usage = response.usage
            }
            for (index, call) in response.toolCalls.enumerated() {
                accumulator.add(ToolCallDelta(index: index, id: call.id, name: call.name, argumentsFragment: call.arguments))
            }
            // In the answer's order when it has thinking, else its text.
            var thinkingIndex = 0
            for block in response.content {
                if case .text(let text) = block {
                    if !text.isEmpty { guard await deliver(text, target: target) else { return .consumerGone } }
                    continue
                }
                for delta in ThinkingDelta.deltas(telling: block, index: thinkingIndex) {
                    guard await deliverThinking(delta) else { return .consumerGone }
                }
                thinkingIndex += 1
            }
            if response.content.isEmpty, !response.text.isEmpty {
                guard await deliver(response.text, target: target) else { return .consumerGone }
            }
            return .completed(model: target, synchronous: true)
        } catch {
            if Task.isCancelled || stop.isCancelled {
                // Cut by a deadline or a caller that left while the request was out: a
                // non-streamed answer's head comes only once the whole answer is generated,
                // so the provider took the call and bills it, and nothing says for how much.
                accumulator.state.withLock {
                    $0.attemptAccepted = true
                    $0.attemptAnswerUnseen = true
                }
            }
            return .failed(error)
        }
    }

    /// An attempt's outcome once its watchdog stopped: the timeout when a deadline passed and cut
    /// it short; an answer that completed wins over a deadline that passed at the same moment.
    private func verdict(_ outcome: Outcome, watchdog: StreamWatchdog, target: StreamTarget) -> Outcome {
        if case .completed = outcome { return outcome }
        if let kind = watchdog.fired {
            return .failed(StreamingError(.timeout, "\(target.endpoint.name): \(kind.rawValue) within its time limit"))
        }
        return outcome
    }

    /// Reads the provider's stream into the output buffer, until it ends or `stop` (the
    /// watchdog) or the producer's cancellation (the consumer left) ends the call.
    private func pull(target: StreamTarget, watchdog: StreamWatchdog, stop: CancellationSignal) async -> Outcome {
        do {
            // Only the iterator is kept: it lets the call's lane lease go when the body ends.
            var iterator = try await send(to: target, stop: stop).events().makeAsyncIterator()
            accumulator.state.withLock { $0.attemptAccepted = true } // a success status: the provider bills from here
            while let event = try await iterator.next() {
                if let delivery = absorb(event, watchdog: watchdog) {
                    // Waiting for a slow consumer to take it is not the provider's idling.
                    watchdog.pause()
                    guard await send(delivery, target: target) else { return .consumerGone }
                    watchdog.arm(after: idleTimeout, kind: .idle)
                }
                // A deadline that passed while the consumer held the producer back ends the call here.
                if Task.isCancelled || stop.isCancelled { return .failed(CancellationError()) }
            }
            return .completed(model: target, synchronous: false)
        } catch {
            return .failed(error)
        }
    }

    /// Sends the call to `target` (synchronous and out of line: its request, 352 bytes, never
    /// sits in the frames the producer keeps while the stream is open).
    @inline(never)
    private func send(to target: StreamTarget, stop: CancellationSignal) throws -> SentStream {
        try target.client.send(streaming: request(for: target), cancellation: stop)
    }

    /// What a provider event asks the consumer to be told, if anything.
    enum Delivery {
        case text(String)
        case thinking(ThinkingDelta)
        case invalidChunk(reason: String)
    }

    /// Takes in what a provider event says without telling the consumer, and returns what it
    /// must be told. Out of line and without a suspension: a `switch` over the event in ``pull``
    /// took a slot of the event's size per case in the frame the producer keeps while the
    /// stream is open.
    @inline(never)
    private func absorb(_ event: ProviderEvent, watchdog: StreamWatchdog) -> Delivery? {
        switch event {
        case .textDelta(let text):
            if let reason = tool.chunkValidator(text) { return .invalidChunk(reason: reason) }
            return .text(text)
        case .toolCallDelta(let delta):
            accumulator.add(delta)
            watchdog.arm(after: idleTimeout, kind: .idle)
        case .finish(let reason):
            accumulator.state.withLock { $0.finishReason = reason }
        case .usage(let usage):
            accumulator.state.withLock { $0.usage = usage }
        case .invalidChunk(let reason):
            return .invalidChunk(reason: reason)
        case .thinking(let delta):
            return .thinking(delta)
        }
        return nil
    }

    /// Tells the consumer. `false` when the consumer is gone.
    @inline(never)
    private func send(_ delivery: Delivery, target: StreamTarget) async -> Bool {
        switch delivery {
        case .text(let text): await deliver(text, target: target)
        case .thinking(let delta): await deliverThinking(delta)
        case .invalidChunk(let reason): await discard(reason, target: target)
        }
    }

    /// Sends a chunk (and a progress event every few chunks). `false` when the consumer is gone.
    func deliver(_ text: String, target: StreamTarget) async -> Bool {
        let sequence = accumulator.appendText(text)
        guard await output.send(.chunk(StreamChunk(streamId: streamId, sequence: sequence, text: text))) else { return false }
        let chunks = sequence + 1
        if chunks % tool.progressInterval == 0 {
            let tokens = accumulator.state.withLock { $0.approximateTokens }
            return await output.send(.progress(StreamProgress(streamId: streamId, chunks: chunks, tokensSoFar: tokens)))
        }
        return true
    }

    /// Sends a piece of thinking. `false` when the consumer is gone.
    func deliverThinking(_ delta: ThinkingDelta) async -> Bool {
        accumulator.appendThinking(delta)
        return await output.send(.thinking(delta))
    }

    /// Reports a discarded chunk (STREAM_003, not terminal).
    private func discard(_ reason: String, target: StreamTarget) async -> Bool {
        accumulator.state.withLock { $0.discarded += 1 }
        logger(target).notice("discarded an invalid chunk", metadata: ["stream": "\(streamId)", "reason": "\(reason)"])
        let error = StreamingError(.chunkValidationFailed, "\(target.endpoint.name): \(reason)")
        return await output.send(.error(StreamFailure(error, terminal: false, model: target.endpoint.name)))
    }

    /// Sends `complete` and records the session.
    func complete(_ session: Indirect<StreamSessionRecord>, target: StreamTarget, synchronous: Bool, clock: StreamClock) async {
        let snapshot = accumulator.state.withLock { $0 }
        let tokens = snapshot.usage?.totalTokens
            ?? BuiltinProvider.approximateTokens(snapshot.text) + BuiltinProvider.approximateTokens(request.messages.map(\.content).joined())
        let metadata = StreamResultMetadata(
            streamId: streamId, model: target.endpoint.name, provider: target.endpoint.provider,
            totalChunks: snapshot.chunks, totalTokens: tokens, duration: clock.elapsed(), attempts: snapshot.attempts,
            synchronous: synchronous, synchronousFallback: synchronous && snapshot.streamFailed, discardedChunks: snapshot.discarded, backpressureEvents: output.backpressureEvents
        )
        let result = StreamResult(
            text: snapshot.text, toolCalls: accumulator.toolCalls, finishReason: snapshot.finishReason,
            usage: snapshot.usage, metadata: metadata, content: StreamAccumulator.content(of: snapshot)
        )
        // Records first, so they are in the store by the time the consumer sees `complete`.
        var ended = session.value
        ended.model = target.endpoint.name
        ended.provider = target.endpoint.provider
        await end(ended, state: .completed, code: nil)
        if let recorder = tool.recorder {
            do { try await recorder.recordMetadata(metadata) } catch {
                tool.logger.warning("could not record stream metadata", metadata: ["stream": "\(streamId)", "error": "\(error)"])
            }
        }
        _ = await output.send(.complete(result))
        output.finish()
    }

    func end(_ session: StreamSessionRecord, state: StreamSessionRecord.State, code: ErrorCode?) async {
        var ended = session
        ended.state = state
        ended.endedAt = tool.wallClock.now
        ended.errorCode = code
        ended.chunks = accumulator.state.withLock { $0.chunks }
        if state == .cancelled { output.finish() }
        await record(ended)
    }

    func record(_ session: StreamSessionRecord) async {
        guard let recorder = tool.recorder else { return }
        do { try await recorder.recordSession(session) } catch { couldNotRecordSession(error) }
    }

    /// Logged out of line, as ``begin()`` explains.
    @inline(never)
    private func couldNotRecordSession(_ error: any Error) {
        tool.logger.warning("could not record stream session", metadata: ["stream": "\(streamId)", "error": "\(error)"])
    }
}
