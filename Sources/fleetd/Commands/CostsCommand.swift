import ArgumentParser
import Fleet
import Foundation
import Store

/// `fleetd costs`: spend for the current day, week or month, by model, provider, task type and
/// agent, or (`--by key|tenant`) by API key or tenant.
struct CostsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "costs",
        abstract: "Report spend for the current period from the cost ledger."
    )

    @OptionGroup var options: ConfigOptions

    @Option(help: "day, week or month.")
    var period: BudgetPeriod = .day

    @Option(help: "table, json or csv (RFC 4180).")
    var format: CostReportFormat = .table

    @Option(help: "Spend by API key or by tenant (instead of the usual breakdowns): key or tenant.")
    var by: CostReport.Breakdown?

    @Option(name: .customLong("data-dir"), help: ArgumentHelp("Where fleetd keeps its database.", valueName: "dir"))
    var dataDir: String = "data"

    func run() async throws {
        let config = try options.load().config
        if config.database.type == .postgres {
            // The shared ledger: the same report from wherever it is asked.
            let report = try await withPostgresStore(config, migrate: false) { store in
                try await CostReport.load(store: store, period: period, timeZoneIdentifier: config.cost.timeZone,
                                          breakdowns: by.map { [$0] } ?? [])
            }
            return print(try render(report), terminator: format == .csv ? "" : "\n")
        }
        let url = DataPlane.databaseURL(for: config, dataDirectory: URL(fileURLWithPath: dataDir))
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw UserError("no cost data: \(url.path) does not exist (has fleetd run with --data-dir \(dataDir)?)")
        }
        let database = try await StoreDatabase(path: url.path)
        let report = try await CostReport.load(database: database, period: period, timeZoneIdentifier: config.cost.timeZone,
                                               breakdowns: by.map { [$0] } ?? [])
        print(try render(report), terminator: format == .csv ? "" : "\n")
    }

    private func render(_ report: CostReport) throws -> String {
        try CostReportFormatter.render(report, format: format, only: by.map { $0 == .key ? "key" : "tenant" })
    }
}

extension BudgetPeriod: ExpressibleByArgument {}
extension CostReportFormat: ExpressibleByArgument {}
extension CostReport.Breakdown: ExpressibleByArgument {}
