/// Per-provider request and token limits (`quotas` in the config file).
public struct QuotaConfiguration: Sendable, Hashable, Codable {
    /// One provider's limits; `nil` means no limit. Valid values: > 0.
    public struct Limits: Sendable, Hashable, Codable {
        public var requestsPerDay: Int?
        public var requestsPerMonth: Int?
        public var tokensPerDay: Int?
        public var tokensPerMonth: Int?

        public init(requestsPerDay: Int? = nil, requestsPerMonth: Int? = nil, tokensPerDay: Int? = nil, tokensPerMonth: Int? = nil) {
            self.requestsPerDay = requestsPerDay
            self.requestsPerMonth = requestsPerMonth
            self.tokensPerDay = tokensPerDay
            self.tokensPerMonth = tokensPerMonth
        }
    }

    /// Provider name (e.g. `anthropic`) → limits. Providers not listed are unlimited.
    public var providers: [String: Limits]
    /// IANA time zone for day and month boundaries. Default `UTC`.
    public var timeZone: String

    public init(providers: [String: Limits] = [:], timeZone: String = "UTC") {
        self.providers = providers
        self.timeZone = timeZone
    }

    /// Checks every limit is positive and the time zone exists.
    /// - Throws: ``QuotaError`` `.invalidConfiguration` naming the field.
    public func validate() throws {
        for (provider, limits) in providers.sorted(by: { $0.key < $1.key }) {
            guard !provider.isEmpty else { throw QuotaError(.invalidConfiguration, "quotas: a provider name is empty") }
            let fields: [(String, Int?)] = [("requestsPerDay", limits.requestsPerDay), ("requestsPerMonth", limits.requestsPerMonth),
                                            ("tokensPerDay", limits.tokensPerDay), ("tokensPerMonth", limits.tokensPerMonth)]
            for (name, value) in fields {
                if let value, value <= 0 {
                    throw QuotaError(.invalidConfiguration, "quotas.\(provider).\(name) must be positive, got \(value)")
                }
            }
        }
        do {
            _ = try PeriodCalendar(timeZoneIdentifier: timeZone)
        } catch {
            throw QuotaError(.invalidConfiguration, "quotas.timeZone: unknown time zone '\(timeZone)'")
        }
    }
}

/// A quota manager failure.
public struct QuotaError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Code: String, Sendable, Hashable {
        case invalidConfiguration = "QUOTA_CONFIG"
        case invalidArgument = "QUOTA_INVALID_ARGUMENT"
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var shortDescription: String {
        switch code {
        case .invalidConfiguration: "invalid_configuration"
        case .invalidArgument: "invalid_argument"
        }
    }

    public var description: String { "\(code.rawValue): \(message)" }
}
