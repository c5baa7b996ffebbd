import Foundation
import Logging
import PostgresNIO
import SlipwayCore

/// What a heartbeat learned.
public enum Heartbeat: Sendable, Hashable {
    /// The lease is extended.
    case kept
    /// The lease is extended, but someone asked the job to stop.
    case stopRequested(StopReason)
    /// The lease is gone: another worker owns the job, or it ended.
    case lost
}

extension JobQueue {
    /// Extends the leases of running jobs in one statement, and reports for each whether it
    /// was asked to stop; a job missing from the answer has lost its lease.
    public func heartbeat(_ jobs: [ClaimedJob], lease: TimeSpan) async throws -> [Int64: Heartbeat] {
        guard !jobs.isEmpty else { return [:] }
        return try await pool.bounded {
            var beats = Dictionary(uniqueKeysWithValues: jobs.map { ($0.id, Heartbeat.lost) })
            for try await (id, reason) in try await pool.relaxed.query("""
                UPDATE jobs SET lease_expires_at = now() + \(lease.milliseconds) * interval '1 millisecond', updated_at = now()
                FROM unnest(\(jobs.map(\.id))::bigint[], \(jobs.map(\.leaseToken))::uuid[]) AS beat(id, token)
                WHERE jobs.id = beat.id AND jobs.lease_token = beat.token AND jobs.state = 'running'
                RETURNING jobs.id, jobs.cancel_reason
                """, logger: logger).decode((Int64, String?).self) {
                beats[id] = reason.flatMap(StopReason.init(rawValue:)).map(Heartbeat.stopRequested) ?? .kept
            }
            return beats
        }
    }

    public func heartbeat(_ job: ClaimedJob, lease: TimeSpan) async throws -> Heartbeat {
        try await heartbeat([job], lease: lease)[job.id] ?? .lost
    }

    /// Records successes in one statement; returns the ids whose lease was still held.
    @discardableResult
    public func complete(_ jobs: [ClaimedJob]) async throws -> Set<Int64> {
        guard !jobs.isEmpty else { return [] }
        return try await pool.bounded {
            var done = Set<Int64>()
            for try await id in try await client.query(Self.completeQuery(jobs), logger: logger).decode(Int64.self) {
                done.insert(id)
            }
            return done
        }
    }

    /// The completion statement, also driven directly by the benchmark's "raw" ceiling.
    public static func completeQuery(_ jobs: [ClaimedJob]) -> PostgresQuery {
        """
        UPDATE jobs SET state = 'succeeded', finished_at = now(), updated_at = now(), lease_token = NULL,
                        lease_expires_at = NULL, deadline_at = NULL
        FROM unnest(\(jobs.map(\.id))::bigint[], \(jobs.map(\.leaseToken))::uuid[]) AS done(id, token)
        WHERE jobs.id = done.id AND jobs.lease_token = done.token AND jobs.state = 'running'
        RETURNING jobs.id
        """
    }

    /// Records success; false when the lease was lost and another worker owns the job.
    public func complete(_ job: ClaimedJob) async throws -> Bool {
        try await complete([job]).contains(job.id)
    }

    /// Writes a resolution other than success, fenced by the lease token. A job that ends
    /// takes its deployment with it (unless the deployment already ended).
    @discardableResult
    public func apply(_ resolution: JobResolution, to job: ClaimedJob) async throws -> Bool {
        try await pool.bounded {
            switch resolution {
            case .nothing:
                return false
            case .complete:
                return try await complete(job)
            case .retry(let after, let error):
                return try await client.query("""
                    UPDATE jobs SET state = 'queued', last_error = \(error),
                                    run_at = now() + \(after.milliseconds) * interval '1 millisecond',
                                    updated_at = now(), lease_token = NULL, lease_owner = NULL, lease_expires_at = NULL,
                                    deadline_at = NULL, cancel_requested_at = NULL, cancel_reason = NULL
                    WHERE id = \(job.id) AND lease_token = \(job.leaseToken) AND state = 'running'
                    RETURNING id
                    """, logger: logger).collect().count == 1
            case .end(let state, let reason, let deploymentState):
                return try await client.transaction(logger: logger) { connection in
                    // A stop request carries its own words ("superseded by deployment 12 (3f2c…)").
                    let rows = try await connection.query("""
                        UPDATE jobs SET state = \(state.rawValue), last_error = coalesce(cancel_note, \(reason)), finished_at = now(),
                                        updated_at = now(), lease_token = NULL, lease_expires_at = NULL, deadline_at = NULL
                        WHERE id = \(job.id) AND lease_token = \(job.leaseToken) AND state = 'running'
                        RETURNING last_error
                        """, logger: logger).collect()
                    guard let row = rows.first else { return false }
                    if let deploymentID = job.deploymentID, job.kind.endsItsDeployment {
                        try await Self.endDeployment(deploymentID, state: deploymentState, reason: try row.decode(String.self),
                                                     on: connection, logger: logger)
                    }
                    return true
                }
            }
        }
    }

    /// Ends a deployment that is still in flight.
    static func endDeployment(_ id: Int64, state: DeploymentState, reason: String, on connection: PostgresConnection,
                              logger: Logger) async throws {
        try await Store.transition(id, to: state, reason: reason, on: connection, logger: logger)
    }
}
