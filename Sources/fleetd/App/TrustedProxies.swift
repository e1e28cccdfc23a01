import FleetSupport
import Foundation
import HTTPTypes

/// `api.trustedProxies`: whose word fleetd takes for which client a request is from.
///
/// A request from a peer that is not listed is from that peer, whatever its headers say (a client
/// can write any `X-Forwarded-For`). From a listed peer, the client is found the way nginx's
/// `real_ip_recursive` and Express's `trust proxy` find it: walk `X-Forwarded-For` from the right
/// (each proxy appends the address it received the request from) past every listed address; the
/// first address that is not listed is the client. When every address is listed, the leftmost is;
/// an entry that is not an address (garbage, `unknown`, an obfuscated `_name`) ends the walk at the
/// last address read, which a listed proxy wrote. Without `X-Forwarded-For`, RFC 7239's
/// `Forwarded: for=…` is read the same way. Ports (`192.0.2.1:4711`, `"[2001:db8::1]:4711"`) are
/// dropped; addresses come out in their canonical form, so one client is one rate-limit key.
struct TrustedProxies: Sendable {
    static let forwardedForHeader = HTTPField.Name("X-Forwarded-For")!
    static let forwardedHeader = HTTPField.Name("Forwarded")!

    let networks: [IPNetwork]

    init(_ networks: [IPNetwork]) {
        self.networks = networks
    }

    func trusts(_ address: IPAddress) -> Bool {
        networks.contains { $0.contains(address) }
    }

    /// The client's address for a request from `peer` (the TCP peer's address, as NIO writes it)
    /// with these headers; `peer` itself unless the peer is trusted and the headers name another.
    func clientAddress(peer: String?, headers: HTTPFields) -> String? {
        guard !networks.isEmpty else { return peer }
        return clientAddress(peer: peer, forwardedFor: headers[values: Self.forwardedForHeader],
                             forwarded: headers[values: Self.forwardedHeader])
    }

    /// The same from the headers' values, one element per header line.
    func clientAddress(peer: String?, forwardedFor: [String], forwarded: [String]) -> String? {
        guard let peer, let peerAddress = IPAddress(peer), trusts(peerAddress) else { return peer }
        let hops: [Substring]
        if !forwardedFor.isEmpty {
            hops = forwardedFor.flatMap { $0.split(separator: ",", omittingEmptySubsequences: false) }
        } else if !forwarded.isEmpty {
            hops = forwarded.flatMap { $0.split(separator: ",", omittingEmptySubsequences: false) }.map(Self.forParameter)
        } else {
            return peer
        }
        var client = peerAddress
        for hop in hops.reversed() {
            guard let address = Self.address(in: hop) else { break }
            client = address
            if !trusts(address) { break }
        }
        return client.description
    }

    /// The `for=` value of one `Forwarded` element (`for=192.0.2.60;proto=http;by=203.0.113.43`),
    /// unquoted; empty when the element has none.
    static func forParameter(_ element: Substring) -> Substring {
        for pair in element.split(separator: ";") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count == 2, parts[0].trimmingCharacters(in: .whitespaces).lowercased() == "for" else { continue }
            var value = parts[1].trimmingCharacters(in: .whitespaces)
            if value.count >= 2, value.hasPrefix("\""), value.hasSuffix("\"") {
                value = String(value.dropFirst().dropLast()).replacingOccurrences(of: "\\", with: "")
            }
            return Substring(value)
        }
        return ""
    }

    /// The address one hop names: a bare address, `192.0.2.1:4711`, `[2001:db8::1]` or
    /// `[2001:db8::1]:4711`; `nil` for anything else.
    static func address(in hop: Substring) -> IPAddress? {
        var text = hop.trimmingCharacters(in: .whitespaces)
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { return nil }
            let rest = text[text.index(after: close)...]
            guard rest.isEmpty || (rest.hasPrefix(":") && isPort(rest.dropFirst())) else { return nil }
            text = String(text[text.index(after: text.startIndex)..<close])
            guard text.contains(":") else { return nil }
        } else if text.filter({ $0 == ":" }).count == 1 {
            let parts = text.split(separator: ":", omittingEmptySubsequences: false)
            guard parts.count == 2, isPort(parts[1]) else { return nil }
            text = String(parts[0])
        }
        return IPAddress(text)
    }

    private static func isPort(_ text: Substring) -> Bool {
        (1...5).contains(text.count) && text.allSatisfy { $0.isASCII && $0.isWholeNumber }
    }
}
