import Foundation
import PostgresNIO
import SlipwayCore

extension Store {
    /// The head polling last saw for a repository's ref.
    public func pollHead(repoKey: String, ref: String) async throws -> String? {
        let rows = try await client.query("SELECT sha FROM poll_heads WHERE repo_key = \(repoKey) AND ref = \(ref)",
                                          logger: logger).rows()
        return try rows.first?.value("sha")
    }

    public func setPollHead(repoKey: String, ref: String, sha: String) async throws {
        try await client.query("""
            INSERT INTO poll_heads (repo_key, ref, sha) VALUES (\(repoKey), \(ref), \(sha))
            ON CONFLICT (repo_key, ref) DO UPDATE SET sha = EXCLUDED.sha, seen_at = now()
            """, logger: logger)
    }
}
