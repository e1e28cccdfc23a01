import Fleet

extension FleetConfig {
    /// The routing part of the one-line summary.
    var componentSummary: [String] {
        []
    }
}
