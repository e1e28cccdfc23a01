/// A key pattern for ``MemoryStore/query(partition:pattern:reader:limit:)``.
///
/// `*` matches any run of characters (also none), `?` exactly one character, and `\` makes the
/// next character literal. Every other character, including SQL's `%`, `_`, `'` and `"`, and
/// GLOB's `[` and `]`, matches only itself. Matching is case-sensitive.
public struct MemoryPattern: Sendable, Hashable, CustomStringConvertible {
    /// The pattern as written.
    public let source: String
    /// The literal text before the first wildcard: used as a primary-key range scan.
    public let literalPrefix: String
    /// The SQLite GLOB expression matching exactly the keys the pattern means.
    let glob: String
    /// The same as a PostgreSQL LIKE pattern (escape character `\`).
    let like: String
    /// Whether the pattern has any wildcard (if not, it names one key).
    public let hasWildcards: Bool

    /// Parses a pattern.
    /// - Throws: ``StoreError`` `.invalidValue` for a trailing lone backslash.
    public init(_ source: String) throws {
        self.source = source
        var prefix = ""
        var glob = ""
        var like = ""
        var sawWildcard = false
        var escaping = false
        for character in source {
            if escaping {
                escaping = false
                glob += Self.literal(character)
                like += Self.likeLiteral(character)
                if !sawWildcard { prefix.append(character) }
                continue
            }
            switch character {
            case "\\":
                escaping = true
            case "*", "?":
                sawWildcard = true
                glob.append(character)
                like.append(character == "*" ? "%" : "_")
            default:
                glob += Self.literal(character)
                like += Self.likeLiteral(character)
                if !sawWildcard { prefix.append(character) }
            }
        }
        if escaping {
            throw StoreError(.invalidValue, "key pattern '\(source)' ends with a lone backslash; write \\\\ for a literal backslash")
        }
        self.literalPrefix = prefix
        self.glob = glob
        self.like = like
        self.hasWildcards = sawWildcard
    }

    /// A character as a GLOB literal: the three GLOB specials go in a one-character class.
    private static func literal(_ character: Character) -> String {
        switch character {
        case "*": "[*]"
        case "?": "[?]"
        case "[": "[[]"
        default: String(character)
        }
    }

    /// A character as a LIKE literal: LIKE's two wildcards and its escape character are escaped.
    private static func likeLiteral(_ character: Character) -> String {
        switch character {
        case "%", "_", "\\": "\\" + String(character)
        default: String(character)
        }
    }

    public var description: String { source }
}
