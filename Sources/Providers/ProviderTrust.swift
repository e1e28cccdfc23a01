import Foundation
import NIOSSL

/// The certificates fleetd trusts on HTTPS connections to providers: the system's CA bundle, plus
/// the CA certificates in the PEM file `FLEETD_EXTRA_CA_CERTS` names, if set. That is for a
/// gateway or a proxy whose certificate a private CA signed (a company's own, a TLS-inspecting
/// proxy), as `NODE_EXTRA_CA_CERTS` is for Node. Read once at start-up: a change needs a restart.
public struct ProviderTrust: Sendable {
    /// The variable that names the PEM file.
    public static let environmentVariable = "FLEETD_EXTRA_CA_CERTS"

    /// The system's CA bundle only.
    public static let system = ProviderTrust(path: nil, extraCertificates: [])

    /// The file the extra certificates came from, if any.
    public let path: String?
    let extraCertificates: [NIOSSLCertificate]

    private init(path: String?, extraCertificates: [NIOSSLCertificate]) {
        self.path = path
        self.extraCertificates = extraCertificates
    }

    /// The trust `environment` asks for: ``system``, unless ``environmentVariable`` names a file.
    /// - Throws: ``ProviderTrustError`` naming the variable and the file when it cannot be read or
    ///   holds no PEM certificate. fleetd then refuses to start rather than call providers with
    ///   a trust the operator did not ask for.
    public static func fromEnvironment(_ environment: [String: String]) throws(ProviderTrustError) -> ProviderTrust {
        guard let path = environment[environmentVariable]?.trimmingCharacters(in: .whitespacesAndNewlines), !path.isEmpty else {
            return .system
        }
        guard FileManager.default.isReadableFile(atPath: path) else {
            throw ProviderTrustError(message: "\(environmentVariable) names \(path), which does not exist or cannot be read")
        }
        let certificates: [NIOSSLCertificate]
        do {
            certificates = try NIOSSLCertificate.fromPEMFile(path)
        } catch {
            throw ProviderTrustError(message: "\(environmentVariable) names \(path), which is not a PEM file of certificates (\(error))")
        }
        guard !certificates.isEmpty else {
            throw ProviderTrustError(message: "\(environmentVariable) names \(path), which holds no PEM certificate")
        }
        return ProviderTrust(path: path, extraCertificates: certificates)
    }

    /// How many extra certificates are trusted.
    public var extraCount: Int { extraCertificates.count }
}

/// ``ProviderTrust/fromEnvironment(_:)`` could not use the file the variable names.
public struct ProviderTrustError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public var description: String { message }
}
