import Fleet
import FleetSupport
import Foundation
import Hummingbird
import Logging
import Store

/// `POST /v1/admin/keys` (make a key; its text is in this answer only), `GET /v1/admin/keys`,
/// `DELETE /v1/admin/keys/{id}` (revoke; a key revoked before is a 409 `KEY_ALREADY_REVOKED`
/// naming when, and stays as it was). Admin token only.
struct KeyRoutes {
    let authenticator: Authenticator
    var keys: APIKeyStore { authenticator.keys }
    let manager: FleetManager
    let api: LiveSetting<APISection>
    let logger: Logger

    func register(admin: some RouterMethods<FleetRequestContext>) {
        admin.post("v1/admin/keys") { request, _ -> Response in
            var request = request
            let spec = try await JSONBody.decode(KeySpec.self, from: &request, limit: api.value.maxBodyBytes)
            let issued: IssuedAPIKey
            do {
                let (limits, expiresAt) = try spec.resolved(against: await manager.config)
                issued = try await keys.create(tenant: spec.tenant, user: spec.user, name: spec.name, limits: limits, expiresAt: expiresAt)
            } catch let invalid as KeySpec.Invalid {
                throw APIError(.badRequest, code: "INVALID_VALUE", message: invalid.message, field: invalid.field)
            } catch let error as StoreError where error.code == .invalidValue {
                throw APIError(.badRequest, code: "INVALID_VALUE", message: error.message)
            }
            authenticator.keyMade()
            logger.notice("API key created", metadata: ["key": "\(issued.record.prefix)", "tenant": "\(issued.record.tenant)"])
            return try jsonResponse(IssuedKeyView(key: issued.secret, record: KeyView(issued.record)), status: .created)
        }
        admin.get("v1/admin/keys") { _, _ -> Response in
            let now = Date()
            return try jsonResponse(["keys": try await keys.list().map { KeyView($0, now: now) }])
        }
        admin.delete("v1/admin/keys/:id") { _, context -> Response in
            let id = try context.parameters.require("id")
            let bare = id.hasPrefix(APIKeySecret.prefix) ? String(id.dropFirst(APIKeySecret.prefix.count)) : id
            guard let revocation = try await keys.revoke(id: bare) else {
                throw APIError(.notFound, code: "UNKNOWN_KEY", message: "no API key '\(bare)'", field: "id")
            }
            let record = revocation.record
            // Revoked before: nothing changed, and the answer says so (409, as feedback given twice).
            if revocation.wasAlreadyRevoked {
                throw APIError(.conflict, code: "KEY_ALREADY_REVOKED", message: Self.alreadyRevoked(record), field: "id")
            }
            logger.notice("API key revoked", metadata: ["key": "\(record.prefix)", "tenant": "\(record.tenant)"])
            return try jsonResponse(KeyView(record))
        }
    }

    /// What revoking a key revoked before says (the API's 409 and `fleetd keys revoke`): which key,
    /// since when, and that nothing changed.
    static func alreadyRevoked(_ record: APIKeyRecord) -> String {
        let when = record.revokedAt.map { ISO8601DateFormatter().string(from: $0) } ?? "an earlier time"
        return "API key \(record.prefix) (tenant \(record.tenant)) was already revoked at \(when); nothing changed"
    }
}
