import Fleet
import FleetSupport
import Hummingbird

/// A request context that carries the client's address, as ``ClientAddressMiddleware`` found it.
protocol ClientAddressRequestContext: RemoteAddressRequestContext {
    /// The TCP peer's address, or the client's that a trusted proxy forwarded (``TrustedProxies``);
    /// `nil` before ``ClientAddressMiddleware`` runs, or when the peer is unknown (in-process tests).
    var clientAddress: String? { get set }
}

/// Finds the client's address once per request, before anything reads it (the request log, the
/// rate limit, the flag change log): the peer's, or the one forwarded by `api.trustedProxies`.
/// The setting is read on every request, so a reload's new list applies at once.
struct ClientAddressMiddleware<Context: ClientAddressRequestContext>: RouterMiddleware {
    let api: LiveSetting<APISection>

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        let proxies = TrustedProxies(api.value.trustedProxies)
        context.clientAddress = proxies.clientAddress(peer: context.remoteAddress?.ipAddress, headers: request.headers)
        return try await next(request, context)
    }
}
