import Foundation
import PostgresNIO
import SlipwayCore

extension Store {
    public func createSession(idSHA256: [UInt8], tokenID: String, csrf: String, expiresAt: Date) async throws {
        try await client.query("""
            INSERT INTO dashboard_sessions (id_sha256, token_id, csrf, expires_at)
            VALUES (\(ByteBuffer(bytes: idSHA256)), \(tokenID), \(csrf), \(expiresAt))
            """, logger: logger)
        // Old sessions go as new ones come: no loop needed to keep the table small.
        try await client.query("DELETE FROM dashboard_sessions WHERE expires_at < now() - interval '1 day'", logger: logger)
    }

    /// The session's token (only while it is live, not revoked, not expired) and CSRF secret.
    public func session(idSHA256: [UInt8]) async throws -> (caller: APICaller, csrf: String)? {
        guard let row = try await client.query("""
            SELECT t.name, t.role, s.csrf FROM dashboard_sessions s JOIN api_tokens t ON t.id = s.token_id
            WHERE s.id_sha256 = \(ByteBuffer(bytes: idSHA256)) AND s.expires_at > now()
              AND t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > now())
            """, logger: logger).rows().first else { return nil }
        return (APICaller(name: try row.value("name"), role: APIRole(rawValue: try row.value("role")) ?? .viewer), try row.value("csrf"))
    }

    public func deleteSession(idSHA256: [UInt8]) async throws {
        try await client.query("DELETE FROM dashboard_sessions WHERE id_sha256 = \(ByteBuffer(bytes: idSHA256))", logger: logger)
    }
}
