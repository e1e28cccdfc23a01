import FleetSupport

/// A model provider's wire protocol: one implementation per protocol family.
///
/// `stream` returns a ``ProviderEventStream`` that pulls from the HTTP body only when
/// its consumer asks for the next event, so a consumer that stops reading stops the socket.
public protocol ProviderClient: Sendable {
    /// The protocol family.
    var kind: ProviderKind { get }
    /// One whole answer. `cancellation` stops the call from outside the calling task, as for
    /// ``stream(_:cancellation:)``: the wait for the answer then throws `CancellationError`.
    func complete(_ request: ProviderRequest, cancellation: CancellationSignal?) async throws -> ProviderResponse
    /// Sends a streamed call without waiting: ``SentStream/events()`` waits for the answer. The
    /// two steps of ``stream(_:cancellation:)``; the first is synchronous, so that the request
    /// (352 bytes) and its wire form never sit in an async frame, and the frames of a stream's
    /// producer stay allocated for as long as the stream is open (docs/performance.md, "Memory
    /// per open stream").
    ///
    /// `cancellation` stops the call from outside the calling task: a wait for the answer's head,
    /// or for its next event in the stream, then throws `CancellationError` (as cancelling the
    /// calling task does); a signal already cancelled makes no call. Every client must honour it:
    /// the streaming tool's watchdog stops a call with it, in the task that reads the stream,
    /// rather than in a task of the call's own.
    func send(streaming request: ProviderRequest, cancellation: CancellationSignal?) throws -> SentStream
}

extension ProviderClient {
    /// The answer as it is generated. Errors before the first byte of body (status, network)
    /// are thrown here; errors after that are thrown by the stream's iterator. `cancellation`
    /// as for ``send(streaming:cancellation:)``.
    public func stream(_ request: ProviderRequest, cancellation: CancellationSignal?) async throws -> ProviderEventStream {
        try await send(streaming: request, cancellation: cancellation).events()
    }

    /// One whole answer, stopped only by cancelling the calling task.
    public func complete(_ request: ProviderRequest) async throws -> ProviderResponse {
        try await complete(request, cancellation: nil)
    }

    /// The answer as it is generated, stopped only by cancelling the calling task.
    public func stream(_ request: ProviderRequest) async throws -> ProviderEventStream {
        try await stream(request, cancellation: nil)
    }
}
