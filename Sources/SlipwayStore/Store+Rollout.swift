import Foundation
import PostgresNIO
import SlipwayCore

extension Store {
    /// The build is pushed: record what was built and queue the rollout, together.
    public func finishBuild(_ id: Int64, service: String, policy: Policy, sha: String, image: String, digest: String?) async throws {
        try await client.transaction(logger: logger) { connection in
            try await connection.query("""
                UPDATE deployments SET sha = \(sha), image = \(image), digest = \(digest), state = 'rolling_out', updated_at = now()
                WHERE id = \(id) AND state IN ('queued', 'building', 'pushing')
                """, logger: logger)
            try await connection.query("""
                INSERT INTO deployment_events (deployment_id, kind, message) VALUES (\(id), 'state', 'rolling_out: built and pushed')
                """, logger: logger)
            try await JobQueue.enqueue(JobTimeouts.job(.rollout, deploymentID: id, service: service, policy: policy),
                                       on: connection, logger: logger)
        }
    }

    /// The revision runs: watch it.
    public func startWatch(_ id: Int64, service: String, policy: Policy) async throws {
        try await queue.enqueue(JobTimeouts.job(.watch, deploymentID: id, service: service, policy: policy))
    }

    /// Runs `body` while holding the service's rollout lock: one rollout, watch step or
    /// rollback of a service at a time, across every replica. The lock goes with the
    /// connection if the process dies.
    public func withServiceLock<T: Sendable>(_ service: String, _ body: () async throws -> T) async throws -> T {
        try await client.withConnection { connection in
            try await connection.query("SELECT pg_advisory_lock(hashtext('slipway.service:' || \(service)))", logger: logger)
            do {
                let result = try await body()
                try await connection.query("SELECT pg_advisory_unlock(hashtext('slipway.service:' || \(service)))", logger: logger)
                return result
            } catch {
                _ = try? await connection.query("SELECT pg_advisory_unlock(hashtext('slipway.service:' || \(service)))", logger: logger)
                throw error
            }
        }
    }

    /// Keys of the crashes already counted for a deployment.
    public func crashKeys(_ id: Int64) async throws -> Set<String> {
        Set(try await events(id, kind: "crash").compactMap(\.key))
    }
}
