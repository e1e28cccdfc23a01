import Foundation
import Store

/// Writes cost ledger entries (each with its totals and memory mirrors, one transaction per
/// entry) to the database at `argv[1]`, printing each entry id on stdout after its commit,
/// until `argv[2]` entries are written or the process is killed. Used by the SIGKILL test.
@main
struct StoreCrashWriter {
    static func main() async {
        let arguments = CommandLine.arguments
        guard arguments.count == 3, let count = Int(arguments[2]) else {
            FileHandle.standardError.write(Data("usage: StoreCrashWriter DATABASE_PATH COUNT\n".utf8))
            exit(2)
        }
        do {
            let database = try await StoreDatabase(path: arguments[1])
            let tracker = try CostTracker(database: database)
            let pricing = ModelPricing(input: 0.003, output: 0.015)
            for index in 0..<count {
                let id = "crash-\(index)"
                let call = CostCall(model: "model-\(index % 3)", provider: "anthropic", taskId: "task-\(index)",
                                    agentId: "agent-\(index % 5)", taskType: "crash-test")
                try await tracker.record(call, usage: CostUsage(inputTokens: 1_000 + index, outputTokens: 500), pricing: pricing, entryId: id)
                // Printed only after the commit returned; flushed at once so the parent sees it.
                FileHandle.standardOutput.write(Data("\(id)\n".utf8))
            }
        } catch {
            FileHandle.standardError.write(Data("StoreCrashWriter: \(error)\n".utf8))
            exit(1)
        }
    }
}
