import FleetSupport

/// A model provider's wire protocol: one implementation per protocol family.
///
/// `stream` returns an ``ProviderEventStream`` that pulls from the HTTP body only when
/// its consumer asks for the next event, so a consumer that stops reading stops the socket.
public protocol ProviderClient: Sendable {
    /// The protocol family.
    var kind: ProviderKind { get }
    /// One whole answer.
    func complete(_ request: ProviderRequest) async throws -> ProviderResponse
    /// The answer as it is generated. Errors before the first byte of body (status, network)
    /// are thrown here; errors after that are thrown by the stream's iterator.
    func stream(_ request: ProviderRequest) async throws -> ProviderEventStream
}
