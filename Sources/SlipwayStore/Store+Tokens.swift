import Foundation
import PostgresNIO
import SlipwayCore

/// An API token as listed: never the token or its hash.
public struct APITokenRecord: Sendable, Hashable, Codable {
    public var name: String
    public var role: APIRole
    public var createdAt: Date
    public var lastUsedAt: Date?
    public var expiresAt: Date?
}

/// What verifying a token needs.
public struct APITokenSecret: Sendable, Hashable {
    public var name: String
    public var role: APIRole
    public var secretSHA256: [UInt8]
    public var expiresAt: Date?
    public var revoked: Bool
    public var lastUsedAt: Date?
}

extension Store {
    /// Stores a new token; false when a live token already has the name.
    public func createToken(id: String, name: String, role: APIRole, secretSHA256: [UInt8], expiresAt: Date?) async throws -> Bool {
        let rows = try await client.query("""
            INSERT INTO api_tokens (id, name, role, secret_sha256, expires_at)
            VALUES (\(id), \(name), \(role.rawValue), \(ByteBuffer(bytes: secretSHA256)), \(expiresAt))
            ON CONFLICT (name) WHERE revoked_at IS NULL DO NOTHING
            RETURNING id
            """, logger: logger).collect()
        return !rows.isEmpty
    }

    public func tokens() async throws -> [APITokenRecord] {
        try await client.query("""
            SELECT name, role, created_at, last_used_at, expires_at FROM api_tokens WHERE revoked_at IS NULL ORDER BY name
            """, logger: logger).rows().map { row in
            APITokenRecord(name: try row.value("name"), role: APIRole(rawValue: try row.value("role")) ?? .viewer,
                           createdAt: try row.value("created_at"), lastUsedAt: try row.value("last_used_at"),
                           expiresAt: try row.value("expires_at"))
        }
    }

    /// Revokes the live token called `name`; false when there is none.
    public func revokeToken(name: String) async throws -> Bool {
        !(try await client.query("""
            UPDATE api_tokens SET revoked_at = now() WHERE name = \(name) AND revoked_at IS NULL RETURNING id
            """, logger: logger).collect().isEmpty)
    }

    public func tokenSecret(id: String) async throws -> APITokenSecret? {
        guard let row = try await client.query("""
            SELECT name, role, secret_sha256, expires_at, revoked_at IS NOT NULL AS revoked, last_used_at FROM api_tokens WHERE id = \(id)
            """, logger: logger).rows().first else { return nil }
        var hash: ByteBuffer = try row.value("secret_sha256")
        return APITokenSecret(name: try row.value("name"), role: APIRole(rawValue: try row.value("role")) ?? .viewer,
                              secretSHA256: hash.readBytes(length: hash.readableBytes) ?? [],
                              expiresAt: try row.value("expires_at"), revoked: try row.value("revoked"), lastUsedAt: try row.value("last_used_at"))
    }

    /// Notes a token's use (at most once a minute per token: a busy client writes little).
    public func touchToken(id: String) async throws {
        try await client.query("""
            UPDATE api_tokens SET last_used_at = now()
            WHERE id = \(id) AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')
            """, logger: logger)
    }
}
