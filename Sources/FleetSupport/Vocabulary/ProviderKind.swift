/// The wire protocol family a model is reached through.
///
/// `xai` speaks OpenAI Chat Completions at its own base URL; `ollama` has its native
/// `/api/chat` protocol (and an OpenAI-compatible `/v1`, reached with `openai` and an endpoint).
public enum ProviderKind: String, Sendable, Codable, CaseIterable, Hashable {
    case anthropic
    case openai
    case google
    case xai
    case ollama
    /// fleetd's built-in offline responder: the clearly labelled local default that answers
    /// when no provider is configured or reachable. It calls no model.
    case builtin

    /// A provider that runs on the operator's own machine, so a `privacy: local-only` task may see it.
    public var isLocal: Bool { self == .ollama || self == .builtin }

    /// The environment variable that holds this provider's API key unless a model names its own.
    public var defaultAPIKeyVariable: String? {
        switch self {
        case .anthropic: "ANTHROPIC_API_KEY"
        case .openai: "OPENAI_API_KEY"
        case .google: "GOOGLE_API_KEY"
        case .xai: "XAI_API_KEY"
        case .ollama, .builtin: nil
        }
    }

    /// The environment variable that moves a provider's base URL, as its official SDK reads it
    /// (`ANTHROPIC_BASE_URL`, `OPENAI_BASE_URL`, `GOOGLE_GEMINI_BASE_URL`, `OLLAMA_HOST`; xAI's SDK
    /// has none, so fleetd reads `XAI_BASE_URL`). A model's `credentials.endpoint` wins over it.
    public var baseURLVariable: String? {
        switch self {
        case .anthropic: "ANTHROPIC_BASE_URL"
        case .openai: "OPENAI_BASE_URL"
        case .google: "GOOGLE_GEMINI_BASE_URL"
        case .xai: "XAI_BASE_URL"
        case .ollama: "OLLAMA_HOST"
        case .builtin: nil
        }
    }

    /// The base URL as each provider's official SDK takes it.
    public var defaultBaseURL: String {
        switch self {
        case .anthropic: "https://api.anthropic.com"
        case .openai: "https://api.openai.com/v1"
        case .google: "https://generativelanguage.googleapis.com"
        case .xai: "https://api.x.ai/v1"
        case .ollama: "http://localhost:11434"
        case .builtin: "builtin:"
        }
    }
}
