/// Prices in US dollars per 1,000 tokens.
public struct ModelPricing: Sendable, Codable, Hashable {
    public var input: Double
    public var output: Double
    /// Price of cached (cache-read) input tokens; `nil` bills them as ordinary input.
    public var cached: Double?

    public init(input: Double = 0, output: Double = 0, cached: Double? = nil) {
        self.input = input
        self.output = output
        self.cached = cached
    }
}
