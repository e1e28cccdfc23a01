import Crypto
import Foundation
import NIOSSL
import Providers
import SwiftASN1
import X509

/// A certificate authority made at run time, and a server certificate it signed for `127.0.0.1`
/// and `localhost`: what the fake provider's HTTPS mode serves, and what a client must be told
/// to trust (``caPEM``, e.g. through `FLEETD_EXTRA_CA_CERTS`). Nothing is kept on disk unless
/// written with ``writeCA(to:)``; the keys live as long as the process.
public struct FakeTLS: Sendable {
    /// The CA's certificate, PEM.
    public let caPEM: String
    let certificate: NIOSSLCertificate
    let key: NIOSSLPrivateKey

    /// A fresh CA and server certificate, valid from an hour ago for a day.
    public static func make() throws -> FakeTLS {
        let now = Date()
        let caKey = P256.Signing.PrivateKey()
        let caName = try DistinguishedName { CommonName("fleetd test CA") }
        let ca = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: .init(caKey.publicKey),
            notValidBefore: now - 3_600, notValidAfter: now + 86_400, issuer: caName, subject: caName,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
                KeyUsage(keyCertSign: true)
            },
            issuerPrivateKey: .init(caKey)
        )
        let serverKey = P256.Signing.PrivateKey()
        let server = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: .init(serverKey.publicKey),
            notValidBefore: now - 3_600, notValidAfter: now + 86_400, issuer: caName,
            subject: try DistinguishedName { CommonName("localhost") },
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                try ExtendedKeyUsage([.serverAuth])
                SubjectAlternativeNames([.dnsName("localhost"), .ipAddress(ASN1OctetString(contentBytes: [127, 0, 0, 1]))])
            },
            issuerPrivateKey: .init(caKey)
        )
        let serverPEM = try server.serializeAsPEM().pemString
        return FakeTLS(
            caPEM: try ca.serializeAsPEM().pemString,
            certificate: try NIOSSLCertificate(bytes: Array(serverPEM.utf8), format: .pem),
            key: try NIOSSLPrivateKey(bytes: Array(serverKey.pemRepresentation.utf8), format: .pem)
        )
    }

    /// Writes the CA's certificate to `url` (a file a client can be pointed at).
    public func writeCA(to url: URL) throws {
        try caPEM.write(to: url, atomically: true, encoding: .utf8)
    }

    /// What a client that trusts this CA is made with: read from a file, as fleetd reads
    /// `FLEETD_EXTRA_CA_CERTS` (the file is removed afterwards).
    public func providerTrust() throws -> ProviderTrust {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("fake-ca-\(UUID().uuidString).pem")
        try writeCA(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        return try ProviderTrust.fromEnvironment([ProviderTrust.environmentVariable: file.path])
    }

    /// The server side: this certificate, HTTP/2 offered first, HTTP/1.1 beside it.
    func serverConfiguration() -> TLSConfiguration {
        var configuration = TLSConfiguration.makeServerConfiguration(certificateChain: [.certificate(certificate)], privateKey: .privateKey(key))
        configuration.applicationProtocols = ["h2", "http/1.1"]
        return configuration
    }
}
