import Foundation
import Logging
import PostgresNIO
import SlipwayCore

/// A job a worker holds. `leaseToken` fences every later write: a worker whose
/// lease expired (and whose job was claimed again) can no longer record a result.
public struct ClaimedJob: Sendable, Hashable {
    public var id: Int64
    public var kind: JobKind
    public var deploymentID: Int64?
    public var service: String?
    public var attempts: Int
    public var maxAttempts: Int
    public var leaseToken: UUID
}

/// The Postgres job queue: SKIP LOCKED claims, leases, NOTIFY wake-ups.
public struct JobQueue: Sendable {
    public static let channel = "slipway_jobs"

    let client: PostgresClient
    let logger: Logger

    public init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    /// Adds a job inside the caller's transaction; the NOTIFY is delivered at commit.
    /// Returns nil when a job with the same dedupe key is already pending.
    @discardableResult
    public static func enqueue(_ job: NewJob, on connection: PostgresConnection, logger: Logger) async throws -> Int64? {
        let delayMS = job.delay?.milliseconds ?? 0
        let rows = try await connection.query("""
            INSERT INTO jobs (kind, deployment_id, service, priority, max_attempts, dedupe_key, run_at)
            VALUES (\(job.kind.rawValue), \(job.deploymentID), \(job.service), \(job.priority), \(job.maxAttempts),
                    \(job.dedupeKey), now() + \(delayMS) * interval '1 millisecond')
            ON CONFLICT (dedupe_key) WHERE dedupe_key IS NOT NULL AND state IN ('queued', 'running') DO NOTHING
            RETURNING id
            """, logger: logger)
        var id: Int64?
        for try await value in rows.decode(Int64.self) { id = value }
        if id != nil {
            try await connection.query("SELECT pg_notify(\(Self.channel), \(job.kind.rawValue))", logger: logger)
        }
        return id
    }

    @discardableResult
    public func enqueue(_ job: NewJob) async throws -> Int64? {
        try await client.withTransaction(logger: logger) { connection in
            try await Self.enqueue(job, on: connection, logger: logger)
        }
    }

    /// Claims up to `limit` ready jobs of the given kinds for `owner`, highest priority and oldest first.
    public func claim(kinds: [JobKind], limit: Int, owner: String, lease: TimeSpan) async throws -> [ClaimedJob] {
        let token = UUID()
        let rows = try await client.query("""
            WITH next AS (
                SELECT id FROM jobs
                WHERE state = 'queued' AND run_at <= now() AND kind = ANY(\(kinds.map(\.rawValue)))
                ORDER BY priority DESC, run_at, id
                LIMIT \(limit)
                FOR UPDATE SKIP LOCKED)
            UPDATE jobs SET state = 'running', attempts = jobs.attempts + 1, lease_token = \(token),
                            lease_owner = \(owner), lease_expires_at = now() + \(lease.milliseconds) * interval '1 millisecond',
                            updated_at = now()
            FROM next WHERE jobs.id = next.id
            RETURNING jobs.id, jobs.kind, jobs.deployment_id, jobs.service, jobs.attempts, jobs.max_attempts
            """, logger: logger)
        return try await rows.rows().compactMap { row in
            guard let kind = JobKind(rawValue: try row.value("kind", as: String.self)) else { return nil }
            return ClaimedJob(id: try row.value("id"), kind: kind, deploymentID: try row.value("deployment_id"),
                              service: try row.value("service"), attempts: try row.value("attempts"),
                              maxAttempts: try row.value("max_attempts"), leaseToken: token)
        }
    }

    /// Extends the lease; false when the lease was lost (the job must stop).
    public func heartbeat(_ job: ClaimedJob, lease: TimeSpan) async throws -> Bool {
        try await fenced("""
            UPDATE jobs SET lease_expires_at = now() + \(lease.milliseconds) * interval '1 millisecond', updated_at = now()
            WHERE id = \(job.id) AND lease_token = \(job.leaseToken) AND state = 'running'
            RETURNING id
            """)
    }

    /// Records success; false when the lease was lost and another worker owns the job.
    public func complete(_ job: ClaimedJob) async throws -> Bool {
        try await fenced("""
            UPDATE jobs SET state = 'succeeded', finished_at = now(), updated_at = now(), lease_token = NULL, lease_expires_at = NULL
            WHERE id = \(job.id) AND lease_token = \(job.leaseToken) AND state = 'running'
            RETURNING id
            """)
    }

    /// Records a failure: back to the queue after `retryIn`, or `dead` when attempts are used up or it cannot help.
    public func fail(_ job: ClaimedJob, error: String, retryIn: TimeSpan?) async throws -> Bool {
        let retry = retryIn != nil && job.attempts < job.maxAttempts
        return try await fenced("""
            UPDATE jobs SET state = \(retry ? "queued" : "dead"), last_error = \(error),
                            run_at = now() + \(retryIn?.milliseconds ?? 0) * interval '1 millisecond',
                            finished_at = CASE WHEN \(retry) THEN NULL ELSE now() END,
                            updated_at = now(), lease_token = NULL, lease_owner = NULL, lease_expires_at = NULL
            WHERE id = \(job.id) AND lease_token = \(job.leaseToken) AND state = 'running'
            RETURNING id
            """)
    }

    /// Puts jobs whose lease expired back in the queue (or `dead` when out of attempts), and fails
    /// the deployments of dead jobs so nothing waits on them. Returns how many it rescued.
    @discardableResult
    public func rescueExpired() async throws -> Int {
        try await client.withTransaction(logger: logger) { connection in
            let rows = try await connection.query("""
                UPDATE jobs SET state = CASE WHEN attempts < max_attempts THEN 'queued' ELSE 'dead' END,
                                last_error = 'lease of ' || coalesce(lease_owner, '?') || ' expired (worker stopped or lost the database)',
                                finished_at = CASE WHEN attempts < max_attempts THEN NULL ELSE now() END,
                                lease_token = NULL, lease_owner = NULL, lease_expires_at = NULL, updated_at = now()
                WHERE state = 'running' AND lease_expires_at < now()
                RETURNING id, state
                """, logger: logger)
            var rescued = 0
            for try await (_, state) in rows.decode((Int64, String).self) where state == "queued" { rescued += 1 }
            try await Self.failDeploymentsOfDeadJobs(on: connection, logger: logger)
            if rescued > 0 {
                try await connection.query("SELECT pg_notify(\(Self.channel), 'rescued')", logger: logger)
            }
            return rescued
        }
    }

    static func failDeploymentsOfDeadJobs(on connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query("""
            UPDATE deployments d SET state = 'failed', updated_at = now(), finished_at = now(),
                reason = 'the ' || j.kind || ' job gave up after ' || j.attempts || ' attempts: ' || coalesce(j.last_error, 'no error recorded')
            FROM jobs j
            WHERE j.deployment_id = d.id AND j.state = 'dead'
              AND d.state IN ('queued', 'building', 'pushing', 'rolling_out', 'watching')
            """, logger: logger)
    }

    /// After `fail` made a job dead: fail its deployment too.
    public func settleDead() async throws {
        try await client.withConnection { connection in
            try await Self.failDeploymentsOfDeadJobs(on: connection, logger: logger)
        }
    }

    /// Runs an UPDATE … RETURNING id guarded by the lease token; true when it matched.
    private func fenced(_ query: PostgresQuery) async throws -> Bool {
        try await client.query(query, logger: logger).collect().count == 1
    }
}
