import Foundation
import HTTPTypes
import Hummingbird

/// Guards admin routes: `Authorization: Bearer <token>` must match `FLEETD_ADMIN_TOKEN`.
/// Without a token configured the admin routes are off (403), never open.
struct AdminAuthMiddleware<Context: RequestContext>: RouterMiddleware {
    let token: String?

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let token, !token.isEmpty else {
            throw APIError(.forbidden, code: "ADMIN_DISABLED", message: "admin routes are off: set FLEETD_ADMIN_TOKEN to enable them")
        }
        guard let header = request.headers[.authorization], header.hasPrefix("Bearer "),
              Self.constantTimeEqual(Array(header.dropFirst("Bearer ".count).utf8), Array(token.utf8)) else {
            throw APIError(.unauthorized, code: "UNAUTHORIZED", message: "a valid 'Authorization: Bearer <token>' header is required")
        }
        return try await next(request, context)
    }

    /// Compares in time that depends only on the lengths, not on where the bytes differ.
    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var difference = UInt8(truncatingIfNeeded: a.count ^ b.count)
        for index in 0..<max(a.count, b.count) {
            let x = index < a.count ? a[index] : 0
            let y = index < b.count ? b[index] : 0
            difference |= x ^ y
        }
        return difference == 0
    }
}
