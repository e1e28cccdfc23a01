import Foundation

/// `fleetd-bench upstream`: only the serve bench's loopback provider, kept running for a profiler
/// run by hand (docs/performance.md, "Measuring" and "Store writes off the request path"). It prints the environment that points
/// `config/fleet.yaml`'s providers at it and serves for `60 × scale` seconds (`--scale 10`: ten
/// minutes), or until the process is stopped.
struct UpstreamBench: BenchSuite {
    let name = "upstream"
    let summary = "only the serve bench's loopback provider, for profiling fleetd by hand (prints its environment; serves 60 s × scale)"

    func run(scale: Double) async throws {
        let upstream = try await BenchUpstream.start()
        let base = "http://127.0.0.1:\(upstream.port)"
        // Unbuffered, so a script reading this through a pipe sees it at once.
        FileHandle.standardOutput.write(Data(("upstream listening on \(base)\n"
            + "export ANTHROPIC_BASE_URL=\(base) OPENAI_BASE_URL=\(base)/v1 GOOGLE_GEMINI_BASE_URL=\(base) XAI_BASE_URL=\(base)/v1 "
            + "OLLAMA_HOST=\(base) ANTHROPIC_API_KEY=bench OPENAI_API_KEY=bench GOOGLE_API_KEY=bench XAI_API_KEY=bench\n").utf8))
        try await Task.sleep(for: .seconds(60 * scale))
        await upstream.stop()
    }
}
