import Foundation
import Logging
import PostgresNIO
import SlipwayCore

/// A job a worker holds. `leaseToken` fences every later write: a worker whose lease
/// expired (and whose job was claimed again) can no longer record a result.
public struct ClaimedJob: Sendable, Hashable {
    public var id: Int64
    public var kind: JobKind
    public var deploymentID: Int64?
    public var service: String?
    public var attempts: Int
    public var maxAttempts: Int
    public var timeout: TimeSpan
    public var leaseToken: UUID
    /// The job's payload as stored (a JSON object of strings).
    public var payloadJSON: String = "{}"

    /// The payload, decoded on demand: most jobs have none and the claim stays cheap.
    public var payload: [String: String] {
        (try? JSONDecoder().decode([String: String].self, from: Data(payloadJSON.utf8))) ?? [:]
    }
}

/// Limits on how many jobs of a kind run at once, across every replica.
public struct KindLimits: Sendable, Hashable {
    public var global: Int?
    public var perService: Int?
    /// Per deployment target (a service's environment): a preview's rollout does not wait for its service's.
    public var perTarget: Int?
    public init(global: Int? = nil, perService: Int? = nil, perTarget: Int? = nil) {
        self.global = global
        self.perService = perService
        self.perTarget = perTarget
    }
}

/// The Postgres job queue: SKIP LOCKED claims in batches, leases with heartbeats,
/// NOTIFY wake-ups, cancellation requests, deadlines.
public struct JobQueue: Sendable {
    /// New work: payload is the job kind.
    public static let channel = "slipway_jobs"
    /// A running job was asked to stop: payload is the job id.
    public static let cancelChannel = "slipway_cancel"
    /// A push reached the policies repository (at any replica): the one leading the policies refreshes.
    public static let policiesChannel = "slipway_policies"

    let pool: DatabasePool
    let logger: Logger
    var client: PostgresClient { pool.client }

    init(pool: DatabasePool, logger: Logger) {
        self.pool = pool
        self.logger = logger
    }

    /// Adds a job inside the caller's transaction; the NOTIFY is delivered at commit.
    /// Returns nil when a job with the same dedupe key is already pending.
    @discardableResult
    public static func enqueue(_ job: NewJob, on connection: PostgresConnection, logger: Logger) async throws -> Int64? {
        var id: Int64?
        for try await value in try await connection.query(insertQuery(job), logger: logger).decode(Int64.self) { id = value }
        return id
    }

    /// One statement: the insert and its NOTIFY (sent when the surrounding transaction
    /// commits), so queueing a job on its own is a single round trip.
    static func insertQuery(_ job: NewJob) -> PostgresQuery {
        """
        WITH inserted AS (
            INSERT INTO jobs (kind, deployment_id, service, environment, priority, max_attempts, dedupe_key, timeout_ms, run_at, payload)
            VALUES (\(job.kind.rawValue), \(job.deploymentID), \(job.service), \(job.environment), \(job.priority),
                    \(job.maxAttempts), \(job.dedupeKey), \(job.timeout.milliseconds),
                    now() + \(job.delay?.milliseconds ?? 0) * interval '1 millisecond', \(payloadText(job))::jsonb)
            ON CONFLICT (dedupe_key) WHERE dedupe_key IS NOT NULL AND state IN ('queued', 'running') DO NOTHING
            RETURNING id)
        SELECT id FROM inserted, LATERAL (SELECT pg_notify(\(Self.channel), \(job.kind.rawValue))) AS notified
        """
    }

    static func payloadText(_ job: NewJob) -> String {
        guard !job.payload.isEmpty, let data = try? JSONEncoder().encode(job.payload) else { return "{}" }
        return String(decoding: data, as: UTF8.self)
    }

    @discardableResult
    public func enqueue(_ job: NewJob) async throws -> Int64? {
        try await pool.bounded {
            var id: Int64?
            for try await value in try await client.query(Self.insertQuery(job), logger: logger).decode(Int64.self) { id = value }
            return id
        }
    }

    /// Adds many jobs in one statement (one NOTIFY); for bulk work and benchmarks.
    public func enqueueBatch(kind: JobKind, count: Int, timeout: TimeSpan = .minutes(60)) async throws -> [Int64] {
        try await pool.bounded {
            try await client.transaction(logger: logger) { connection in
                var ids: [Int64] = []
                for try await id in try await connection.query("""
                    INSERT INTO jobs (kind, timeout_ms) SELECT \(kind.rawValue), \(timeout.milliseconds) FROM generate_series(1, \(count))
                    RETURNING id
                    """, logger: logger).decode(Int64.self) {
                    ids.append(id)
                }
                try await connection.query("SELECT pg_notify(\(Self.channel), \(kind.rawValue))", logger: logger)
                return ids
            }
        }
    }

    static let returning = """
        jobs.id, jobs.kind, jobs.deployment_id, jobs.service, jobs.attempts, jobs.max_attempts, jobs.timeout_ms,
        CASE WHEN jobs.payload = '{}'::jsonb THEN NULL ELSE jobs.payload::text END AS payload
        """

    /// Claims up to `limit` ready jobs of the given kinds for `owner`, highest priority and
    /// oldest first, all under one lease token. For kinds without limits.
    public func claim(kinds: [JobKind], limit: Int, owner: String, lease: TimeSpan) async throws -> [ClaimedJob] {
        try await pool.bounded {
            let token = UUID()
            let rows = try await pool.relaxed.query(Self.claimQuery(kinds: kinds, limit: limit, owner: owner, lease: lease, token: token),
                                              logger: logger)
            return try await Self.claimed(rows, token: token)
        }
    }

    /// The claim statement, also driven directly by the benchmark's "raw" ceiling.
    public static func claimQuery(kinds: [JobKind], limit: Int, owner: String, lease: TimeSpan, token: UUID) -> PostgresQuery {
        """
        WITH next AS (
            SELECT id FROM jobs
            WHERE state = 'queued' AND run_at <= now() AND kind = ANY(\(kinds.map(\.rawValue)))
            ORDER BY priority DESC, run_at, id
            LIMIT \(limit)
            FOR UPDATE SKIP LOCKED)
        \(claimingAs: owner, token: token, lease: lease)
        """
    }

    /// Claims one job of `kind` if its limits allow: no more than `limits.global` running
    /// anywhere, no more than `limits.perService` for its service and `limits.perTarget` for its
    /// target (service and environment). Claims of a limited kind
    /// take turns (an advisory lock) so two replicas cannot both take the last place.
    public func claim(kind: JobKind, limits: KindLimits, owner: String, lease: TimeSpan) async throws -> ClaimedJob? {
        try await pool.bounded {
            let token = UUID()
            return try await client.transaction(logger: logger) { connection in
                try await connection.query("SELECT pg_advisory_xact_lock(hashtext('slipway.claim.' || \(kind.rawValue)))", logger: logger)
                let rows = try await connection.query("""
                    WITH running AS (
                        SELECT service, environment, count(*) AS n FROM jobs WHERE state = 'running' AND kind = \(kind.rawValue)
                        GROUP BY service, environment
                    ), next AS (
                        SELECT id FROM jobs j
                        WHERE state = 'queued' AND run_at <= now() AND kind = \(kind.rawValue)
                          AND (SELECT coalesce(sum(n), 0) FROM running) < \(limits.global ?? Int.max)
                          AND coalesce((SELECT sum(n) FROM running r WHERE r.service IS NOT DISTINCT FROM j.service), 0) < \(limits.perService ?? Int.max)
                          AND coalesce((SELECT sum(n) FROM running r WHERE r.service IS NOT DISTINCT FROM j.service
                                        AND r.environment IS NOT DISTINCT FROM j.environment), 0) < \(limits.perTarget ?? Int.max)
                        ORDER BY priority DESC, run_at, id
                        LIMIT 1
                        FOR UPDATE SKIP LOCKED)
                    \(claimingAs: owner, token: token, lease: lease)
                    """, logger: logger)
                return try await Self.claimed(rows, token: token).first
            }
        }
    }

    public static func claimed(_ rows: PostgresRowSequence, token: UUID) async throws -> [ClaimedJob] {
        try await rows.rows().map { row in
            ClaimedJob(id: try row.value("id"), kind: JobKind(try row.value("kind", as: String.self)),
                       deploymentID: try row.value("deployment_id"), service: try row.value("service"),
                       attempts: try row.value("attempts"), maxAttempts: try row.value("max_attempts"),
                       timeout: TimeSpan(milliseconds: try row.value("timeout_ms")), leaseToken: token,
                       payloadJSON: try row.value("payload", as: String?.self) ?? "{}")
        }
    }
}

extension PostgresQuery.StringInterpolation {
    /// The one way a claim takes the jobs a `next` CTE chose: running, under `token`'s lease,
    /// with its deadline; both claim statements end with it.
    mutating func appendInterpolation(claimingAs owner: String, token: UUID, lease: TimeSpan) {
        appendLiteral("UPDATE jobs SET state = 'running', attempts = jobs.attempts + 1, lease_token = ")
        appendInterpolation(token)
        appendLiteral(", lease_owner = ")
        appendInterpolation(owner)
        appendLiteral(", lease_expires_at = now() + ")
        appendInterpolation(lease.milliseconds)
        appendLiteral(" * interval '1 millisecond', started_at = now(), deadline_at = now() + jobs.timeout_ms * interval '1 millisecond',")
        appendLiteral(" updated_at = now() FROM next WHERE jobs.id = next.id RETURNING ")
        appendInterpolation(unescaped: JobQueue.returning)
    }
}
