import Foundation
import HTTPTypes
import Hummingbird
import Store

/// Guards the routes that run or reveal work: authenticates the request (``Authenticator``),
/// holds a virtual key to its requests- and tokens-per-minute limits (429 with Retry-After), and
/// puts the caller in `context.caller` and its label in the request's log lines.
///
/// `fullAccessOnly` routes (`/metrics`: fleet-wide figures) refuse tenant callers with 403.
struct APIAuthMiddleware<Context: RequestContext & AuthenticatedRequestContext>: RouterMiddleware {
    let authenticator: Authenticator
    let limiter: CallerRateLimiter
    /// Whether the cost ledger is on (key budgets and token limits rest on it).
    let ledgerEnabled: @Sendable () async -> Bool
    /// A key's tokens answered but not yet in the ledger (settlements written behind the answer),
    /// counted with the ledger's toward its `tpm`.
    var pendingTokens: @Sendable (_ keyId: String, _ since: Date) async -> (tokens: Int, oldest: Date?) = { _, _ in (0, nil) }
    var fullAccessOnly = false

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let admitted: Context
        do {
            admitted = try await admit(request, context: context)
        } catch let error as APIError {
            // An MCP client shows a JSON-RPC error's message; fleetd's REST shape it cannot read.
            if MCPHTTPError.applies(to: request.uri.path) { throw await MCPHTTPError.refusing(request, with: error) }
            throw Self.dialected(error, path: request.uri.path)
        }
        do {
            return try await next(request, admitted)
        } catch let error as APIError {
            throw Self.dialected(error, path: request.uri.path)
        }
    }

    /// The compatible endpoints answer in their client's dialect, so its SDK raises its own
    /// AuthenticationError, PermissionDeniedError or RateLimitError.
    private static func dialected(_ error: APIError, path: String) -> any Error {
        guard let dialect = CompatDialect(path: path) else { return error }
        return error.status == .unauthorized ? CompatError.unauthorized(dialect, error.message) : CompatError(dialect, api: error)
    }

    private func admit(_ request: Request, context: Context) async throws -> Context {
        var context = context
        let caller = try await authenticator.authenticate(request.headers)
        if fullAccessOnly, !caller.seesAllTenants {
            throw APIError(.forbidden, code: "FORBIDDEN", message: "\(caller.label) may not read fleet-wide figures; use the admin token or API_KEY")
        }
        if caller.kind != .open {
            context.logger[metadataKey: "caller"] = .string(caller.label)
        }
        if let keyId = caller.keyId, let limits = caller.limits {
            // On /mcp the session's plumbing (initialize, notifications, its GET stream, DELETE)
            // is not work: each `tools/call` counts instead (``MCPHTTPRoutes``).
            try await enforce(limits, keyId: keyId, label: caller.label, countRequest: !MCPHTTPError.applies(to: request.uri.path))
        }
        context.caller = caller
        return context
    }

    private func enforce(_ limits: APIKeyLimits, keyId: String, label: String, countRequest: Bool) async throws {
        if limits.budget.isLimited || limits.tokensPerMinute != nil, !(await ledgerEnabled()) {
            throw APIError(.serviceUnavailable, code: "KEY_LIMITS_UNENFORCEABLE",
                           message: "\(label) has a budget or a token limit but routing.costTracking is off, so fleetd cannot hold it to them; the request is refused")
        }
        if countRequest, let rpm = limits.requestsPerMinute {
            try await KeyRequestCounter(keys: authenticator.keys, limiter: limiter).count(keyId: keyId, rpm: rpm, label: label)
        }
        if let tpm = limits.tokensPerMinute {
            let now = Date()
            let since = now.addingTimeInterval(-60)
            var used: (tokens: Int, oldest: Date?)
            do {
                used = try await authenticator.keys.tokensUsed(keyId: keyId, since: since)
                let pending = await pendingTokens(keyId, since)
                used = (used.tokens + pending.tokens, [used.oldest, pending.oldest].compactMap { $0 }.min())
            } catch {
                throw APIError(.serviceUnavailable, code: "AUTH_UNAVAILABLE", message: "the key's token use cannot be read now; try again")
            }
            if used.tokens >= tpm {
                let free = used.oldest.map { $0.addingTimeInterval(60).timeIntervalSince(now) } ?? 1
                var error = APIError(.tooManyRequests, code: "RATE_LIMITED",
                                     message: "\(label) used \(used.tokens) tokens in the last minute, at or over its tpm of \(tpm)")
                error.headers[.retryAfter] = String(max(1, Int(free.rounded(.up))))
                throw error
            }
        }
    }
}

/// Counts a request against a virtual key's `rpm`: in the shared store when keys are shared (every
/// instance's requests count against the one rpm), else in this process.
struct KeyRequestCounter: Sendable {
    let keys: APIKeyStore
    let limiter: CallerRateLimiter

    /// Counts one request of `caller` (nothing for a caller without a key or an rpm); over the
    /// rpm, a 429 with Retry-After.
    func count(_ caller: Caller?) async throws {
        guard let caller, let keyId = caller.keyId, let rpm = caller.limits?.requestsPerMinute else { return }
        try await count(keyId: keyId, rpm: rpm, label: caller.label)
    }

    func count(keyId: String, rpm: Int, label: String) async throws {
        let wait: Int?
        if keys.isShared {
            do {
                wait = try await keys.admitRequest(keyId: keyId, perMinute: rpm)
            } catch {
                throw APIError(.serviceUnavailable, code: "AUTH_UNAVAILABLE", message: "the key's requests per minute cannot be counted now; try again")
            }
        } else {
            wait = limiter.admitRequest(keyId: keyId, perMinute: rpm)
        }
        if let wait {
            var error = APIError(.tooManyRequests, code: "RATE_LIMITED", message: "\(label) made more than \(rpm) requests in a minute (its rpm)")
            error.headers[.retryAfter] = String(wait)
            throw error
        }
    }
}

/// Requests per minute per virtual key, in fixed one-minute windows (in memory, per process).
final class CallerRateLimiter: Sendable {
    private let windows = RateWindows()

    /// Counts the request; the seconds to wait when it is over `perMinute`, else `nil`.
    func admitRequest(keyId: String, perMinute: Int) -> Int? {
        windows.admit("key:\(keyId)", now: .now, window: .seconds(60), max: perMinute)
    }
}
