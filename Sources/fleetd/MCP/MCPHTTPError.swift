import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// A refusal on `/mcp` before the MCP session sees the request (no or a bad credential, a rate
/// limit): the status and headers (`WWW-Authenticate`, `Retry-After`) every route gives, with a
/// JSON-RPC error body, so an MCP client shows the reason rather than a bare "Server returned an
/// error response": `{"jsonrpc":"2.0","id":<the request's id or null>,"error":{"code":-32001,
/// "message":…,"data":{"status":429,"code":"RATE_LIMITED"}}}`.
struct MCPHTTPError: HTTPResponseError {
    let api: APIError
    let body: Data

    /// JSON-RPC's server-defined code for a request fleetd refused before running it.
    static let refusedCode = -32001

    var status: HTTPResponse.Status { api.status }

    init(_ api: APIError, requestBody: Data?) {
        self.api = api
        var id: Any = NSNull()
        if let requestBody, let object = try? JSONSerialization.jsonObject(with: requestBody) as? [String: Any], let value = object["id"],
           value is String || value is Int || value is NSNumber {
            id = value
        }
        let error: [String: Any] = ["code": Self.refusedCode, "message": api.message,
                                    "data": ["status": Int(api.status.code), "code": api.code] as [String: Any]]
        let message: [String: Any] = ["jsonrpc": "2.0", "id": id, "error": error]
        body = (try? JSONSerialization.data(withJSONObject: message)) ?? Data()
    }

    /// The refusal of `request`, whose body (unread yet) gives the JSON-RPC id.
    static func refusing(_ request: Request, with error: APIError) async -> MCPHTTPError {
        var request = request
        var body: Data?
        if request.method == .post, let buffer = try? await request.collectBody(upTo: 65_536) {
            body = Data(buffer.readableBytesView)
        }
        return MCPHTTPError(error, requestBody: body)
    }

    /// Whether `path` is the MCP endpoint.
    static func applies(to path: String) -> Bool {
        path == "/mcp" || path == "/mcp/"
    }

    func response() -> Response {
        var fields = api.headers
        fields[.contentType] = "application/json"
        return Response(status: api.status, headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        response()
    }
}
