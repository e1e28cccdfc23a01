import ArgumentParser
import Fleet
import FleetSupport
import Foundation
import Store

/// `fleetd keys create|list|revoke`: virtual API keys in the store of `--data-dir` (with
/// `database.type: postgres`, the shared store). The service sees a change from its next request
/// (it reads the same table).
struct KeysCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys",
        abstract: "Make, list and revoke virtual API keys.",
        subcommands: [Create.self, List.self, Revoke.self]
    )

    struct StoreOptions: ParsableArguments {
        @OptionGroup var options: ConfigOptions

        @Option(name: .customLong("data-dir"), help: ArgumentHelp("Where fleetd keeps its database.", valueName: "dir"))
        var dataDir: String = "data"

        /// Runs `body` with the keys of the config's store: this data directory's SQLite file, or
        /// with `database.type: postgres` the shared store (every instance sees the change).
        /// - Parameter creating: whether a SQLite file that does not exist yet may be made (a key
        ///   made before fleetd first ran); otherwise a missing file is an error that names it,
        ///   not an empty store made where fleetd never looks.
        func withKeys<T: Sendable>(creating: Bool = false, _ body: (FleetConfig, APIKeyStore) async throws -> T) async throws -> T {
            let config = try options.load().config
            if config.database.type == .postgres {
                return try await withPostgresStore(config) { try await body(config, APIKeyStore(postgres: $0)) }
            }
            let directory = URL(fileURLWithPath: dataDir, isDirectory: true)
            let url = DataPlane.databaseURL(for: config, dataDirectory: directory)
            let existed = FileManager.default.fileExists(atPath: url.path)
            guard existed || creating else {
                throw UserError("no database at \(url.path): has fleetd run with --data-dir \(dataDir)? Pass the --data-dir fleetd serves from")
            }
            if !existed {
                FileHandle.standardError.write(Data(("\(url.path) did not exist and is made now: fleetd serve must run with --data-dir \(dataDir) "
                    + "for this key to count\n").utf8))
            }
            let keys: APIKeyStore
            do {
                try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
                keys = APIKeyStore(database: try await StoreDatabase(path: url.path))
            } catch let error as StoreError {
                throw UserError("cannot open the database \(url.path): \(error)")
            }
            return try await body(config, keys)
        }
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make a key. Its text is printed once (standard output) and stored only as a hash.")

        @OptionGroup var store: StoreOptions
        @Option(help: "The tenant the key acts for (1-64 of A-Z a-z 0-9 . _ -).") var tenant: String
        @Option(help: "The user the key acts for (rollout stickiness).") var user: String?
        @Option(help: "A label for people.") var name: String?
        @Option(name: .customLong("budget-daily"), help: "US dollars per day.") var budgetDaily: Double?
        @Option(name: .customLong("budget-weekly"), help: "US dollars per ISO week.") var budgetWeekly: Double?
        @Option(name: .customLong("budget-monthly"), help: "US dollars per calendar month.") var budgetMonthly: Double?
        @Option(help: "Requests per minute.") var rpm: Int?
        @Option(help: "Tokens (input + output) per minute.") var tpm: Int?
        @Option(help: "Comma-separated model names the key may use.") var models: String?
        @Option(help: "Comma-separated providers the key may use.") var providers: String?
        @Option(name: .customLong("agent-types"), help: "Comma-separated agent types the key may use.") var agentTypes: String?
        @Option(help: "Lifetime: 30d, 12h, 90m, 3600s.") var expires: String?
        @Flag(help: "Print the key and its record as JSON.") var json = false

        func run() async throws {
            try await store.withKeys(creating: true) { config, keys in try await create(config: config, keys: keys) }
        }

        private func create(config: FleetConfig, keys: APIKeyStore) async throws {
            let spec = KeySpec(tenant: tenant, user: user, name: name, budgetDaily: budgetDaily, budgetWeekly: budgetWeekly,
                               budgetMonthly: budgetMonthly, rpm: rpm, tpm: tpm, models: list(models), providers: list(providers),
                               agentTypes: list(agentTypes), expires: expires)
            let issued: IssuedAPIKey
            do {
                let (limits, expiresAt) = try spec.resolved(against: config)
                issued = try await keys.create(tenant: tenant, user: user, name: name, limits: limits, expiresAt: expiresAt)
            } catch let invalid as KeySpec.Invalid {
                throw UserError("--\(Self.option(invalid.field)): \(invalid.message)")
            } catch let error as StoreError where error.code == .invalidValue {
                throw UserError(error.message)
            }
            if json {
                print(try KeyFormatter.json(IssuedKeyView(key: issued.secret, record: KeyView(issued.record))))
            } else {
                print(issued.secret)
                let place = config.database.type == .postgres ? "the PostgreSQL store"
                    : DataPlane.databaseURL(for: config, dataDirectory: URL(fileURLWithPath: store.dataDir, isDirectory: true)).path
                FileHandle.standardError.write(Data("key \(issued.record.prefix) for tenant \(tenant) made in \(place); it is shown this once and stored only as a hash\n".utf8))
            }
        }

        private func list(_ text: String?) -> [String]? {
            text.map { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty } }
        }

        static func option(_ field: String) -> String {
            field == "agentTypes" ? "agent-types" : field
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List every key (never its secret).")

        @OptionGroup var store: StoreOptions
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            try await store.withKeys { _, keys in
                let views = try await keys.list().map { KeyView($0) }
                print(json ? try KeyFormatter.json(["keys": views]) : KeyFormatter.table(views), terminator: json ? "\n" : "")
            }
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Revoke a key from its next request on.",
            discussion: "A key revoked before stays as it was: the command says when it was revoked and exits 1.")

        @OptionGroup var store: StoreOptions
        @Argument(help: "The key's id (or its fk-<id> prefix).") var id: String

        func run() async throws {
            let bare = id.hasPrefix(APIKeySecret.prefix) ? String(id.dropFirst(APIKeySecret.prefix.count)) : id
            try await store.withKeys { _, keys in
                guard let revocation = try await keys.revoke(id: bare) else { throw UserError("no API key '\(bare)'") }
                let record = revocation.record
                // As the admin API's 409: said, not done again (exit 1).
                if revocation.wasAlreadyRevoked { throw UserError(KeyRoutes.alreadyRevoked(record)) }
                print("revoked \(record.prefix) (tenant \(record.tenant))")
            }
        }
    }
}
