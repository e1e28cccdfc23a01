import ArgumentParser
import Foundation
import NIOCore
import NIOPosix

/// `fleetd-bench [SUITE…]`: prints performance figures. Build with `-c release` for real numbers.
@main
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fleetd-bench",
        abstract: "Run benchmarks and print their figures (use a release build: swift build -c release && .build/release/fleetd-bench).",
        discussion: "Suites: " + benchSuites.map { "\($0.name) (\($0.summary))" }.joined(separator: "; ")
    )

    @Argument(help: "Suites to run; none or 'all' runs every suite.")
    var suites: [String] = []

    @Option(help: "Size factor: 1 is the documented size, 0.01 a quick smoke run.")
    var scale: Double = 1

    @Option(name: .customLong("serve-config"),
            help: "The serve suite's config: 'shipped' (config/fleet.yaml as shipped), 'minimal' (a bench-only one-model config, cost tracking off and on) or a path.")
    var serveConfig: String = "shipped"

    @Option(help: "The serve suite's number of SSE streams held open at once for the memory figure (default 1,000 × scale).")
    var streams: Int?

    @Option(name: .customLong("stream-upstream"),
            help: "The upstream of the serve and streams suites' held streams: 'http1' (plain HTTP/1.1, a connection per stream) or 'h2' (HTTPS with HTTP/2, as the cloud providers serve).")
    var streamUpstream: String = "http1"

    @Option(help: "A virtual environment with LiteLLM's proxy (python3 -m venv V && V/bin/pip install 'litellm[proxy]'): the serve suite measures it on the same upstream.")
    var litellm: String?

    /// The floor proxy runs on the global executor `fleetd serve` runs on: Swift's own pool, or
    /// NIO's event loops with `FLEETD_EVENT_LOOP_EXECUTOR=on`, set before any other concurrency
    /// work, as fleetd's `main` sets it.
    static func main() async {
        if CommandLine.arguments.dropFirst().first == "floor-proxy", ProcessInfo.processInfo.environment["FLEETD_EVENT_LOOP_EXECUTOR"] == "on" {
            NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
        }
        await main(nil)
    }

    func run() async throws {
        let wanted = suites.isEmpty || suites == ["all"] ? benchSuites.map(\.name) : suites
        for name in wanted {
            guard var suite = (benchSuites + namedOnlySuites).first(where: { $0.name == name }) else {
                throw ValidationError("unknown suite '\(name)'; known: \((benchSuites + namedOnlySuites).map(\.name).joined(separator: ", "))")
            }
            #if DEBUG
            print("note: this is a debug build; figures are not representative (use -c release)")
            #endif
            if var serve = suite as? ServeBench {
                serve.config = serveConfig
                serve.streams = streams
                serve.litellm = litellm
                serve.streamUpstream = streamUpstream
                suite = serve
            }
            print("== \(suite.name): \(suite.summary)")
            try await suite.run(scale: scale)
        }
    }
}
