import Fleet
import FleetSupport
import Foundation
import HTTPTypes
import Logging
import Store
import Synchronization

/// Decides who a request comes from: the admin token, v1.0.4's shared `API_KEY`, a virtual key
/// (`fk-…`), or a JWT signed with `JWT_SECRET`; or, when no credential is configured at all, an
/// open caller with full access (README, "Authentication").
///
/// Authentication is required as soon as a credential exists: `API_KEY`, `JWT_SECRET`, or any
/// virtual key in the store (revoked and expired ones too, so revoking the last key never opens
/// the service). Without any, an unrecognised credential is ignored (SDKs send placeholder keys).
/// Failures are 401s whose message says what is wrong, never echoing the credential.
final class Authenticator: Sendable {
    private let sharedKey: String?
    private let adminToken: String?
    private let tokens: TokenVerifier?
    let keys: APIKeyStore
    private let logger: Logger
    /// Whether the store held a key when last looked (refreshed at most once a second).
    private let keysSeen = Mutex<(exists: Bool, checked: ContinuousClock.Instant)?>(nil)

    /// - Throws: ``UserError`` for a `JWT_SECRET` shorter than 32 bytes (HS256 needs a key at
    ///   least as long as its hash).
    init(sharedKey: String?, jwtSecret: String?, adminToken: String?, keys: APIKeyStore, clock: any WallClock = SystemWallClock(),
         logger: Logger) async throws {
        self.sharedKey = sharedKey.flatMap { $0.isEmpty ? nil : $0 }
        self.adminToken = adminToken.flatMap { $0.isEmpty ? nil : $0 }
        if let secret = jwtSecret, !secret.isEmpty {
            guard secret.utf8.count >= 32 else {
                throw UserError("JWT_SECRET must be at least 32 bytes for HS256 (it has \(secret.utf8.count)); use a longer random secret")
            }
            tokens = await TokenVerifier(secret: secret, clock: clock)
        } else {
            tokens = nil
        }
        self.keys = keys
        self.logger = logger
    }

    /// The credential kinds configured, for the start-up log (names, never values).
    func configuredModes() async -> [String] {
        var modes: [String] = []
        if sharedKey != nil { modes.append("API_KEY") }
        if tokens != nil { modes.append("JWT (JWT_SECRET)") }
        if (try? await keys.hasKeys()) == true { modes.append("virtual keys") }
        return modes
    }

    /// Whether every guarded route needs a credential now.
    func required() async -> Bool {
        if sharedKey != nil || tokens != nil { return true }
        let now = ContinuousClock.now
        if let seen = keysSeen.withLock({ $0 }), seen.exists || now - seen.checked < .seconds(1) { return seen.exists }
        let exists: Bool
        do {
            exists = try await keys.hasKeys()
        } catch {
            // The shared store is away (PostgreSQL): keys can only be made while it answers, so
            // what it said last stands. On SQLite, and never having been asked: fail closed.
            if keys.isShared, let seen = keysSeen.withLock({ $0 }) {
                keysSeen.withLock { $0 = (seen.exists, now) } // asked again in a second, not on every request
                logger.warning("cannot tell whether API keys exist; going by the last answer", metadata: [
                    "keysExist": "\(seen.exists)", "error": "\(error)",
                ])
                return seen.exists
            }
            logger.error("cannot tell whether API keys exist; asking for a credential", metadata: ["error": "\(error)"])
            return true
        }
        keysSeen.withLock { $0 = (exists, now) }
        return exists
    }

    /// A key was just made in this process: credentials are required from the next request on
    /// (a key made by the CLI is seen within a second).
    func keyMade() {
        keysSeen.withLock { $0 = (true, .now) }
    }

    /// The caller a request's headers identify.
    func authenticate(_ headers: HTTPFields) async throws(APIError) -> Caller {
        let required = await required()
        guard let credential = Credential.presented(in: headers) else {
            guard !required else {
                throw Self.unauthorized("a credential is required: send 'Authorization: Bearer <key>' or 'x-api-key: <key>'")
            }
            return .open
        }
        if let adminToken, Credential.equal(credential, adminToken) { return .admin }
        if let sharedKey, Credential.equal(credential, sharedKey) { return .sharedKey }
        if credential.hasPrefix(APIKeySecret.prefix) {
            let verification: APIKeyStore.Verification
            do {
                verification = try await keys.verify(credential)
            } catch {
                logger.error("API key check failed: store error", metadata: ["error": "\(error)"])
                throw APIError(.serviceUnavailable, code: "AUTH_UNAVAILABLE", message: "the API key cannot be checked now; try again")
            }
            switch verification {
            case .valid(let record):
                return Caller(kind: .key, tenantId: record.tenant, userId: record.user, keyId: record.id, limits: record.limits,
                              expiresAt: record.expiresAt)
            case .revoked(let record):
                throw Self.unauthorized("the API key \(record.prefix) was revoked")
            case .expired(let record):
                throw Self.unauthorized("the API key \(record.prefix) expired at \(ISO8601DateFormatter().string(from: record.expiresAt ?? Date()))")
            case .unknown:
                // Refused even while no credential is required: a key this fleetd never made was
                // made against another store (`fleetd keys create` with another --data-dir), and
                // letting it in unlimited would hide that its budget and limits apply to nothing.
                throw Self.unauthorized(required ? "the API key is not valid"
                    : "the API key is not known to this fleetd: keys are made with 'fleetd keys create' on the data directory (or database) fleetd serves from")
            }
        }
        if let tokens, Credential.looksLikeJWT(credential) {
            do throws(TokenVerifier.Failure) {
                return try await tokens.verify(credential)
            } catch {
                throw Self.unauthorized(error.reason)
            }
        }
        guard !required else { throw Self.unauthorized("the credential is not valid") }
        return .open
    }

    static func unauthorized(_ reason: String) -> APIError {
        var error = APIError(.unauthorized, code: "UNAUTHORIZED", message: reason)
        error.headers[.wwwAuthenticate] = "Bearer"
        return error
    }
}

extension Authenticator {
    /// Loopback names and addresses: `localhost`, 127.0.0.0/8, `::1`.
    /// Asked on every request (the Host check): no Foundation here, whose `CharacterSet` and
    /// `trimmingCharacters` were about 1.6% of fleetd's CPU per task.
    static func isLoopback(_ host: some StringProtocol) -> Bool {
        var name = Substring(host)
        while name.first == "[" || name.first == "]" { name.removeFirst() }
        while name.last == "[" || name.last == "]" { name.removeLast() }
        if name.utf8.elementsEqual("::1".utf8) || name.utf8.elementsEqual("0:0:0:0:0:0:0:1".utf8) { return true }
        if name.utf8.count == 9, name.lowercased() == "localhost" { return true }
        return isLoopbackIPv4(name.utf8)
    }

    /// `127.a.b.c`, each part decimal digits of a value up to 255. Read byte by byte: every request
    /// asks (the Host check of ``LiveCORSMiddleware``), and splitting the text allocated each part.
    private static func isLoopbackIPv4(_ bytes: Substring.UTF8View) -> Bool {
        var dots = 0, value = 0, digits = 0, first = 0
        for byte in bytes {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"):
                value = value * 10 + Int(byte - UInt8(ascii: "0"))
                digits += 1
                guard value <= 255 else { return false }
            case UInt8(ascii: "."):
                guard digits > 0, dots < 3 else { return false }
                if dots == 0 {
                    guard digits == 3 else { return false } // "127", not "0127"
                    first = value
                }
                dots += 1
                value = 0
                digits = 0
            default:
                return false
            }
        }
        return dots == 3 && digits > 0 && first == 127
    }

    /// Refuses to serve a non-loopback address with no credential unless
    /// `api.allowUnauthenticated` says so; logs how callers are authenticated.
    func checkStartup(api: APISection) async throws {
        let modes = await configuredModes()
        if !modes.isEmpty {
            logger.notice("authentication is on", metadata: ["credentials": .array(modes.map { .string($0) })])
            return
        }
        if Self.isLoopback(api.host) {
            logger.warning("authentication is off: no API_KEY, JWT_SECRET or virtual key is configured; every caller that reaches \(api.host) has full access")
            return
        }
        guard api.allowUnauthenticated else {
            throw UserError("api.host \(api.host) is not a loopback address and no credential is configured (API_KEY, JWT_SECRET, or a virtual key from 'fleetd keys create'): configure one, or set api.allowUnauthenticated: true to serve it without authentication")
        }
        logger.warning("authentication is off on a non-loopback address (api.allowUnauthenticated: true): anyone who reaches \(api.host):\(api.port) has full access")
    }
}
