import FleetSupport

/// A streamed call that was sent (``ProviderClient/send(streaming:cancellation:)``) and whose
/// answer is not read yet: ``events()`` waits for its head and returns its events.
///
/// A class: ``events()``'s frame, which waits for the answer's head, then holds one reference,
/// not the call's parts.
public final class SentStream: Sendable {
    private enum State: Sendable {
        case http(ProviderHTTP, ProviderHTTP.PendingStream, decoder: any ProviderStreamDecoder, provider: ProviderKind,
                  cancellation: CancellationSignal?)
        case ready(ProviderEventStream)
    }

    private let state: State

    init(http: ProviderHTTP, pending: ProviderHTTP.PendingStream, decoder: any ProviderStreamDecoder, provider: ProviderKind,
         cancellation: CancellationSignal?) {
        state = .http(http, pending, decoder: decoder, provider: provider, cancellation: cancellation)
    }

    /// A call whose events are all known already (the built-in responder).
    public init(ready events: ProviderEventStream) {
        state = .ready(events)
    }

    /// The answer's events, once its head came with a 2xx status. Errors before the first byte
    /// of body (the status, the network) are thrown here; later ones by the stream's iterator.
    public func events() async throws -> ProviderEventStream {
        switch state {
        case .ready(let events):
            return events
        case .http(let http, let pending, let decoder, let provider, let cancellation):
            let (body, lease) = try await http.streamedAnswer(pending, cancellation: cancellation)
            return ProviderEventStream(body: body, decoder: decoder, provider: provider, secret: http.secret, lease: lease)
        }
    }
}
