import Foundation
import Hummingbird
import Providers

/// Reads a JSON request body with a size limit, turning every failure into a 4xx naming the field.
enum JSONBody {
    /// Collects the body into the request (`Request.collectBody`), so a streamed response can still
    /// watch the connection for the client going away.
    static func decode<Value: Decodable>(_ type: Value.Type, from request: inout Request, limit: Int) async throws -> Value {
        let buffer = try await collect(&request, limit: limit)
        do {
            return try JSONDecoder().decode(Value.self, from: Data(buffer.readableBytesView))
        } catch let error as DecodingError {
            throw describe(error)
        } catch let error as APIError {
            throw error
        } catch {
            throw APIError(.badRequest, code: "BAD_JSON", message: "the body is not valid JSON")
        }
    }

    /// The body as any JSON value (the compatible endpoints, which read their dialect's fields
    /// themselves), read by ``JSONValue/parse(utf8:)``; a text that is not JSON is 400 `BAD_JSON`
    /// saying what is wrong and where.
    static func decodeValue(from request: inout Request, limit: Int) async throws -> JSONValue {
        let buffer = try await collect(&request, limit: limit)
        do {
            return try JSONValue.parse(utf8: buffer.readableBytesView)
        } catch {
            throw APIError(.badRequest, code: "BAD_JSON", message: "the body is not valid JSON: \(error)")
        }
    }

    /// The whole body, at most `limit` bytes and not empty.
    private static func collect(_ request: inout Request, limit: Int) async throws -> ByteBuffer {
        let buffer: ByteBuffer
        do {
            buffer = try await request.collectBody(upTo: limit)
        } catch {
            throw APIError(.contentTooLarge, code: "BODY_TOO_LARGE", message: "the request body is larger than \(limit) bytes (api.maxBodyBytes)")
        }
        guard buffer.readableBytes > 0 else {
            throw APIError(.badRequest, code: "BAD_JSON", message: "the request body is empty; expected a JSON object")
        }
        return buffer
    }

    static func describe(_ error: DecodingError) -> APIError {
        func path(_ codingPath: [any CodingKey]) -> String {
            codingPath.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined().trimmingCharacters(in: CharacterSet(charactersIn: "."))
        }
        switch error {
        case .keyNotFound(let key, let context):
            let field = path(context.codingPath + [key])
            return APIError(.badRequest, code: "MISSING_FIELD", message: "'\(field)' is required", field: field)
        case .typeMismatch(let type, let context):
            let field = path(context.codingPath)
            if field.isEmpty {
                return APIError(.badRequest, code: "WRONG_TYPE", message: "the body must be \(describe(type))")
            }
            return APIError(.badRequest, code: "WRONG_TYPE", message: "'\(field)' must be \(describe(type))", field: field)
        case .valueNotFound(let type, let context):
            let field = path(context.codingPath)
            return APIError(.badRequest, code: "WRONG_TYPE", message: "'\(field)' must be \(describe(type)), not null", field: field)
        case .dataCorrupted(let context):
            let field = path(context.codingPath)
            if field.isEmpty {
                return APIError(.badRequest, code: "BAD_JSON", message: "the body is not valid JSON")
            }
            return APIError(.badRequest, code: "INVALID_VALUE", message: "'\(field)': \(context.debugDescription)", field: field)
        @unknown default:
            return APIError(.badRequest, code: "BAD_JSON", message: "the body could not be read")
        }
    }

    private static func describe(_ type: Any.Type) -> String {
        switch type {
        case is Bool.Type: "true or false"
        case is Int.Type, is Double.Type: "a number"
        case is String.Type: "a string"
        case is [String: Any].Type: "a JSON object {…}"
        case is [Any].Type: "a JSON array […]"
        default: "of another type (\(type))"
        }
    }
}
