import Foundation
import PostgresNIO
import SlipwayCore

extension Store {
    /// Makes the services table equal to the policy set: upserts every policy and marks
    /// services no longer declared as removed (their history stays).
    public func syncServices(_ policies: [(policy: Policy, file: String)]) async throws {
        try await client.transaction(logger: logger) { connection in
            try await Self.syncServices(policies, on: connection, logger: logger)
        }
    }

    static func syncServices(_ policies: [(policy: Policy, file: String)], on connection: PostgresConnection, logger: Logger) async throws {
            for (policy, file) in policies {
                let repo = try RepoURL(policy.source.repo)
                try await connection.query("""
                    INSERT INTO services (name, repo_url, repo_key, branch, policy, policy_file)
                    VALUES (\(policy.service), \(policy.source.repo), \(repo.key), \(policy.source.branch),
                            \(try Self.json(policy))::jsonb, \(file))
                    ON CONFLICT (name) DO UPDATE SET repo_url = EXCLUDED.repo_url, repo_key = EXCLUDED.repo_key,
                        branch = EXCLUDED.branch, policy = EXCLUDED.policy, policy_file = EXCLUDED.policy_file,
                        removed_at = NULL, updated_at = now()
                    """, logger: logger)
            }
            try await connection.query("""
                UPDATE services SET removed_at = now(), updated_at = now()
                WHERE removed_at IS NULL AND NOT (name = ANY(\(policies.map(\.policy.service))))
                """, logger: logger)
    }

    public func services() async throws -> [ServiceRow] {
        let rows = try await client.query("""
            SELECT s.name, s.policy::text AS policy, s.policy_file, t.live_deployment_id
            FROM services s LEFT JOIN targets t ON t.service = s.name AND t.environment = 'main'
            WHERE s.removed_at IS NULL ORDER BY s.name
            """, logger: logger).rows()
        return try rows.map(Self.serviceRow)
    }

    /// The last policy of every service this database has known, removed ones included:
    /// what may have left something behind in a runtime.
    public func everyPolicy() async throws -> [Policy] {
        try await client.query("SELECT policy::text AS policy FROM services ORDER BY name", logger: logger).rows().map {
            try Self.decodeJSON(Policy.self, try $0.value("policy"))
        }
    }

    public func service(named name: String) async throws -> ServiceRow? {
        let rows = try await client.query("""
            SELECT s.name, s.policy::text AS policy, s.policy_file, t.live_deployment_id
            FROM services s LEFT JOIN targets t ON t.service = s.name AND t.environment = 'main'
            WHERE s.name = \(name) AND s.removed_at IS NULL
            """, logger: logger).rows()
        return try rows.first.map(Self.serviceRow)
    }

    static func serviceRow(_ row: PostgresRandomAccessRow) throws -> ServiceRow {
        ServiceRow(name: try row.value("name"),
                   policy: try decodeJSON(Policy.self, try row.value("policy")),
                   policyFile: try row.value("policy_file"),
                   liveDeploymentID: try row.value("live_deployment_id"))
    }

    /// What webhook matching needs to know about every service: only the columns it
    /// reads, so a monorepo with a thousand services is matched without decoding policies.
    public func routes() async throws -> [EventMatching.Route] {
        let rows = try await client.query("""
            SELECT name, repo_url, branch, coalesce(policy->'source'->'paths', '[]'::jsonb)::text AS paths,
                   policy->'source'->>'webhookSecret' AS webhook_secret, coalesce(policy->'previews', '{}'::jsonb)::text AS previews
            FROM services WHERE removed_at IS NULL
            """, logger: logger).rows()
        return try rows.compactMap { row in
            guard let repo = try? RepoURL(try row.value("repo_url", as: String.self)) else { return nil }
            let paths = try Self.decodeJSON([String].self, try row.value("paths"))
            let secret = try row.value("webhook_secret", as: String?.self).flatMap { try? SecretReference(parsing: $0) }
            let previews = (try? Self.decodeJSON(Policy.Previews.self, try row.value("previews"))) ?? Policy.Previews()
            return EventMatching.Route(service: try row.value("name"), repo: repo, branch: try row.value("branch"), paths: paths,
                                       webhookSecret: secret, previews: previews)
        }
    }

    /// This installation's id (made by the migration): the label on what it runs on a shared engine.
    public func installationID() async throws -> String {
        try await client.query("SELECT id::text FROM installation", logger: logger).collect().first?.decode(String.self) ?? ""
    }
}
