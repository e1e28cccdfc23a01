import FleetSupport

/// A streamed call that was sent (``ProviderClient/send(streaming:cancellation:)``) and whose
/// answer is not read yet: ``events()`` waits for its head and returns its events.
///
/// A class whose parts ``events()`` reads where it needs them: its frame, which waits for the
/// answer's head on the chain a stream's producer keeps, then holds one reference, not copies of
/// the call's parts.
public final class SentStream: Sendable {
    private let http: ProviderHTTP?
    private let pending: ProviderHTTP.PendingStream?
    private let decoder: (any ProviderStreamDecoder)?
    private let provider: ProviderKind
    private let cancellation: CancellationSignal?
    private let ready: ProviderEventStream?

    init(http: ProviderHTTP, pending: ProviderHTTP.PendingStream, decoder: any ProviderStreamDecoder, provider: ProviderKind,
         cancellation: CancellationSignal?) {
        self.http = http
        self.pending = pending
        self.decoder = decoder
        self.provider = provider
        self.cancellation = cancellation
        self.ready = nil
    }

    /// A call whose events are all known already (the built-in responder).
    public init(ready events: ProviderEventStream) {
        http = nil
        pending = nil
        decoder = nil
        provider = .builtin
        cancellation = nil
        ready = events
    }

    /// The answer's events, once its head came with a 2xx status. Errors before the first byte
    /// of body (the status, the network) are thrown here; later ones by the stream's iterator.
    public func events() async throws -> ProviderEventStream {
        if let ready { return ready }
        // Read in place, not bound to locals (a copy of each would sit in this frame); both are
        // set by the HTTP initializer, the only one that leaves `ready` nil.
        try await http!.streamedAnswer(pending!, cancellation: cancellation)
        return answered()
    }

    /// The events of the answer whose head ``events()`` saw.
    @inline(never)
    private func answered() -> ProviderEventStream {
        // Both set together by the HTTP initializer, the only one that leaves `ready` nil.
        ProviderEventStream(body: pending!.body, decoder: decoder!, provider: provider, secret: http?.secret, lease: pending!.lease)
    }
}
