import Agents
import FleetSupport
import Foundation
import HTTPTypes
import Hummingbird
import Providers

/// The client dialect of a compatible endpoint.
enum CompatDialect: Sendable {
    /// OpenAI Chat Completions (`/v1/chat/completions`).
    case openAI
    /// Anthropic Messages (`/v1/messages`).
    case anthropic
    /// OpenAI's Responses API (`/v1/responses`): its errors are OpenAI's.
    case responses

    /// Whether errors take OpenAI's shape and codes.
    var isOpenAI: Bool { self != .anthropic }

    /// The dialect of a compatible endpoint's path, `nil` for fleetd's own routes.
    init?(path: String) {
        if path == "/v1/chat/completions" {
            self = .openAI
        } else if path == "/v1/responses" {
            self = .responses
        } else if path == "/v1/messages" || path == "/v1/messages/count_tokens" {
            self = .anthropic
        } else {
            return nil
        }
    }
}

/// An error answered in the client's dialect, with the status its SDK turns into its own
/// exception type (README.md, "OpenAI- and Anthropic-compatible endpoints"):
/// - OpenAI: `{"error": {"message", "type", "param", "code"}}`;
/// - Anthropic: `{"type": "error", "error": {"type", "message"}}`.
/// Both carry fleetd's own code as well (`code` for OpenAI, `error.fleetd_code` for Anthropic).
struct CompatError: HTTPResponseError {
    var dialect: CompatDialect
    var status: HTTPResponse.Status
    /// OpenAI's `type`.
    var openAIType: String
    /// Anthropic's `error.type`.
    var anthropicType: String
    var message: String
    var param: String?
    /// OpenAI's `code` (e.g. `invalid_api_key`, `insufficient_quota`), else fleetd's code.
    var code: String?
    var headers: HTTPFields = [:]

    init(_ dialect: CompatDialect, status: Int, openAIType: String, anthropicType: String, message: String,
         param: String? = nil, code: String? = nil) {
        self.dialect = dialect
        self.status = HTTPResponse.Status(code: status)
        self.openAIType = openAIType
        self.anthropicType = anthropicType
        self.message = message
        self.param = param
        self.code = code
    }

    /// The JSON body.
    var body: JSONValue {
        switch dialect {
        case .openAI, .responses:
            return .object(["error": .object([
                "message": .string(message), "type": .string(openAIType),
                "param": param.map(JSONValue.string) ?? .null, "code": code.map(JSONValue.string) ?? .null,
            ])])
        case .anthropic:
            var error: JSONObject = ["type": .string(anthropicType), "message": .string(message)]
            if let code { error["fleetd_code"] = .string(code) }
            return .object(["type": .string("error"), "error": .object(error)])
        }
    }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        var fields = headers
        fields[.contentType] = "application/json"
        let bytes = (try? FastJSONEncoder().encode(body)) ?? []
        return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }
}

extension CompatError {
    /// 400 `invalid_request_error` naming the parameter.
    init(_ dialect: CompatDialect, request error: CompatRequestError) {
        self.init(dialect, status: 400, openAIType: "invalid_request_error", anthropicType: "invalid_request_error",
                  message: error.message, param: error.param)
    }

    /// A fleetd HTTP error (body too large, not JSON) in the dialect's shape.
    init(_ dialect: CompatDialect, api error: APIError) {
        let status = Int(error.status.code)
        let anthropicType = Self.anthropicErrorType(status)
        let openAIType = status == 429 ? "requests" : status >= 500 ? "server_error" : "invalid_request_error"
        self.init(dialect, status: status, openAIType: openAIType, anthropicType: anthropicType, message: error.message,
                  param: error.field, code: error.code)
        headers = error.headers
    }

    /// 401 for a missing or wrong key.
    static func unauthorized(_ dialect: CompatDialect, _ message: String) -> CompatError {
        CompatError(dialect, status: 401, openAIType: "invalid_request_error", anthropicType: "authentication_error",
                    message: message, code: "invalid_api_key")
    }

    /// A task's failure, with the status each SDK maps to its own exception:
    ///
    /// | fleetd code | status | OpenAI SDK | Anthropic SDK |
    /// |---|---|---|---|
    /// | REQUEST_UNSUPPORTED, UNKNOWN_AGENT_TYPE, PROVIDER_BAD_REQUEST | 400 | BadRequestError | BadRequestError |
    /// | ROUTER_002/003 (budget) | OpenAI 429 `insufficient_quota` (as OpenAI answers a spent quota, with `x-should-retry: false`), Anthropic 402 `billing_error` | RateLimitError | PaymentRequiredError |
    /// | QUEUE_FULL, PROVIDER_RATE_LIMITED | 429 with `retry-after` | RateLimitError | RateLimitError |
    /// | ROUTER_001, PROVIDER_OVERLOADED | OpenAI 503, Anthropic 529 `overloaded_error` | InternalServerError | OverloadedError |
    /// | timeouts | 504 | InternalServerError | GatewayTimeoutError |
    /// | other provider failures | 502 `api_error` | InternalServerError | InternalServerError |
    ///
    /// - Parameter defaultRetryAfter: seconds for `retry-after` when the provider gave none (the
    ///   breaker's cooldown: the time the failed model stays closed to calls).
    init(_ dialect: CompatDialect, failure: TaskFailure, defaultRetryAfter: Int) {
        let message = failure.message
        let code = failure.code.rawValue
        switch failure.code {
        case .requestUnsupported, .unknownAgentType:
            self.init(dialect, status: 400, openAIType: "invalid_request_error", anthropicType: "invalid_request_error",
                      message: message, param: failure.code == .unknownAgentType ? "x-fleetd-agent-type" : "model", code: code)
        case .modelNotAllowed:
            self.init(dialect, status: 403, openAIType: "permission_error", anthropicType: "permission_error",
                      message: message, param: "model", code: "model_not_allowed")
        case .providerBadRequest:
            self.init(dialect, status: 400, openAIType: "invalid_request_error", anthropicType: "invalid_request_error",
                      message: "the provider refused the request: \(message)", code: code)
        case .budgetExceeded, .noAffordableModel:
            switch dialect {
            case .openAI, .responses:
                self.init(dialect, status: 429, openAIType: "insufficient_quota", anthropicType: "billing_error", message: message, code: "insufficient_quota")
                headers[HTTPField.Name("x-should-retry")!] = "false"
            case .anthropic:
                self.init(dialect, status: 402, openAIType: "insufficient_quota", anthropicType: "billing_error", message: message, code: code)
            }
        case .queueFull, .providerRateLimited:
            self.init(dialect, status: 429, openAIType: "requests", anthropicType: "rate_limit_error", message: message,
                      code: dialect.isOpenAI ? "rate_limit_exceeded" : code)
            headers[.retryAfter] = String(max(1, failure.retryAfterSeconds ?? defaultRetryAfter))
        case .modelSelectionFailed, .providerOverloaded:
            self.init(dialect, status: dialect == .anthropic ? 529 : 503, openAIType: "server_error", anthropicType: "overloaded_error",
                      message: message, code: code)
        case .taskTimeout, .streamTimeout, .providerTimeout:
            self.init(dialect, status: 504, openAIType: "timeout", anthropicType: "timeout_error", message: message, code: code)
        case .taskCancelled:
            self.init(dialect, status: 499, openAIType: "server_error", anthropicType: "api_error", message: message, code: code)
        default:
            let status = failure.code.httpStatus
            self.init(dialect, status: status, openAIType: (400..<500).contains(status) ? "invalid_request_error" : "server_error",
                      anthropicType: Self.anthropicErrorType(status), message: message, code: code)
        }
    }

    /// The Anthropic error type of a status, as its API names them.
    static func anthropicErrorType(_ status: Int) -> String {
        switch status {
        case 500...: "api_error"
        case 401: "authentication_error"
        case 402: "billing_error"
        case 403: "permission_error"
        case 404: "not_found_error"
        case 413: "request_too_large"
        case 429: "rate_limit_error"
        default: "invalid_request_error"
        }
    }
}
