import Fleet
import FleetSupport
import Foundation
import HTTPTypes
import Hummingbird
import Synchronization

/// v1.0.4's `api.rateLimit`: at most `max` requests per client address per `windowMs` window
/// (fixed windows). Over the limit: 429 with Retry-After until the window ends. `max: 0` is off.
/// Health, readiness and metrics are never limited. The client address is the TCP peer's, or the
/// one a proxy of `api.trustedProxies` forwarded (``ClientAddressMiddleware``), so clients behind
/// a reverse proxy are counted apart. A virtual key's own `rpm` is counted per key, after this
/// (``APIAuthMiddleware``).
/// The limits are read on every request, so a reload's new `api.rateLimit` applies at once.
struct RateLimitMiddleware<Context: ClientAddressRequestContext>: RouterMiddleware {
    let api: LiveSetting<APISection>
    private let windows = RateWindows()

    init(api: LiveSetting<APISection>) {
        self.api = api
    }

    static var exempt: Set<String> { ["/health", "/healthz", "/readyz", "/metrics"] }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let limit = api.value.rateLimit
        let max = limit.max, window = Duration.milliseconds(limit.windowMs)
        guard max > 0, !Self.exempt.contains(request.uri.path) else { return try await next(request, context) }
        let client = context.clientAddress ?? context.remoteAddress?.ipAddress ?? "unknown"
        if let retryAfter = windows.admit(client, now: .now, window: window, max: max) {
            var error = APIError(.tooManyRequests, code: "RATE_LIMITED",
                                 message: "more than \(max) requests in \(window) from \(client); see api.rateLimit")
            error.headers[.retryAfter] = String(retryAfter)
            // The compatible endpoints answer in their client's dialect, so its SDK raises RateLimitError.
            if let dialect = CompatDialect(path: request.uri.path) { throw CompatError(dialect, api: error) }
            // An MCP client shows a JSON-RPC error's message.
            if MCPHTTPError.applies(to: request.uri.path) { throw await MCPHTTPError.refusing(request, with: error) }
            throw error
        }
        return try await next(request, context)
    }
}

/// Request counts per client in the current window. A `Mutex` around a dictionary: the check is
/// a few instructions on every request, so an actor hop would cost more than the work.
final class RateWindows: Sendable {
    private struct Window {
        var start: ContinuousClock.Instant
        var count: Int
    }

    private let state = Mutex<[String: Window]>([:])

    /// Counts the request; returns the seconds to wait when it is over the limit.
    func admit(_ client: String, now: ContinuousClock.Instant, window: Duration, max: Int) -> Int? {
        state.withLock { windows in
            if windows.count > 100_000 {
                windows = windows.filter { now - $0.value.start < window }
            }
            var current = windows[client] ?? Window(start: now, count: 0)
            if now - current.start >= window { current = Window(start: now, count: 0) }
            current.count += 1
            windows[client] = current
            guard current.count > max else { return nil }
            let remaining = window - (now - current.start)
            return Swift.max(1, Int(remaining.components.seconds) + (remaining.components.attoseconds > 0 ? 1 : 0))
        }
    }
}
