import FleetSupport

/// A model provider's wire protocol: one implementation per protocol family.
///
/// `stream` returns an ``ProviderEventStream`` that pulls from the HTTP body only when
/// its consumer asks for the next event, so a consumer that stops reading stops the socket.
public protocol ProviderClient: Sendable {
    /// The protocol family.
    var kind: ProviderKind { get }
    /// One whole answer. `cancellation` stops the call from outside the calling task, as for
    /// ``stream(_:cancellation:)``: the wait for the answer then throws `CancellationError`.
    func complete(_ request: ProviderRequest, cancellation: CancellationSignal?) async throws -> ProviderResponse
    /// The answer as it is generated. Errors before the first byte of body (status, network)
    /// are thrown here; errors after that are thrown by the stream's iterator.
    ///
    /// `cancellation` stops the call from outside the calling task: a wait for the answer's head
    /// here, or for its next event in the stream, then throws `CancellationError` (as cancelling
    /// the calling task does). Every client must honour it: the streaming tool's watchdog stops a
    /// call with it, in the task that reads the stream, rather than in a task of the call's own.
    func stream(_ request: ProviderRequest, cancellation: CancellationSignal?) async throws -> ProviderEventStream
}

extension ProviderClient {
    /// One whole answer, stopped only by cancelling the calling task.
    public func complete(_ request: ProviderRequest) async throws -> ProviderResponse {
        try await complete(request, cancellation: nil)
    }

    /// The answer as it is generated, stopped only by cancelling the calling task.
    public func stream(_ request: ProviderRequest) async throws -> ProviderEventStream {
        try await stream(request, cancellation: nil)
    }
}
