import Foundation

/// A `Codable` JSON encoder that writes bytes directly, for fleetd's hot paths: every task's
/// response, every SSE event, every provider request and every stored record.
///
/// Why by hand: Foundation's `JSONEncoder` first builds a tree of boxed values and dictionaries
/// and then serialises it, which made it one of the largest costs of a task under load (see
/// docs/performance.md), and none of the packages fleetd may use offers a faster `Encodable`
/// JSON encoder. This one appends to one byte array as `encode(to:)` runs: a container is closed
/// when its parent writes again or when the value that opened it returns.
///
/// Output is what `JSONEncoder` with `.iso8601` dates and `.withoutEscapingSlashes` writes, except
/// that a struct's keys come in declaration order (dictionary keys are sorted): `Date` as
/// `2026-11-22T05:00:00Z` (whole seconds, UTC), `Data` as Base64, `URL` as its absolute string,
/// `Double` as its shortest round-trip text without a trailing `.0`, `nil` optionals left out by
/// the synthesised code. NaN and infinity throw `EncodingError.invalidValue`, as `JSONEncoder` does.
public struct FastJSONEncoder: Sendable {
    public init() {}

    /// The JSON for `value`, as UTF-8 bytes.
    public func encode<Value: Encodable>(_ value: Value) throws -> [UInt8] {
        let writer = JSONByteWriter()
        try writer.encodeValue(value, level: 0)
        writer.close(to: 0)
        return writer.bytes
    }

    public func encodeToData<Value: Encodable>(_ value: Value) throws -> Data {
        Data(try encode(value))
    }

    public func encodeToString<Value: Encodable>(_ value: Value) throws -> String {
        String(decoding: try encode(value), as: UTF8.self)
    }
}

/// The encoder ``FastJSONEncoder`` hands to `encode(to:)`, which takes a value's JSON text whole:
/// a type that can write its own text (``JSONValue`` in Providers) asks for this in `encode(to:)`
/// and writes it, rather than going through the containers. A container and a boxed single-value
/// container per value made a JSON tree (a compatible endpoint's whole answer, every SSE chunk)
/// the largest cost of its encoding (docs/performance.md, "JSON answers written by hand"). The
/// check is in the type's own `encode(to:)`, so no other type pays for it.
public protocol JSONTextEncoder: Encoder {
    /// Appends one complete JSON value's text, as ``JSONText`` writes it, where the value being
    /// encoded goes.
    func writeJSON(_ write: (inout [UInt8]) throws -> Void) rethrows
}

/// The pieces of JSON text ``FastJSONEncoder`` writes, for a ``JSONTextEncoder``'s callers.
public enum JSONText {
    /// A JSON string: `"` and `\` escaped, control characters as `\n`, `\t` … or `\u00XX`; `/`
    /// and non-ASCII characters as they are.
    public static func appendString(_ string: String, to bytes: inout [UInt8]) {
        var string = string
        string.withUTF8 { utf8 in
            bytes.append(UInt8(ascii: "\""))
            var runStart = 0
            for index in 0..<utf8.count {
                let byte = utf8[index]
                guard byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") else { continue }
                bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart..<index]))
                runStart = index + 1
                switch byte {
                case UInt8(ascii: "\""): bytes.append(contentsOf: #"\""#.utf8)
                case UInt8(ascii: "\\"): bytes.append(contentsOf: #"\\"#.utf8)
                case 0x0A: bytes.append(contentsOf: #"\n"#.utf8)
                case 0x0D: bytes.append(contentsOf: #"\r"#.utf8)
                case 0x09: bytes.append(contentsOf: #"\t"#.utf8)
                case 0x08: bytes.append(contentsOf: #"\b"#.utf8)
                case 0x0C: bytes.append(contentsOf: #"\f"#.utf8)
                default:
                    let hex = Array("0123456789abcdef".utf8)
                    bytes.append(contentsOf: #"\u00"#.utf8)
                    bytes.append(hex[Int(byte >> 4)])
                    bytes.append(hex[Int(byte & 0x0F)])
                }
            }
            bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart..<utf8.count]))
            bytes.append(UInt8(ascii: "\""))
        }
    }

    /// The shortest text that reads back as `value`, without a trailing `.0`. NaN and infinity
    /// throw `EncodingError.invalidValue`, as `JSONEncoder` does.
    public static func appendNumber<Number: BinaryFloatingPoint & CustomStringConvertible & Sendable>(_ value: Number, to bytes: inout [UInt8]) throws {
        guard value.isFinite else {
            throw EncodingError.invalidValue(value, EncodingError.Context(codingPath: [], debugDescription: "\(value) is not valid in JSON"))
        }
        var text = value.description
        if text.hasSuffix(".0") { text.removeLast(2) }
        appendRaw(text, to: &bytes)
    }

    /// An integer's digits.
    public static func appendInteger(_ value: some BinaryInteger & CustomStringConvertible, to bytes: inout [UInt8]) {
        appendRaw(value.description, to: &bytes)
    }

    static func appendRaw(_ text: String, to bytes: inout [UInt8]) {
        var text = text
        text.withUTF8 { bytes.append(contentsOf: $0) }
    }
}

/// Dictionaries with string keys write their keys sorted, so the same map always gives the same text.
private protocol SortedKeysJSONEncodable {
    func encodeSorted(into writer: JSONByteWriter, level: Int) throws
}

extension Dictionary: SortedKeysJSONEncodable where Key == String, Value: Encodable {
    fileprivate func encodeSorted(into writer: JSONByteWriter, level: Int) throws {
        writer.open(object: true, level: level)
        for key in keys.sorted() {
            writer.beginMember(key, depth: level + 1)
            try writer.encodeValue(self[key]!, level: level + 1)
        }
        writer.close(to: level)
    }
}

/// The output and the stack of open containers. One per `encode` call, used by one thread.
final class JSONByteWriter {
    private struct Frame {
        var object: Bool
        var count = 0
    }

    // Exclusivity is checked statically only: a writer lives inside one `encode` call on one
    // thread, and no method holds an access to these across a call that touches them again
    // (closures passed to `withUTF8` touch `bytes` only while `string`, not `bytes`, is borrowed).
    // The dynamic checks were a fifth of the encoder's time.
    @exclusivity(unchecked) private(set) var bytes: [UInt8] = []
    @exclusivity(unchecked) private var frames: [Frame] = []
    /// A key or an array slot was written and its value has not been yet.
    @exclusivity(unchecked) private var awaitingValue = true

    init() {
        bytes.reserveCapacity(512)
        frames.reserveCapacity(8)
    }

    func count(at depth: Int) -> Int {
        depth > 0 && depth <= frames.count ? frames[depth - 1].count : 0
    }

    // MARK: Structure

    /// Opens an object or array as the value at `level`, or reuses the one already open there
    /// (an `encode(to:)` may ask its encoder for a container more than once).
    func open(object: Bool, level: Int) {
        if frames.count > level {
            close(to: level + 1)
            return
        }
        close(to: level)
        bytes.append(object ? UInt8(ascii: "{") : UInt8(ascii: "["))
        frames.append(Frame(object: object))
        awaitingValue = false
    }

    /// Closes every container deeper than `depth`; a key left without a value gets `null`.
    func close(to depth: Int) {
        while frames.count > depth {
            if awaitingValue {
                bytes.append(contentsOf: "null".utf8)
            }
            awaitingValue = false
            let frame = frames.removeLast()
            bytes.append(frame.object ? UInt8(ascii: "}") : UInt8(ascii: "]"))
        }
    }

    /// Writes `"key":` into the object open at `depth`.
    func beginMember(_ key: String, depth: Int) {
        close(to: depth)
        if awaitingValue { bytes.append(contentsOf: "null".utf8) }
        if frames[depth - 1].count > 0 { bytes.append(UInt8(ascii: ",")) }
        frames[depth - 1].count += 1
        writeString(key)
        bytes.append(UInt8(ascii: ":"))
        awaitingValue = true
    }

    /// Starts the next element of the array open at `depth`.
    func beginElement(depth: Int) {
        close(to: depth)
        if awaitingValue { bytes.append(contentsOf: "null".utf8) }
        if frames[depth - 1].count > 0 { bytes.append(UInt8(ascii: ",")) }
        frames[depth - 1].count += 1
        awaitingValue = true
    }

    // MARK: Values

    func encodeValue<Value: Encodable>(_ value: Value, level: Int) throws {
        if Value.self == Date.self {
            writeDate(value as! Date)
        } else if Value.self == URL.self {
            writeString((value as! URL).absoluteString)
        } else if Value.self == Data.self {
            writeString((value as! Data).base64EncodedString())
        } else if Value.self == Decimal.self {
            writeRaw((value as! Decimal).description)
        } else if let dictionary = value as? any SortedKeysJSONEncodable {
            try dictionary.encodeSorted(into: self, level: level)
        } else {
            let start = bytes.count
            try value.encode(to: ContainerEncoder(writer: self, level: level))
            if frames.count > level {
                close(to: level)
            } else if awaitingValue, bytes.count == start {
                // A type that encoded nothing: an empty object, as JSONEncoder writes.
                bytes.append(contentsOf: "{}".utf8)
                awaitingValue = false
            }
        }
    }

    func writeNull() {
        bytes.append(contentsOf: "null".utf8)
        awaitingValue = false
    }

    func writeBool(_ value: Bool) {
        bytes.append(contentsOf: value ? "true".utf8 : "false".utf8)
        awaitingValue = false
    }

    func writeInteger(_ value: some BinaryInteger & CustomStringConvertible) {
        writeRaw(value.description)
    }

    /// The shortest text that reads back as `value` (its own type's, so a `Float` 0.1 is `0.1`),
    /// without a trailing `.0`.
    func writeNumber<Number: BinaryFloatingPoint & CustomStringConvertible & Sendable>(_ value: Number) throws {
        try JSONText.appendNumber(value, to: &bytes)
        awaitingValue = false
    }

    func writeRaw(_ text: String) {
        JSONText.appendRaw(text, to: &bytes)
        awaitingValue = false
    }

    /// A value's whole text, written by `write` (``JSONTextEncoder``).
    func writeJSON(_ write: (inout [UInt8]) throws -> Void) rethrows {
        try write(&bytes)
        awaitingValue = false
    }

    /// A JSON string (``JSONText/appendString(_:to:)``).
    func writeString(_ string: String) {
        JSONText.appendString(string, to: &bytes)
        awaitingValue = false
    }

    /// `yyyy-MM-ddTHH:mm:ssZ` in UTC, whole seconds rounded down, as `JSONEncoder`'s `.iso8601`.
    func writeDate(_ date: Date) {
        let seconds = Int(date.timeIntervalSince1970.rounded(.down))
        let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        let secondOfDay = seconds - days * 86_400
        // Howard Hinnant's civil_from_days.
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1_460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        bytes.append(UInt8(ascii: "\""))
        appendDigits(year, width: 4)
        bytes.append(UInt8(ascii: "-"))
        appendDigits(month, width: 2)
        bytes.append(UInt8(ascii: "-"))
        appendDigits(day, width: 2)
        bytes.append(UInt8(ascii: "T"))
        appendDigits(secondOfDay / 3_600, width: 2)
        bytes.append(UInt8(ascii: ":"))
        appendDigits(secondOfDay / 60 % 60, width: 2)
        bytes.append(UInt8(ascii: ":"))
        appendDigits(secondOfDay % 60, width: 2)
        bytes.append(contentsOf: "Z\"".utf8)
        awaitingValue = false
    }

    private func appendDigits(_ value: Int, width: Int) {
        var divisor = 1
        for _ in 1..<width { divisor *= 10 }
        var rest = value
        if rest >= divisor * 10 {
            // Years past 9999 keep every digit.
            let text = String(rest)
            bytes.append(contentsOf: text.utf8)
            return
        }
        while divisor > 0 {
            bytes.append(UInt8(ascii: "0") + UInt8(rest / divisor))
            rest %= divisor
            divisor /= 10
        }
    }
}

// MARK: - The Encoder and its containers

private struct ContainerEncoder: JSONTextEncoder {
    let writer: JSONByteWriter
    let level: Int
    var codingPath: [any CodingKey] { [] }
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func writeJSON(_ write: (inout [UInt8]) throws -> Void) rethrows {
        try writer.writeJSON(write)
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        writer.open(object: true, level: level)
        return KeyedEncodingContainer(KeyedContainer<Key>(writer: writer, depth: level + 1))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        writer.open(object: false, level: level)
        return UnkeyedContainer(writer: writer, depth: level + 1)
    }

    func singleValueContainer() -> any SingleValueEncodingContainer {
        SingleValueContainer(writer: writer, level: level)
    }
}

private struct KeyedContainer<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let writer: JSONByteWriter
    let depth: Int
    var codingPath: [any CodingKey] { [] }

    private func member(_ key: Key) { writer.beginMember(key.stringValue, depth: depth) }

    mutating func encodeNil(forKey key: Key) throws { member(key); writer.writeNull() }
    mutating func encode(_ value: Bool, forKey key: Key) throws { member(key); writer.writeBool(value) }
    mutating func encode(_ value: String, forKey key: Key) throws { member(key); writer.writeString(value) }
    mutating func encode(_ value: Double, forKey key: Key) throws { member(key); try writer.writeNumber(value) }
    mutating func encode(_ value: Float, forKey key: Key) throws { member(key); try writer.writeNumber(value) }
    mutating func encode(_ value: Int, forKey key: Key) throws { member(key); writer.writeInteger(value) }
    mutating func encode(_ value: Int8, forKey key: Key) throws { member(key); writer.writeInteger(value) }
    mutating func encode(_ value: Int16, forKey key: Key) throws { member(key); writer.writeInteger(value) }
    mutating func encode(_ value: Int32, forKey key: Key) throws { member(key); writer.writeInteger(value) }
    mutating func encode(_ value: Int64, forKey key: Key) throws { member(key); writer.writeInteger(value) }
    mutating func encode(_ value: UInt, forKey key: Key) throws { member(key); writer.writeInteger(value) }
    mutating func encode(_ value: UInt8, forKey key: Key) throws { member(key); writer.writeInteger(value) }
    mutating func encode(_ value: UInt16, forKey key: Key) throws { member(key); writer.writeInteger(value) }
    mutating func encode(_ value: UInt32, forKey key: Key) throws { member(key); writer.writeInteger(value) }
    mutating func encode(_ value: UInt64, forKey key: Key) throws { member(key); writer.writeInteger(value) }

    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
        member(key)
        try writer.encodeValue(value, level: depth)
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key) -> KeyedEncodingContainer<NestedKey> {
        member(key)
        writer.open(object: true, level: depth)
        return KeyedEncodingContainer(KeyedContainer<NestedKey>(writer: writer, depth: depth + 1))
    }

    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        member(key)
        writer.open(object: false, level: depth)
        return UnkeyedContainer(writer: writer, depth: depth + 1)
    }

    mutating func superEncoder() -> any Encoder {
        writer.beginMember("super", depth: depth)
        return ContainerEncoder(writer: writer, level: depth)
    }

    mutating func superEncoder(forKey key: Key) -> any Encoder {
        member(key)
        return ContainerEncoder(writer: writer, level: depth)
    }
}

private struct UnkeyedContainer: UnkeyedEncodingContainer {
    let writer: JSONByteWriter
    let depth: Int
    var codingPath: [any CodingKey] { [] }
    var count: Int { writer.count(at: depth) }

    private func element() { writer.beginElement(depth: depth) }

    mutating func encodeNil() throws { element(); writer.writeNull() }
    mutating func encode(_ value: Bool) throws { element(); writer.writeBool(value) }
    mutating func encode(_ value: String) throws { element(); writer.writeString(value) }
    mutating func encode(_ value: Double) throws { element(); try writer.writeNumber(value) }
    mutating func encode(_ value: Float) throws { element(); try writer.writeNumber(value) }
    mutating func encode(_ value: Int) throws { element(); writer.writeInteger(value) }
    mutating func encode(_ value: Int8) throws { element(); writer.writeInteger(value) }
    mutating func encode(_ value: Int16) throws { element(); writer.writeInteger(value) }
    mutating func encode(_ value: Int32) throws { element(); writer.writeInteger(value) }
    mutating func encode(_ value: Int64) throws { element(); writer.writeInteger(value) }
    mutating func encode(_ value: UInt) throws { element(); writer.writeInteger(value) }
    mutating func encode(_ value: UInt8) throws { element(); writer.writeInteger(value) }
    mutating func encode(_ value: UInt16) throws { element(); writer.writeInteger(value) }
    mutating func encode(_ value: UInt32) throws { element(); writer.writeInteger(value) }
    mutating func encode(_ value: UInt64) throws { element(); writer.writeInteger(value) }

    mutating func encode<T: Encodable>(_ value: T) throws {
        element()
        try writer.encodeValue(value, level: depth)
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
        element()
        writer.open(object: true, level: depth)
        return KeyedEncodingContainer(KeyedContainer<NestedKey>(writer: writer, depth: depth + 1))
    }

    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
        element()
        writer.open(object: false, level: depth)
        return UnkeyedContainer(writer: writer, depth: depth + 1)
    }

    mutating func superEncoder() -> any Encoder {
        element()
        return ContainerEncoder(writer: writer, level: depth)
    }
}

private struct SingleValueContainer: SingleValueEncodingContainer {
    let writer: JSONByteWriter
    let level: Int
    var codingPath: [any CodingKey] { [] }

    mutating func encodeNil() throws { writer.writeNull() }
    mutating func encode(_ value: Bool) throws { writer.writeBool(value) }
    mutating func encode(_ value: String) throws { writer.writeString(value) }
    mutating func encode(_ value: Double) throws { try writer.writeNumber(value) }
    mutating func encode(_ value: Float) throws { try writer.writeNumber(value) }
    mutating func encode(_ value: Int) throws { writer.writeInteger(value) }
    mutating func encode(_ value: Int8) throws { writer.writeInteger(value) }
    mutating func encode(_ value: Int16) throws { writer.writeInteger(value) }
    mutating func encode(_ value: Int32) throws { writer.writeInteger(value) }
    mutating func encode(_ value: Int64) throws { writer.writeInteger(value) }
    mutating func encode(_ value: UInt) throws { writer.writeInteger(value) }
    mutating func encode(_ value: UInt8) throws { writer.writeInteger(value) }
    mutating func encode(_ value: UInt16) throws { writer.writeInteger(value) }
    mutating func encode(_ value: UInt32) throws { writer.writeInteger(value) }
    mutating func encode(_ value: UInt64) throws { writer.writeInteger(value) }

    mutating func encode<T: Encodable>(_ value: T) throws {
        try writer.encodeValue(value, level: level)
    }
}
