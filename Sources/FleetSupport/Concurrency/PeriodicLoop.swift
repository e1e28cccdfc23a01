import ServiceLifecycle

/// Runs `tick` every `interval` (read before each wait, so a reloaded setting takes effect at the
/// next round) until the task is cancelled or graceful shutdown begins.
///
/// The loop every background service of fleetd shares (heartbeats, the config-file watch, the
/// write-behind flush, WAL checkpoints, the TTL sweep). The wait ends early on graceful shutdown,
/// so a service never holds shutdown for a whole interval. Returns when it stops; what to do
/// after (a last flush, say) is the caller's.
/// - Parameter tickFirst: run `tick` once before the first wait.
public func runPeriodically(
    every interval: @Sendable () async -> Duration,
    tickFirst: Bool = false,
    _ tick: @Sendable () async -> Void
) async {
    if tickFirst, !Task.isCancelled, !Task.isShuttingDownGracefully { await tick() }
    while !Task.isCancelled, !Task.isShuttingDownGracefully {
        let wait = await interval()
        do {
            try await cancelWhenGracefulShutdown { try await Task.sleep(for: wait) }
        } catch {
            return // cancelled, or shutdown began during the wait
        }
        await tick()
    }
}

/// ``runPeriodically(every:tickFirst:_:)`` with a fixed interval.
public func runPeriodically(every interval: Duration, tickFirst: Bool = false, _ tick: @Sendable () async -> Void) async {
    await runPeriodically(every: { interval }, tickFirst: tickFirst, tick)
}
