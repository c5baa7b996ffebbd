import Foundation
import PostgresNIO
import SlipwayCore

/// A version of the policy set as recorded: applied, or rejected with its errors.
public struct PolicySetRecord: Sendable, Codable, Hashable {
    public var id: Int64
    public var source: String
    public var revision: String
    public var state: String
    public var errors: [String]
    public var services: [String]
    public var createdAt: Date
}

extension Store {
    /// Applies a valid set (services upserted, the undeclared marked removed) and records
    /// it, in one transaction. Returns false, changing nothing, when this revision of this
    /// source is already the newest record (another replica got there first).
    public func applyPolicySet(source: String, revision: String, policies: [(policy: Policy, file: String)]) async throws -> Bool {
        try await client.transaction(logger: logger) { connection in
            guard try await Self.lockPolicySets(source: source, revision: revision, on: connection, logger: logger) else { return false }
            try await Self.syncServices(policies, on: connection, logger: logger)
            try await connection.query("""
                INSERT INTO policy_sets (source, revision, state, services)
                VALUES (\(source), \(revision), 'applied', \(policies.map(\.policy.service)))
                """, logger: logger)
            return true
        }
    }

    /// Records a rejected set; nothing of it is applied. False when already recorded.
    public func rejectPolicySet(source: String, revision: String, errors: [String]) async throws -> Bool {
        try await client.transaction(logger: logger) { connection in
            guard try await Self.lockPolicySets(source: source, revision: revision, on: connection, logger: logger) else { return false }
            try await connection.query("""
                INSERT INTO policy_sets (source, revision, state, errors)
                VALUES (\(source), \(revision), 'rejected', \(try Self.json(errors))::jsonb)
                """, logger: logger)
            return true
        }
    }

    /// Serializes appliers across replicas; true when `revision` is news.
    static func lockPolicySets(source: String, revision: String, on connection: PostgresConnection, logger: Logger) async throws -> Bool {
        try await connection.query("SELECT pg_advisory_xact_lock(hashtext('slipway.policy_sets'))", logger: logger)
        let rows = try await connection.query("""
            SELECT revision FROM policy_sets WHERE source = \(source) ORDER BY id DESC LIMIT 1
            """, logger: logger)
        for try await newest in rows.decode(String.self) where newest == revision { return false }
        return true
    }

    /// The revision recorded last for `source`, applied or rejected.
    public func newestPolicyRevision(source: String) async throws -> String? {
        let rows = try await client.query("""
            SELECT revision FROM policy_sets WHERE source = \(source) ORDER BY id DESC LIMIT 1
            """, logger: logger)
        for try await revision in rows.decode(String.self) { return revision }
        return nil
    }

    /// The newest records first.
    public func policySets(limit: Int = 20) async throws -> [PolicySetRecord] {
        try await client.query("""
            SELECT id, source, revision, state, errors::text, services, created_at
            FROM policy_sets ORDER BY id DESC LIMIT \(limit)
            """, logger: logger).rows().map { row in
            PolicySetRecord(id: try row.value("id"), source: try row.value("source"), revision: try row.value("revision"),
                            state: try row.value("state"), errors: try Self.decodeJSON([String].self, try row.value("errors")),
                            services: try row.value("services"), createdAt: try row.value("created_at"))
        }
    }

    /// Tells every replica a push reached the policies repository; the replica leading the
    /// policies refreshes them at once, wherever the webhook arrived.
    public func announcePoliciesPushed() async throws {
        try await client.query("SELECT pg_notify(\(JobQueue.policiesChannel), '')", logger: logger)
    }
}
