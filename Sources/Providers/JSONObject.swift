import OrderedCollections

/// A JSON object's members in the order they were written.
///
/// Why not `[String: JSONValue]`: the order of an object's members is meaning a client gives and
/// a provider keeps. A structured-output or tool schema's properties are generated in the order
/// they are listed (a `reasoning` property before `answer` is how a client asks for the reasoning
/// first), and a relayed answer's members should reach the client as the model wrote them. A
/// `Dictionary` forgets the order, so fleetd wrote every object with its keys sorted.
///
/// Equality and hashing ignore the order, as JSON's object semantics do; the text keeps it.
public struct JSONObject: Sendable, Hashable, Sequence, ExpressibleByDictionaryLiteral {
    public private(set) var members: OrderedDictionary<String, JSONValue>

    public init() { members = [:] }

    public init(_ members: OrderedDictionary<String, JSONValue>) { self.members = members }

    /// From an unordered dictionary (a `Codable` decode, code that builds one): its keys sorted,
    /// so the text is the same on every run.
    public init(_ dictionary: [String: JSONValue]) {
        members = OrderedDictionary(uniqueKeysWithValues: dictionary.sorted { $0.key < $1.key })
    }

    /// In the literal's order; a repeated key keeps its first place and takes the last value.
    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        members = [:]
        for (key, value) in elements { members[key] = value }
    }

    public subscript(key: String) -> JSONValue? {
        get { members[key] }
        set { members[key] = newValue }
    }

    public var keys: OrderedSet<String> { members.keys }
    public var values: OrderedDictionary<String, JSONValue>.Values { members.values }
    public var count: Int { members.count }
    public var isEmpty: Bool { members.isEmpty }

    @discardableResult
    public mutating func removeValue(forKey key: String) -> JSONValue? { members.removeValue(forKey: key) }

    /// Adds `other`'s members after these; for a key in both, `combine` picks the value, which keeps this place.
    public mutating func merge(_ other: JSONObject, uniquingKeysWith combine: (JSONValue, JSONValue) throws -> JSONValue) rethrows {
        try members.merge(other.members, uniquingKeysWith: combine)
    }

    public func mapValues(_ transform: (JSONValue) throws -> JSONValue) rethrows -> JSONObject {
        JSONObject(try members.mapValues(transform))
    }

    public func makeIterator() -> OrderedDictionary<String, JSONValue>.Iterator { members.makeIterator() }

    public static func == (lhs: JSONObject, rhs: JSONObject) -> Bool {
        lhs.count == rhs.count && lhs.members.allSatisfy { rhs.members[$0.key] == $0.value }
    }

    public func hash(into hasher: inout Hasher) {
        // Order-free: the members' own hashes summed.
        var sum = 0
        for (key, value) in members {
            var member = Hasher()
            member.combine(key)
            member.combine(value)
            sum &+= member.finalize()
        }
        hasher.combine(count)
        hasher.combine(sum)
    }
}
