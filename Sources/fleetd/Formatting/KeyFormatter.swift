import Foundation

/// `fleetd keys list` as an aligned table or JSON; never a secret (``KeyView`` has none).
enum KeyFormatter {
    static func table(_ keys: [KeyView]) -> String {
        let header = ["ID", "TENANT", "USER", "STATE", "EXPIRES", "BUDGET D/W/M (USD)", "RPM", "TPM", "MODELS", "NAME"]
        let dates = ISO8601DateFormatter()
        func money(_ value: Double?) -> String { value.map { String(format: "%g", $0) } ?? "-" }
        let rows = keys.map { key -> [String] in
            [key.prefix, key.tenant, key.user ?? "-", key.state, key.expiresAt.map { dates.string(from: $0) } ?? "never",
             "\(money(key.budgetDaily))/\(money(key.budgetWeekly))/\(money(key.budgetMonthly))",
             key.rpm.map(String.init) ?? "-", key.tpm.map(String.init) ?? "-",
             key.models?.joined(separator: ",") ?? "any", key.name ?? ""]
        }
        let widths = header.indices.map { column in ([header] + rows).map { $0[column].count }.max() ?? 0 }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { index, cell in cell + String(repeating: " ", count: widths[index] - cell.count) }
                .joined(separator: "  ").trimmingCharacters(in: .whitespaces)
        }
        return ([header] + rows).map(line).joined(separator: "\n") + "\n"
    }

    static func json(_ value: some Encodable) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }
}
