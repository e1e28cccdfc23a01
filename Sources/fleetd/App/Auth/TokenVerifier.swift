import FleetSupport
import Foundation
import JWTKit
import Store

/// Checks JWTs signed with `JWT_SECRET` (HS256, jwt-kit) and turns their claims into a caller.
///
/// Claims: `sub` (the user), `tenant`, `exp` (seconds since 1970) are required; `models`,
/// `providers` and `agent_types` (lists of names) are optional allow-lists. A bad signature, an
/// expired token, a missing or malformed claim is a ``Failure`` whose reason names the problem
/// (never the token).
struct TokenVerifier: Sendable {
    private let keys: JWTKeyCollection
    private let clock: any WallClock

    init(secret: String, clock: any WallClock = SystemWallClock()) async {
        let keys = JWTKeyCollection()
        await keys.add(hmac: HMACKey(from: secret), digestAlgorithm: .sha256)
        self.keys = keys
        self.clock = clock
    }

    /// Seconds of clock difference allowed on `exp` and `nbf`.
    static let leeway: TimeInterval = 60

    struct Failure: Error, Sendable {
        var reason: String
    }

    /// The claims fleetd reads. All optional here so that a missing one is named, not a decoding error.
    struct Claims: JWTPayload {
        var sub: SubjectClaim?
        var exp: ExpirationClaim?
        var nbf: NotBeforeClaim?
        var tenant: String?
        var models: [String]?
        var providers: [String]?
        var agentTypes: [String]?

        enum CodingKeys: String, CodingKey {
            case sub, exp, nbf, tenant, models, providers
            case agentTypes = "agent_types"
        }

        /// Checked by ``TokenVerifier/verify(_:)`` against its clock.
        func verify(using algorithm: some JWTAlgorithm) async throws {}
    }

    func verify(_ token: String) async throws(Failure) -> Caller {
        let claims: Claims
        do {
            claims = try await keys.verify(token, as: Claims.self)
        } catch let error as JWTError where error.errorType == .signatureVerificationFailed {
            throw Failure(reason: "the token's signature does not verify with JWT_SECRET (HS256)")
        } catch {
            throw Failure(reason: "the token is malformed or a claim has the wrong type")
        }
        guard let exp = claims.exp else { throw Failure(reason: "the token has no 'exp' claim") }
        // A minute's leeway either way for clocks that differ between the issuer and fleetd.
        let now = clock.now
        guard now < exp.value.addingTimeInterval(Self.leeway) else {
            throw Failure(reason: "the token expired at \(ISO8601DateFormatter().string(from: exp.value))")
        }
        if let nbf = claims.nbf, now.addingTimeInterval(Self.leeway) < nbf.value {
            throw Failure(reason: "the token is not valid before \(ISO8601DateFormatter().string(from: nbf.value)) ('nbf')")
        }
        guard let user = claims.sub?.value, !user.isEmpty else { throw Failure(reason: "the token has no 'sub' claim (the user)") }
        guard let tenant = claims.tenant, !tenant.isEmpty else { throw Failure(reason: "the token has no 'tenant' claim") }
        guard TenantName.isValid(tenant), TenantName.isValid(user) else {
            throw Failure(reason: "'tenant' and 'sub' must be 1-64 letters, digits, '.', '_' or '-'")
        }
        var providers: [ProviderKind]?
        if let names = claims.providers {
            providers = []
            for name in names {
                guard let kind = ProviderKind(rawValue: name) else {
                    throw Failure(reason: "the token's 'providers' claim names an unknown provider '\(name)'")
                }
                providers?.append(kind)
            }
        }
        let limits = APIKeyLimits(models: claims.models, providers: providers, agentTypes: claims.agentTypes)
        return Caller(kind: .token, tenantId: tenant, userId: user, limits: limits, expiresAt: exp.value)
    }
}
