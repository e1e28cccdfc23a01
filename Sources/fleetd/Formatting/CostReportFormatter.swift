import Foundation
import Store

/// Output formats for `fleetd costs --format`.
public enum CostReportFormat: String, Sendable, CaseIterable, Codable {
    case table, json, csv
}

/// Renders a ``CostReport`` as an aligned text table, JSON, or RFC 4180 CSV.
public enum CostReportFormatter {
    /// The report in `format`. CSV uses CRLF line ends and quotes fields that need it.
    /// - Parameter only: the one section (its title, e.g. `key`) the table and CSV show after the
    ///   total; JSON always holds the whole report.
    public static func render(_ report: CostReport, format: CostReportFormat, only: String? = nil) throws -> String {
        switch format {
        case .table: table(report, only: only)
        case .json: try json(report)
        case .csv: csv(report, only: only)
        }
    }

    private static func sections(_ report: CostReport, only: String?) -> [(title: String, lines: [CostReport.Line])] {
        report.sections.filter { only == nil || $0.title == only }
    }

    // MARK: Table

    static func table(_ report: CostReport, only: String? = nil) -> String {
        let header = ["section", "name", "cost (USD)", "entries", "input", "output", "cached"]
        var rows: [[String]] = [row("total", report.total)]
        for (title, lines) in sections(report, only: only) {
            rows += lines.map { row(title, $0) }
        }
        let widths = header.indices.map { column in ([header] + rows).map { $0[column].count }.max() ?? 0 }
        func render(_ cells: [String]) -> String {
            cells.enumerated().map { index, cell in
                let pad = String(repeating: " ", count: widths[index] - cell.count)
                return index < 2 ? cell + pad : pad + cell // text left, numbers right
            }.joined(separator: "  ")
        }
        let title = "Costs for \(report.period.rawValue) \(report.periodKey) (\(report.timeZone))"
        let rule = String(repeating: "-", count: widths.reduce(0, +) + 2 * (widths.count - 1))
        return ([title, render(header), rule] + rows.map(render)).joined(separator: "\n") + "\n"
    }

    private static func row(_ section: String, _ line: CostReport.Line) -> [String] {
        [section, line.name, String(format: "%.6f", line.cost), "\(line.entries)", "\(line.inputTokens)", "\(line.outputTokens)", "\(line.cachedTokens)"]
    }

    // MARK: JSON

    static func json(_ report: CostReport) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        do {
            return String(decoding: try encoder.encode(report), as: UTF8.self) + "\n"
        } catch {
            throw CostError(.costCalculationFailed, "cost report does not encode as JSON (a figure is not finite?): \(error)")
        }
    }

    // MARK: CSV (RFC 4180)

    static func csv(_ report: CostReport, only: String? = nil) -> String {
        var records: [[String]] = [["period", "period_key", "section", "name", "cost_usd", "entries", "input_tokens", "output_tokens", "cached_tokens"]]
        let prefix = [report.period.rawValue, report.periodKey]
        records.append(prefix + row("total", report.total))
        for (title, lines) in sections(report, only: only) {
            records += lines.map { prefix + row(title, $0) }
        }
        return records.map { $0.map(csvField).joined(separator: ",") + "\r\n" }.joined()
    }

    /// Quotes a field holding a comma, quote, CR or LF, doubling inner quotes.
    public static func csvField(_ field: String) -> String {
        guard field.contains(where: { $0 == "," || $0 == "\"" || $0 == "\r" || $0 == "\n" || $0 == "\r\n" }) else { return field }
        return "\"" + field.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
