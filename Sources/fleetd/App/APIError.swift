import FleetSupport
import Foundation
import HTTPTypes
import Hummingbird

/// An error answered as JSON: `{"error": {"code": …, "message": …, "field": …}}`.
struct APIError: HTTPResponseError {
    var status: HTTPResponse.Status
    var code: String
    var message: String
    var field: String?
    var details: [String]?
    var headers: HTTPFields = [:]

    init(_ status: HTTPResponse.Status, code: String, message: String, field: String? = nil, details: [String]? = nil) {
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.details = details
    }

    private struct Body: Encodable {
        struct Inner: Encodable {
            var code: String
            var message: String
            var field: String?
            var details: [String]?
        }
        var error: Inner
    }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        let data = (try? FastJSONEncoder().encode(Body(error: .init(code: code, message: message, field: field, details: details)))) ?? []
        var fields = headers
        fields[.contentType] = "application/json"
        return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}
