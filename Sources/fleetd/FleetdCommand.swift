import ArgumentParser

/// The `fleetd` command: runs the service, and the operator subcommands.
@main
struct FleetdCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fleetd",
        abstract: "A feature-flagged runtime for fleets of LLM-backed agents.",
        subcommands: [
            BenchCommand.self,
            SSECommand.self,
        ]
    )
}
