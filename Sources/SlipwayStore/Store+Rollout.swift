import Foundation
import PostgresNIO
import SlipwayCore

extension Store {
    /// The build is pushed: record what was built and queue the rollout, together.
    public func finishBuild(_ id: Int64, service: String, environment: DeploymentTarget.Environment = .main, policy: Policy, sha: String,
                            image: String, digest: String?) async throws {
        try await client.transaction(logger: logger) { connection in
            // Only a build still in flight records what it built: a late or repeated one (cancelled,
            // superseded, already rolled out) must not change the image of what ended or runs.
            let building = [DeploymentState.queued, .building, .pushing].map(\.rawValue)
            let rows = try await connection.query("""
                UPDATE deployments SET sha = \(sha), image = \(image), digest = \(digest), updated_at = now()
                WHERE id = \(id) AND state = ANY(\(building)) RETURNING id
                """, logger: logger).collect()
            guard !rows.isEmpty,
                  try await Self.transition(id, to: .rollingOut, reason: nil, note: "built and pushed", on: connection, logger: logger)
            else { return }
            try await JobQueue.enqueue(JobTimeouts.job(.rollout, deploymentID: id, service: service, environment: environment, policy: policy),
                                       on: connection, logger: logger)
        }
    }

    /// The revision runs: it becomes its target's live revision, its watch is queued and so
    /// is the retirement of what it replaces — together, so a watch never waits on a
    /// revision that is slow to stop. False when the deployment had moved on (ended
    /// meanwhile) and nothing was done.
    @discardableResult
    public func goLive(_ id: Int64, target: DeploymentTarget, policy: Policy) async throws -> Bool {
        try await client.transaction(logger: logger) { connection in
            guard try await Self.transition(id, to: .watching, reason: nil, note: "live", liveNow: true, on: connection, logger: logger) else {
                return false
            }
            try await Self.pointLive(target, at: id, on: connection, logger: logger)
            for kind in [JobKind.watch, .retire] {
                try await JobQueue.enqueue(JobTimeouts.job(kind, deploymentID: id, service: target.service, environment: target.environment,
                                                           policy: policy), on: connection, logger: logger)
            }
            return true
        }
    }

    /// A rollback finished: `target` is live again (its `live_at` moves to now, as rollback
    /// targets are chosen by who was live most recently), the failing deployment ends rolled
    /// back, and the retirement of everything but `target` is queued.
    public func rolledBack(_ failing: Int64, to restored: Int64, target: DeploymentTarget, policy: Policy, reason: String) async throws {
        try await client.transaction(logger: logger) { connection in
            try await Self.repoint(target, to: restored, on: connection, logger: logger)
            try await Self.transition(failing, to: .rolledBack, reason: reason, on: connection, logger: logger)
            try await JobQueue.enqueue(JobTimeouts.job(.retire, deploymentID: restored, service: target.service, environment: target.environment,
                                                       policy: policy), on: connection, logger: logger)
        }
    }

    /// Runs `body` while holding the target's rollout lock: one rollout, watch step or
    /// rollback of a target at a time, across every replica; a preview and its service's
    /// main environment do not wait for each other. The lock goes with the connection if
    /// the process dies.
    public func withTargetLock<T: Sendable>(_ target: DeploymentTarget, _ body: () async throws -> T) async throws -> T {
        let key = target.lockKey
        return try await client.withConnection { connection in
            try await connection.query("SELECT pg_advisory_lock(hashtext(\(key)))", logger: logger)
            do {
                let result = try await body()
                try await connection.query("SELECT pg_advisory_unlock(hashtext(\(key)))", logger: logger)
                return result
            } catch {
                _ = try? await connection.query("SELECT pg_advisory_unlock(hashtext(\(key)))", logger: logger)
                throw error
            }
        }
    }

    /// The revision a target runs now, if any.
    public func liveDeploymentID(of target: DeploymentTarget) async throws -> Int64? {
        let rows = try await client.query("""
            SELECT live_deployment_id FROM targets WHERE service = \(target.service) AND environment = \(target.environment.rawValue)
            """, logger: logger).rows()
        return try rows.first?.value("live_deployment_id")
    }

    /// Keys of the crashes already counted for a deployment.
    public func crashKeys(_ id: Int64) async throws -> Set<String> {
        Set(try await events(id, kind: "crash").compactMap(\.key))
    }
}
