import FleetSupport
import Foundation
import Logging
import Providers
import Synchronization

/// Wraps a provider call (or any ``ProviderClient``-shaped tool) with streaming, a bounded
/// buffer with backpressure, timeouts, retries and fallback.
///
/// - ``executeStreaming(_:targets:)`` returns the events as an `AsyncSequence`: `start`, `chunk`s
///   (with `progress` every few chunks), then `complete` or a terminal `error`.
/// - ``execute(_:targets:)`` returns the assembled result (or throws the terminal ``StreamFailure``).
///
/// Targets are tried in order (the router's choice, then its fallbacks). While another target
/// follows, a target gets one call: when it fails before output because the model cannot serve
/// now (429, 529, 5xx, no connection, a timeout) the next target is called at once, with no
/// backoff and no wait for Retry-After (the attempt report lets the router's breaker hold the
/// model out for its Retry-After); when streaming failed for a reason a synchronous call may not
/// share (a mid-stream error, an unreadable answer) one synchronous call follows first. The last
/// target (nothing else can serve) is retried with exponential backoff and jitter (a provider's
/// Retry-After wins when longer) while nothing has reached the consumer, unless the wait would end
/// past `timeoutMs` or the caller's time limit: then its failure (with the provider's Retry-After)
/// is the outcome at once. A model with `supportsStreaming: false` is called synchronously. Once a
/// chunk reached the consumer, a failure ends the stream with an `error` event: output is never
/// duplicated.
///
/// Timeouts (STREAM_002): no first chunk within `firstChunkTimeoutMs`, a gap longer than
/// `idleTimeoutMs` between chunks (time spent waiting for a slow consumer does not count), and
/// `timeoutMs` for the whole call including retries.
public struct StreamingTool: Sendable {
    /// What every call of this tool shares, held by reference: each call's run keeps the tool for
    /// as long as its stream is open, and these settings inline were 264 bytes of each open
    /// stream (docs/performance.md, "Memory per open stream").
    final class Settings: Sendable {
        let configuration: StreamingConfiguration
        let clock: any Clock<Duration>
        let wallClock: any WallClock
        let recorder: (any StreamSessionRecorder)?
        let logger: Logger
        let progressInterval: Int
        let random: @Sendable () -> Double
        let chunkValidator: @Sendable (String) -> String?

        init(configuration: StreamingConfiguration, clock: any Clock<Duration>, wallClock: any WallClock,
             recorder: (any StreamSessionRecorder)?, logger: Logger, progressInterval: Int, random: @escaping @Sendable () -> Double,
             chunkValidator: @escaping @Sendable (String) -> String?) {
            self.configuration = configuration
            self.clock = clock
            self.wallClock = wallClock
            self.recorder = recorder
            self.logger = logger
            self.progressInterval = progressInterval
            self.random = random
            self.chunkValidator = chunkValidator
        }
    }

    let settings: Settings
    public var configuration: StreamingConfiguration { settings.configuration }
    var clock: any Clock<Duration> { settings.clock }
    var wallClock: any WallClock { settings.wallClock }
    var recorder: (any StreamSessionRecorder)? { settings.recorder }
    var logger: Logger { settings.logger }
    var progressInterval: Int { settings.progressInterval }
    var random: @Sendable () -> Double { settings.random }
    var chunkValidator: @Sendable (String) -> String? { settings.chunkValidator }
    /// Called after every attempt with its outcome (not for attempts the consumer cancelled).
    public var onAttempt: (@Sendable (StreamAttemptReport) async -> Void)?
    /// Called before every attempt, ahead of the caller's hooks: a failure skips the target (a
    /// provider quota shared by several instances admits each call before it is made).
    public var admitAttempt: (@Sendable (StreamTarget) async -> StreamFailure?)?
    /// Asked before the first call to a fallback (any target after the first) that is not the
    /// last: `false` skips it for the next one (its breaker opened while the run went on). The
    /// first target holds its slot from the selection; the last is always tried.
    public var admitFallback: (@Sendable (StreamTarget) -> Bool)?

    /// - Parameters:
    ///   - clock: measures timeouts and backoff; inject a test clock or use short real durations in tests.
    ///   - wallClock: dates in start metadata and session records.
    ///   - recorder: where session state and metadata go (`streaming/sessions`, `streaming/metadata`).
    ///   - progressInterval: a `progress` event every this many chunks.
    ///   - random: jitter source in [0, 1).
    ///   - chunkValidator: returns why a chunk is invalid (STREAM_003: it is discarded), or nil.
    ///     The default rejects chunks holding NUL or longer than 1 MiB.
    public init(
        configuration: StreamingConfiguration = StreamingConfiguration(),
        clock: any Clock<Duration> = ContinuousClock(),
        wallClock: any WallClock = SystemWallClock(),
        recorder: (any StreamSessionRecorder)? = nil,
        logger: Logger = Logger(label: "fleetd.streaming"),
        progressInterval: Int = 10,
        random: @escaping @Sendable () -> Double = { Double.random(in: 0..<1) },
        chunkValidator: @escaping @Sendable (String) -> String? = StreamingTool.defaultChunkValidator
    ) {
        settings = Settings(configuration: configuration, clock: clock, wallClock: wallClock, recorder: recorder, logger: logger,
                            progressInterval: max(1, progressInterval), random: random, chunkValidator: chunkValidator)
    }

    /// Rejects a chunk holding NUL or longer than 1 MiB.
    public static let defaultChunkValidator: @Sendable (String) -> String? = { text in
        if text.utf8.count > 1 << 20 { return "chunk longer than 1 MiB (\(text.utf8.count) bytes)" }
        if text.utf8.contains(0) { return "chunk holds a NUL character" }
        return nil
    }

    /// Streams the answer of the first target that gives one.
    /// - Parameter timeLimit: the time the caller allows from now (e.g. a task's remaining time);
    ///   no retry of the last target waits past it (nor past `timeoutMs`). `nil`: `timeoutMs` only.
    /// - Parameter hooks: what the caller does around each call to a model (reserve, bill).
    public func executeStreaming(_ request: ProviderRequest, targets: [StreamTarget], timeLimit: Duration? = nil,
                                 hooks: CallHooks? = nil) -> StreamingSession {
        executeStreaming(Indirect(request), targets: targets, timeLimit: timeLimit, hooks: hooks)
    }

    /// ``executeStreaming(_:targets:timeLimit:hooks:)`` with the request held by reference: a
    /// caller that keeps the request for as long as the call lasts (a task's run) shares it with
    /// the call rather than each holding a 352-byte copy beside every open stream.
    public func executeStreaming(_ request: Indirect<ProviderRequest>, targets: [StreamTarget], timeLimit: Duration? = nil,
                                 hooks: CallHooks? = nil) -> StreamingSession {
        let buffer = BackpressureBuffer<StreamEvent>(capacity: configuration.bufferSize, threshold: configuration.backpressureThreshold)
        let run = StreamRun(tool: self, request: request, targets: targets, output: buffer, timeLimit: timeLimit, hooks: hooks)
        return StreamingSession(buffer: buffer) { await run.run() }
    }

    /// The assembled answer of the first target that gives one.
    /// - Throws: the terminal ``StreamFailure``.
    public func execute(_ request: ProviderRequest, targets: [StreamTarget], timeLimit: Duration? = nil) async throws -> StreamResult {
        for try await event in executeStreaming(request, targets: targets, timeLimit: timeLimit) {
            switch event {
            case .complete(let result): return result
            case .error(let failure) where failure.terminal: throw failure
            default: continue
            }
        }
        throw CancellationError()
    }
}

extension StreamFailure: Error {}

/// The events of one streamed call. Iterate it once; the call starts when iteration starts and
/// is cancelled when the iterator is dropped or the iterating task is cancelled.
public struct StreamingSession: AsyncSequence, Sendable {
    public typealias Element = StreamEvent
    let buffer: BackpressureBuffer<StreamEvent>
    let body: @Sendable () async -> Void

    init(buffer: BackpressureBuffer<StreamEvent>, body: @escaping @Sendable () async -> Void) {
        self.buffer = buffer
        self.body = body
    }

    /// How many times reading from the provider paused for the consumer (so far).
    public var backpressureEvents: Int { buffer.backpressureEvents }
    /// The most events ever buffered at once (never above the high watermark).
    public var peakBufferDepth: Int { buffer.peakDepth }

    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(handle: Handle(buffer: buffer, body: body))
    }

    /// Cancels the producer when the last copy of the iterator goes away.
    final class Handle: Sendable {
        let buffer: BackpressureBuffer<StreamEvent>
        let task: Task<Void, Never>

        init(buffer: BackpressureBuffer<StreamEvent>, body: @escaping @Sendable () async -> Void) {
            self.buffer = buffer
            self.task = ExecutorAffinity.task { await body() }
        }

        deinit {
            buffer.cancel()
            task.cancel()
        }
    }

    public struct AsyncIterator: AsyncIteratorProtocol {
        let handle: Handle

        /// The next event; `nil` after `complete` or a terminal `error`.
        public mutating func next() async -> StreamEvent? {
            (try? await handle.buffer.next()) ?? nil
        }

        /// A function that stops the call from any task: the producer is cancelled and ``next()``
        /// returns `nil`. It does not keep the iterator alive (dropping the iterator still cancels).
        public var canceller: @Sendable () -> Void {
            let buffer = handle.buffer, task = handle.task
            return {
                buffer.cancel()
                task.cancel()
            }
        }

        /// The next event if the producer has already buffered it; `nil` when none is waiting.
        public mutating func nextIfBuffered() -> StreamEvent? {
            handle.buffer.nextIfBuffered()
        }
    }
}
