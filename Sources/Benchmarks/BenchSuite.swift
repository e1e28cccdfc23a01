/// One benchmark suite `fleetd-bench` can run. Suites print their own figures.
///
/// Figures are measured, never asserted: performance targets live here, not in unit tests.
protocol BenchSuite: Sendable {
    /// The name on the command line, e.g. `config`.
    var name: String { get }
    /// One line saying what it measures.
    var summary: String { get }
    /// Runs the suite and prints figures to standard output.
    /// - Parameter scale: 1.0 is the documented size; smaller numbers run a quick smoke version.
    func run(scale: Double) async throws
}

/// Every suite, in the order `fleetd-bench all` runs them. Add new suites here.
let benchSuites: [any BenchSuite] = [
    ConfigBench(),
    StoreBench(),
    SharedStoreBench(),
    RoutingBench(),
    JSONBench(),
    CacheBench(),
    StreamingBench(),
    ServeBench(),
]

/// Suites run only when named (tools for work by hand, not figures).
let namedOnlySuites: [any BenchSuite] = [UpstreamBench(), FloorProxySuite(), ServeBench(streamsOnly: true)]
