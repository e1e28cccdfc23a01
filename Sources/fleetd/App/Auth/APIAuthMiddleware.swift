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
    var fullAccessOnly = false

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await admit(request, context: context, next: next)
        } catch let error as APIError {
            // The compatible endpoints answer in their client's dialect, so its SDK raises its own
            // AuthenticationError, PermissionDeniedError or RateLimitError.
            guard let dialect = CompatDialect(path: request.uri.path) else { throw error }
            throw error.status == .unauthorized ? CompatError.unauthorized(dialect, error.message) : CompatError(dialect, api: error)
        }
    }

    private func admit(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        let caller = try await authenticator.authenticate(request.headers)
        if fullAccessOnly, !caller.seesAllTenants {
            throw APIError(.forbidden, code: "FORBIDDEN", message: "\(caller.label) may not read fleet-wide figures; use the admin token or API_KEY")
        }
        if caller.kind != .open {
            context.logger[metadataKey: "caller"] = .string(caller.label)
        }
        if let keyId = caller.keyId, let limits = caller.limits {
            try await enforce(limits, keyId: keyId, label: caller.label)
        }
        context.caller = caller
        return try await next(request, context)
    }

    private func enforce(_ limits: APIKeyLimits, keyId: String, label: String) async throws {
        if limits.budget.isLimited || limits.tokensPerMinute != nil, !(await ledgerEnabled()) {
            throw APIError(.serviceUnavailable, code: "KEY_LIMITS_UNENFORCEABLE",
                           message: "\(label) has a budget or a token limit but routing.costTracking is off, so fleetd cannot hold it to them; the request is refused")
        }
        if let rpm = limits.requestsPerMinute {
            let keys = authenticator.keys
            let wait: Int?
            if keys.isShared {
                // Counted in the shared store: every instance's requests count against the one rpm.
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
        if let tpm = limits.tokensPerMinute {
            let now = Date()
            let used: (tokens: Int, oldest: Date?)
            do {
                used = try await authenticator.keys.tokensUsed(keyId: keyId, since: now.addingTimeInterval(-60))
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

/// Requests per minute per virtual key, in fixed one-minute windows (in memory, per process).
final class CallerRateLimiter: Sendable {
    private let windows = RateWindows()

    /// Counts the request; the seconds to wait when it is over `perMinute`, else `nil`.
    func admitRequest(keyId: String, perMinute: Int) -> Int? {
        windows.admit("key:\(keyId)", now: .now, window: .seconds(60), max: perMinute)
    }
}
