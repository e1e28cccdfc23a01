import Foundation
import HTTPTypes

/// The credential a request presents: `Authorization: Bearer <credential>`, else
/// `x-api-key: <credential>` (the header Anthropic's SDKs send).
enum Credential {
    static let apiKeyHeader = HTTPField.Name("x-api-key")!

    static func presented(in headers: HTTPFields) -> String? {
        if let authorization = headers[.authorization] {
            let parts = authorization.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
            if parts.count == 2, parts[0].lowercased() == "bearer" {
                let value = parts[1].trimmingCharacters(in: .whitespaces)
                if !value.isEmpty { return value }
            }
        }
        if let value = headers[apiKeyHeader]?.trimmingCharacters(in: .whitespaces), !value.isEmpty {
            return value
        }
        return nil
    }

    /// Compares in time that depends only on the lengths, not on where the bytes differ.
    static func equal(_ a: String, _ b: String) -> Bool {
        AdminAuthMiddleware<FleetRequestContext>.constantTimeEqual(Array(a.utf8), Array(b.utf8))
    }

    /// Whether the text has a JWT's shape (three base64url parts).
    static func looksLikeJWT(_ text: String) -> Bool {
        text.utf8.filter { $0 == UInt8(ascii: ".") }.count == 2
    }
}
