/// Every error code fleetd answers with, one vocabulary for the whole product.
///
/// Codes travel in JSON error bodies, SSE `error` events and logs as their raw value
/// (`ROUTER_002`); each domain's error type (`RouterError`, `CostError`, `StreamingError`,
/// `ProviderError`, `TaskFailure`) carries one of these, and the HTTP status comes from
/// ``httpStatus``, never from matching the string.
public enum ErrorCode: String, Sendable, Codable, Hashable, CaseIterable, CustomStringConvertible {
    // Routing
    /// ModelSelectionFailed: no model can serve the task.
    case modelSelectionFailed = "ROUTER_001"
    /// BudgetExceeded: the budget has no room and its policy is `block`.
    case budgetExceeded = "ROUTER_002"
    /// NoAffordableModel: the budget has no room and no model is cheaper (policy `cheaper-only`).
    case noAffordableModel = "ROUTER_003"

    // Streaming
    /// BufferOverflow: the stream buffer is full.
    case bufferOverflow = "STREAM_001"
    /// StreamTimeout: no first chunk, too long a gap, or over the total time.
    case streamTimeout = "STREAM_002"
    /// ChunkValidationFailed: an invalid chunk (discarded; the stream goes on).
    case chunkValidationFailed = "STREAM_003"

    // Cost
    /// CostCalculationFailed: usage or prices cannot give a cost (the estimate is used).
    case costCalculationFailed = "COST_001"
    /// BudgetAlertTriggered: a budget threshold was crossed.
    case budgetAlertTriggered = "COST_002"
    /// The cost configuration is invalid.
    case costConfigurationInvalid = "COST_CONFIG"

    // Providers
    case providerRateLimited = "PROVIDER_RATE_LIMITED"
    case providerOverloaded = "PROVIDER_OVERLOADED"
    case providerAuth = "PROVIDER_AUTH"
    case providerBadRequest = "PROVIDER_BAD_REQUEST"
    case providerServerError = "PROVIDER_SERVER_ERROR"
    case providerNetwork = "PROVIDER_NETWORK"
    case providerTimeout = "PROVIDER_TIMEOUT"
    case providerMidStreamError = "PROVIDER_MIDSTREAM_ERROR"
    case providerMissingCredentials = "PROVIDER_MISSING_CREDENTIALS"
    case providerInvalidResponse = "PROVIDER_INVALID_RESPONSE"

    // Tasks
    /// Every agent of the type is busy and the queue is full.
    case queueFull = "QUEUE_FULL"
    /// The task ran past `fleet.taskTimeout`.
    case taskTimeout = "TASK_TIMEOUT"
    /// The client went away or fleetd is draining.
    case taskCancelled = "TASK_CANCELLED"
    /// The task named an agent type the config does not have.
    case unknownAgentType = "UNKNOWN_AGENT_TYPE"
    /// The request asks for what the model it named (or every model) cannot do: tools, images,
    /// a longer context, a feature its provider's format lacks.
    case requestUnsupported = "REQUEST_UNSUPPORTED"
    /// The caller (its API key or token) may not run tasks on the agent type.
    case agentTypeNotAllowed = "AGENT_TYPE_NOT_ALLOWED"
    /// The caller (its API key or token) may not use the model the task prefers.
    case modelNotAllowed = "MODEL_NOT_ALLOWED"
    /// A task with this id is already known for the caller's tenant: ids are unique per tenant.
    case taskIdConflict = "TASK_ID_CONFLICT"
    /// An unexpected failure inside fleetd.
    case internalError = "INTERNAL"

    /// The code as it travels: `ROUTER_002`.
    public var description: String { rawValue }

    /// The part of fleetd the code belongs to.
    public enum Domain: String, Sendable {
        case router, stream, cost, provider, task
    }

    public var domain: Domain {
        switch self {
        case .modelSelectionFailed, .budgetExceeded, .noAffordableModel: .router
        case .bufferOverflow, .streamTimeout, .chunkValidationFailed: .stream
        case .costCalculationFailed, .budgetAlertTriggered, .costConfigurationInvalid: .cost
        case .providerRateLimited, .providerOverloaded, .providerAuth, .providerBadRequest, .providerServerError,
             .providerNetwork, .providerTimeout, .providerMidStreamError, .providerMissingCredentials, .providerInvalidResponse: .provider
        case .queueFull, .taskTimeout, .taskCancelled, .unknownAgentType, .requestUnsupported, .agentTypeNotAllowed, .modelNotAllowed, .taskIdConflict, .internalError: .task
        }
    }

    /// The HTTP status a request failing with this code is answered with.
    public var httpStatus: Int {
        switch self {
        case .modelSelectionFailed: 503
        case .budgetExceeded, .noAffordableModel: 402
        // A provider's rate limit or overload reaches the client only when no other model could
        // serve: 429 / 503, with the provider's Retry-After when it gave one.
        case .queueFull, .providerRateLimited: 429
        case .providerOverloaded: 503
        case .unknownAgentType, .requestUnsupported: 400
        case .agentTypeNotAllowed, .modelNotAllowed: 403
        case .taskIdConflict: 409
        case .taskTimeout, .streamTimeout, .providerTimeout: 504
        case .taskCancelled: 499
        case .costCalculationFailed, .costConfigurationInvalid, .budgetAlertTriggered, .internalError: 500
        case .bufferOverflow, .chunkValidationFailed, .providerAuth, .providerBadRequest,
             .providerServerError, .providerNetwork, .providerMidStreamError, .providerMissingCredentials, .providerInvalidResponse: 502
        }
    }

    /// The request field the code is about, when there is one.
    public var field: String? {
        switch self {
        case .unknownAgentType, .agentTypeNotAllowed: "agentType"
        case .modelNotAllowed: "preferredModel"
        case .taskIdConflict: "id"
        default: nil
        }
    }
}
