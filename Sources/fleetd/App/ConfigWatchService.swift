import FleetSupport
import Fleet
import Foundation
import Logging
import ServiceLifecycle
import UnixSignals

/// Reloads the config when its file changes or the process gets SIGHUP, and takes in the runtime
/// flag changes another fleetd process on the same data directory made.
///
/// Each reload goes through ``ConfigReloader/reload(keepRuntimeFlags:force:)``, which puts the
/// config in force before it returns and runs one change at a time: a watcher reload and an admin
/// API reload of the same edit wait for each other (the second finds the text already loaded).
///
/// The file is polled (every 250 ms by default) by comparing its text with the loaded one:
/// portable, robust to editors that replace files by rename, and well inside the one-second
/// budget for a change to take effect. A change is read once the file has kept it for one poll
/// (``ConfigReloader/fileChanged()``), so a file caught half saved is not applied.
struct ConfigWatchService: Service {
    let reloader: ConfigReloader
    let logger: Logger
    var pollInterval: Duration = .milliseconds(250)
    /// Where runtime flag changes a reload dropped are recorded (`GET /v1/flags/history`).
    var flagChanges: FlagChangeLog? = nil

    func run() async throws {
        await withDiscardingTaskGroup { group in
            group.addTask { await watchFile() }
            group.addTask { await watchSignal() }
        }
    }

    private func watchFile() async {
        let hasFile = await reloader.path != nil
        await runPeriodically(every: pollInterval) {
            if hasFile, await reloader.fileChanged() {
                await reload(trigger: "file change", force: false)
            }
            await adoptFlagFileChanges()
        }
    }

    /// Flag changes another fleetd process on the same data directory made (`fleetd mcp` beside
    /// `fleetd serve`): put in force here within a poll.
    private func adoptFlagFileChanges() async {
        do {
            if try await reloader.adoptFlagFileChanges() {
                let generation = await reloader.snapshot.generation
                logger.notice("runtime flag changes made by another fleetd process on this data directory are in force",
                              metadata: ["generation": "\(generation)"])
            }
        } catch {
            logger.error("runtime flag changes in the data directory could not be taken in; the running flags stay", metadata: ["error": "\(error)"])
        }
    }

    private func watchSignal() async {
        let signals = await UnixSignalsSequence(trapping: .sighup)
        for await _ in signals.cancelOnGracefulShutdown() {
            await reload(trigger: "SIGHUP", force: true)
        }
    }

    private func reload(trigger: String, force: Bool) async {
        do {
            let outcome = try await reloader.reload(force: force)
            guard outcome.changed else { return }
            flagChanges?.record(dropped: outcome.droppedRuntimeFlagChanges, generation: outcome.generation)
            logger.notice("config reloaded", metadata: [
                "trigger": "\(trigger)", "generation": "\(outcome.generation)", "changed": .array(outcome.changedSettings.map { .string($0) }),
            ])
            for warning in outcome.warnings { logger.warning("\(warning)") }
        } catch let error as ConfigError {
            logger.error("config reload rejected; the running config stays", metadata: [
                "trigger": "\(trigger)", "code": "\(ConfigError.code)", "errors": .array(error.diagnostics.map { .string($0.description) }),
            ])
        } catch {
            logger.error("config reload failed; the running config stays", metadata: ["trigger": "\(trigger)", "error": "\(error)"])
        }
    }
}
