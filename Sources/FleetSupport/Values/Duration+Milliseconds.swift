extension Duration {
    /// The duration in milliseconds, fractions kept: what the task API, the records and the
    /// router's latency figures show.
    public var inMilliseconds: Double {
        Double(components.seconds) * 1_000 + Double(components.attoseconds) / 1e15
    }
}
