import Crypto
import Foundation

/// The text of a virtual API key: `fk-<id>-<secret>`, where `<id>` is the key's 8-character
/// public id and `<secret>` 32 random bytes in unpadded base64url (43 characters). fleetd keeps
/// only SHA-256 of the 32 bytes; the text is shown once, when the key is made.
public enum APIKeySecret {
    public static let prefix = "fk-"
    static let idLength = 8
    static let secretLength = 43

    /// A new id and secret from the system's random source.
    static func generate() -> (id: String, text: String, hash: [UInt8]) {
        var generator = SystemRandomNumberGenerator()
        let digits = Array("0123456789abcdefghijklmnopqrstuvwxyz")
        let id = String((0..<idLength).map { _ in digits[Int(generator.next(upperBound: UInt64(digits.count)))] })
        let secret = (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        let text = "\(prefix)\(id)-\(base64URL(secret))"
        return (id, text, hash(secret))
    }

    /// The id and the secret's hash of a presented key; `nil` when it does not have the form.
    static func parse(_ text: String) -> (id: String, hash: [UInt8])? {
        let utf8 = Array(text.utf8)
        let head = prefix.utf8.count
        guard utf8.count == head + idLength + 1 + secretLength, text.hasPrefix(prefix), utf8[head + idLength] == UInt8(ascii: "-") else {
            return nil
        }
        let id = String(decoding: utf8[head..<(head + idLength)], as: UTF8.self)
        let encoded = String(decoding: utf8[(head + idLength + 1)...], as: UTF8.self)
        guard let secret = fromBase64URL(encoded), secret.count == 32 else { return nil }
        return (id, hash(secret))
    }

    static func hash(_ secret: [UInt8]) -> [UInt8] {
        Array(SHA256.hash(data: secret))
    }

    private static func base64URL(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    private static func fromBase64URL(_ text: String) -> [UInt8]? {
        var standard = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        standard += String(repeating: "=", count: (4 - standard.count % 4) % 4)
        return Data(base64Encoded: standard).map { Array($0) }
    }

    /// Compares two digests in time that does not depend on where they differ.
    static func equal(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for index in a.indices { difference |= a[index] ^ b[index] }
        return difference == 0
    }
}

/// A key just made: its record and its text, which fleetd shows this once and never stores.
/// Printing it (``description``) shows only the prefix, so it cannot reach a log by accident.
public struct IssuedAPIKey: Sendable, CustomStringConvertible {
    public let record: APIKeyRecord
    /// The whole key, for the one answer that hands it over.
    public let secret: String

    public var description: String { "\(record.prefix)-… (secret not shown)" }
}
