import DequeModule
import FleetSupport
import NIOCore

/// Turns a provider's response body bytes into normalised events.
protocol ProviderStreamDecoder: Sendable {
    /// Appends the events completed by these bytes. Throws ``ProviderError`` for an error the
    /// provider sent in the stream; events appended before the error are kept and delivered first.
    mutating func decode(_ buffer: ByteBuffer, into out: inout [ProviderEvent]) throws
    /// Called once when the body ended cleanly: the last events (finish reason, usage), or an
    /// error when the stream stopped before the provider said it was done.
    mutating func finish() throws -> [ProviderEvent]
}

/// The events of one streaming model answer.
///
/// Pull-based: the iterator reads the next piece of the HTTP body only when its buffered events
/// are used up, so no bytes are read ahead of the consumer (real TCP backpressure). Iterate it once.
public struct ProviderEventStream: AsyncSequence, Sendable {
    public typealias Element = ProviderEvent

    enum Source: Sendable {
        case http(body: StreamedBody, decoder: any ProviderStreamDecoder, provider: ProviderKind, secret: String?, lease: ProviderHTTPLease?)
        case stream(AsyncThrowingStream<ProviderEvent, any Error>)
    }

    let source: Source

    /// `lease`: the call's count on its client (``ProviderHTTPClients``), held until the body ends
    /// or the stream is dropped.
    init(body: StreamedBody, decoder: any ProviderStreamDecoder, provider: ProviderKind, secret: String?, lease: ProviderHTTPLease?) {
        source = .http(body: body, decoder: decoder, provider: provider, secret: secret, lease: lease)
    }

    /// A stream of events from any source, e.g. a tool that is not an HTTP provider.
    /// Use `AsyncThrowingStream(unfolding:)` to keep it pull-based.
    public init(_ stream: AsyncThrowingStream<ProviderEvent, any Error>) {
        source = .stream(stream)
    }

    /// A stream of fixed events (tests, the built-in responder).
    public init(events: [ProviderEvent]) {
        let (stream, continuation) = AsyncThrowingStream<ProviderEvent, any Error>.makeStream()
        for event in events { continuation.yield(event) }
        continuation.finish()
        source = .stream(stream)
    }

    public func makeAsyncIterator() -> AsyncIterator {
        switch source {
        case .http(let body, let decoder, let provider, let secret, let lease):
            AsyncIterator(kind: .http(body, decoder), provider: provider, secret: secret, lease: lease)
        case .stream(let stream):
            AsyncIterator(kind: .stream(stream.makeAsyncIterator()), provider: .builtin, secret: nil)
        }
    }

    /// Iterates the events; each `next()` reads at most one more piece of the body.
    public struct AsyncIterator: AsyncIteratorProtocol {
        enum Kind {
            case http(StreamedBody, any ProviderStreamDecoder)
            case stream(AsyncThrowingStream<ProviderEvent, any Error>.AsyncIterator)
            /// Placeholder while the real state is taken out to be mutated (avoids copy-on-write).
            case moving
        }

        var kind: Kind
        let provider: ProviderKind
        let secret: String?
        var pending = Deque<ProviderEvent>()
        var ended = false
        /// A provider error met while decoding, thrown once the events before it are delivered.
        var deferredError: (any Error)?
        /// Body bytes read so far.
        public private(set) var bytesRead = 0
        /// The HTTP call's count on its client, dropped when the body ends.
        var lease: ProviderHTTPLease?

        init(kind: Kind, provider: ProviderKind, secret: String?, lease: ProviderHTTPLease? = nil) {
            self.kind = kind
            self.provider = provider
            self.secret = secret
            self.lease = lease
        }

        /// The awaiting part is kept small and the rest is out of line: a streamed task's producer
        /// waits in here for as long as its stream is open, and the frame it waits in stays
        /// allocated beside the stream (docs/performance.md, "Memory per open stream, again").
        public mutating func next() async throws -> ProviderEvent? {
            while pending.isEmpty {
                if let error = deferredError {
                    deferredError = nil
                    throw error
                }
                if ended { return nil }
                switch kind {
                case .moving:
                    return nil
                case .stream:
                    return try await nextFromStream()
                case .http(let body, _):
                    let buffer: ByteBuffer?
                    do {
                        buffer = try await body.next()
                    } catch {
                        throw bodyFailure(error)
                    }
                    decode(buffer)
                }
            }
            return pending.popFirst()
        }

        @inline(never)
        private mutating func nextFromStream() async throws -> ProviderEvent? {
            guard case .stream(var iterator) = kind else { return nil }
            kind = .moving
            defer { kind = .stream(iterator) }
            let event = try await iterator.next()
            if event == nil { ended = true }
            return event
        }

        /// The body's read failed: the stream is over, with the error to throw.
        @inline(never)
        private mutating func bodyFailure(_ error: any Error) -> any Error {
            ended = true
            lease = nil
            if error is CancellationError || Task.isCancelled { return CancellationError() }
            return ProviderErrorClassifier.transport(error, provider: provider, secret: secret)
        }

        /// Decodes a piece of the body (`nil`: its end) into ``pending``.
        @inline(never)
        private mutating func decode(_ buffer: ByteBuffer?) {
            guard case .http(let body, var decoder) = kind else { return }
            kind = .moving
            defer { kind = .http(body, decoder) }
            var produced: [ProviderEvent] = []
            do {
                if let buffer {
                    bytesRead += buffer.readableBytes
                    try decoder.decode(buffer, into: &produced)
                } else {
                    ended = true
                    produced = try decoder.finish()
                }
            } catch {
                ended = true
                deferredError = error
            }
            if ended { lease = nil }
            pending.append(contentsOf: produced)
        }
    }
}
