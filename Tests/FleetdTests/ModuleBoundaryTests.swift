import Foundation
import Testing

/// The module layout holds: every file imports only what the README's layout table allows its
/// folder, and `Package.swift` declares exactly the project dependencies the table lists.
@Suite("Module boundaries")
struct ModuleBoundaryTests {
    /// Modules any file may import.
    static let everywhere: Set<String> = ["Foundation", "Synchronization", "Dispatch", "Glibc", "Darwin", "Testing"]

    /// The project's own modules (targets that the table's rows may name).
    static let projectModules: Set<String> = [
        "FleetSupport", "Providers", "Streaming", "Store", "Routing", "Agents", "ToolServers", "Fleet", "fleetd", "Benchmarks", "FakeProvider",
    ]

    struct Row {
        var folder: String
        var module: String
        var allowed: Set<String>
    }

    /// The README's `## Layout` table: `| \`Sources/X\` | what | A, B, C |`.
    static func layoutRows() throws -> [Row] {
        let readme = try String(contentsOfFile: "README.md", encoding: .utf8)
        guard let start = readme.range(of: "## Layout") else { throw Failure("README.md has no '## Layout' section") }
        let section = readme[start.upperBound...].prefix { _ in true }
        var rows: [Row] = []
        for line in section.split(separator: "\n") {
            if line.hasPrefix("## ") { break }
            let cells = line.split(separator: "|", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            guard cells.count >= 4, cells[1].hasPrefix("`"), cells[1].hasSuffix("`") else { continue }
            let folder = String(cells[1].dropFirst().dropLast())
            let allowed = Set(cells[3].split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty })
            rows.append(Row(folder: folder, module: String(folder.split(separator: "/").last ?? ""), allowed: allowed))
        }
        return rows
    }

    /// Every `import X` in a folder's Swift files, with the file that has it.
    static func imports(in folder: String) throws -> [(file: String, module: String)] {
        guard let files = FileManager.default.enumerator(atPath: folder) else { throw Failure("no folder \(folder)") }
        var found: [(String, String)] = []
        for case let file as String in files where file.hasSuffix(".swift") {
            let text = try String(contentsOfFile: "\(folder)/\(file)", encoding: .utf8)
            for line in text.split(separator: "\n") {
                let words = line.split(separator: " ")
                guard let index = words.firstIndex(of: "import"), words[..<index].allSatisfy({ $0.hasPrefix("@") || $0 == "internal" || $0 == "public" }),
                      index + 1 < words.count else { continue }
                // `import struct NIOCore.ByteBuffer` imports from NIOCore.
                let kinds: Set<Substring> = ["struct", "class", "enum", "protocol", "typealias", "func", "var", "let", "actor"]
                let named = kinds.contains(words[index + 1]) && index + 2 < words.count ? words[index + 2] : words[index + 1]
                found.append(("\(folder)/\(file)", String(named.split(separator: ".").first ?? named)))
            }
        }
        return found
    }

    /// The project targets a target depends on in Package.swift.
    static func packageDependencies(of target: String) throws -> Set<String> {
        let manifest = try String(contentsOfFile: "Package.swift", encoding: .utf8)
        guard let name = manifest.range(of: #"(\.target|\.executableTarget)\(\s*name: ""# + target + #"","#, options: .regularExpression),
              let open = manifest.range(of: "dependencies: [", range: name.upperBound..<manifest.endIndex) else {
            throw Failure("Package.swift has no target \(target)")
        }
        var depth = 1
        var index = open.upperBound
        while depth > 0, index < manifest.endIndex {
            if manifest[index] == "[" { depth += 1 }
            if manifest[index] == "]" { depth -= 1 }
            index = manifest.index(after: index)
        }
        let list = manifest[open.upperBound..<index]
        // Plain string entries are targets of this package; `.product(...)` entries are not.
        let withoutProducts = list.replacingOccurrences(of: #"\.product\([^)]*\)"#, with: "", options: .regularExpression)
        let names = withoutProducts.matches(of: /"([A-Za-z]+)"/).map { String($0.1) }
        return Set(names)
    }

    @Test("every file imports only what its folder's row allows")
    func importsFollowTheTable() throws {
        let rows = try Self.layoutRows()
        #expect(rows.count >= 10, "the layout table lost rows: \(rows.map(\.folder))")
        for required in ["Sources/Fleet", "Sources/Agents", "Sources/Streaming", "Sources/fleetd"] {
            #expect(rows.contains { $0.folder == required }, "no row for \(required)")
        }
        var violations: [String] = []
        for row in rows {
            for (file, module) in try Self.imports(in: row.folder) where !Self.everywhere.contains(module) && !row.allowed.contains(module) {
                violations.append("\(file) imports \(module), which \(row.folder) may not")
            }
        }
        #expect(violations.isEmpty, "\(violations.joined(separator: "\n"))")
    }

    @Test("Package.swift declares the project dependencies the table lists, and fleetd links no bench or fake code")
    func packageAgreesWithTheTable() throws {
        for row in try Self.layoutRows() {
            let declared = try Self.packageDependencies(of: row.module)
            let listed = row.allowed.intersection(Self.projectModules)
            #expect(declared == listed, "\(row.module): Package.swift has \(declared.sorted()), the README \(listed.sorted())")
        }
        let product = try Self.packageDependencies(of: "fleetd")
        #expect(!product.contains("Benchmarks") && !product.contains("FakeProvider"))
    }

    @Test("the boundary check sees a violation when there is one")
    func checkCanFail() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("boundary-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try "import Foundation\n@testable import Fleet\nimport GRDB\n".write(toFile: "\(folder)/X.swift", atomically: true, encoding: .utf8)
        let found = try Self.imports(in: folder).map(\.module)
        #expect(found == ["Foundation", "Fleet", "GRDB"])
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }
}
