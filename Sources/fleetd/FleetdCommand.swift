import ArgumentParser
import Foundation
import NIOCore
import NIOPosix

/// The `fleetd` command: runs the service (the default), and the operator subcommands.
///
/// Exit codes: 0 success; 1 a user error (bad config, missing file …) with a clear message;
/// 2 a usage error (unknown option, missing argument).
@main
struct FleetdCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fleetd",
        abstract: "A feature-flagged runtime for fleets of LLM-backed agents.",
        subcommands: [
            ServeCommand.self,
            ValidateCommand.self,
            FlagsCommand.self,
            MigrateConfigCommand.self,
            RouteCommand.self,
            FeedbackCommand.self,
            MCPCommand.self,
            CostsCommand.self,
            KeysCommand.self,
            SSECommand.self,
        ],
        defaultSubcommand: ServeCommand.self
    )

    static func main() async {
        do {
            var command = try parseAsRoot()
            if command is ServeCommand { useEventLoopsForConcurrency() }
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch let error as UserError {
            FileHandle.standardError.write(Data("fleetd: \(error.message)\n".utf8))
            Foundation.exit(1)
        } catch let exit as ExitCode {
            // A command chose its exit code (and said why itself).
            Foundation.exit(exit.rawValue)
        } catch {
            let code = exitCode(for: error)
            if code == .success {
                // Help and version.
                print(fullMessage(for: error))
                Foundation.exit(0)
            }
            if code == .validationFailure {
                FileHandle.standardError.write(Data((fullMessage(for: error) + "\n").utf8))
                Foundation.exit(2)
            }
            // Anything else a command threw: on standard error, as every other failure.
            var message = fullMessage(for: error)
            if message.hasPrefix("Error: ") { message.removeFirst("Error: ".count) }
            FileHandle.standardError.write(Data("fleetd: \(message)\n".utf8))
            Foundation.exit(code.rawValue == 0 ? 1 : code.rawValue)
        }
    }
}

/// Makes Swift concurrency's global executor NIO's event loops, for `serve`, when
/// `FLEETD_EVENT_LOOP_EXECUTOR=on`. Off by default.
///
/// With it on, the HTTP server's connection tasks, actors and NIO I/O share the event-loop threads
/// instead of handing work between two pools (fewer context switches: docs/performance.md, step
/// 9). But NIO runs those jobs as if on a serial executor, so every nonisolated `await` hops back
/// through the global executor, and code that holds a lock across `withUnsafeContinuation`
/// then deadlocks a loop: swift-async-algorithms' `merge` does (its issue #430), and Hummingbird's
/// date cache and ServiceLifecycle's `cancelOnGracefulShutdown()` use it. `fleetd-bench streams`
/// caught two `fleetd serve` processes with one event loop blocked for good on that lock, never
/// exiting after SIGTERM. Requests still prefer their connection's loop as a task executor
/// (``EventLoopTaskExecutor``), which does not hop that way.
func useEventLoopsForConcurrency() {
    guard ProcessInfo.processInfo.environment["FLEETD_EVENT_LOOP_EXECUTOR"] == "on" else { return }
    NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
}

/// A problem the operator can fix: printed as one line, exit status 1.
struct UserError: Error, CustomStringConvertible {
    var message: String
    init(_ message: String) { self.message = message }
    var description: String { message }
}
