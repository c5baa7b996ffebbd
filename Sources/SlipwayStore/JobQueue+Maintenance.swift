import Foundation
import Logging
import PostgresNIO
import SlipwayCore

/// Housekeeping, run by the maintenance leader.
extension JobQueue {
    /// Jobs whose lease expired (their worker stopped or lost the database): back to the
    /// queue, or ended when they were asked to stop or are out of attempts.
    @discardableResult
    public func rescueExpired() async throws -> Int {
        try await pool.bounded {
            try await client.transaction(logger: logger) { connection in
                var requeued = 0
                for try await state in try await connection.query("""
                    UPDATE jobs SET state = CASE
                                        WHEN cancel_reason IN ('cancelled', 'superseded') THEN cancel_reason
                                        WHEN cancel_reason = 'timeout' OR attempts >= max_attempts THEN 'dead'
                                        ELSE 'queued' END,
                                    last_error = 'lease of ' || coalesce(lease_owner, '?') || ' expired (worker stopped or lost the database)',
                                    finished_at = CASE WHEN cancel_reason IS NULL AND attempts < max_attempts THEN NULL ELSE now() END,
                                    lease_token = NULL, lease_owner = NULL, lease_expires_at = NULL, deadline_at = NULL,
                                    updated_at = now()
                    WHERE state = 'running' AND lease_expires_at < now()
                    RETURNING state
                    """, logger: logger).decode(String.self) where state == "queued" {
                    requeued += 1
                }
                try await Self.settleDeployments(on: connection, logger: logger)
                if requeued > 0 {
                    try await connection.query("SELECT pg_notify(\(Self.channel), 'rescued')", logger: logger)
                }
                return requeued
            }
        }
    }

    /// Jobs past their deadline are asked to stop; those still running a grace period
    /// later are declared dead (their worker's late writes are fenced off).
    @discardableResult
    public func enforceDeadlines(grace: TimeSpan) async throws -> (asked: Int, killed: Int) {
        try await pool.bounded {
            try await client.transaction(logger: logger) { connection in
                var overdue: [Int64] = []
                for try await id in try await connection.query("""
                    SELECT id FROM jobs WHERE state = 'running' AND deadline_at < now() AND cancel_requested_at IS NULL
                    """, logger: logger).decode(Int64.self) {
                    overdue.append(id)
                }
                try await Self.requestStop(overdue, reason: .timeout, note: "ran past its deadline and was stopped", on: connection,
                                       logger: logger)
                let killed = try await connection.query("""
                    UPDATE jobs SET state = 'dead', finished_at = now(), updated_at = now(),
                                    last_error = 'ran past its deadline (' || (timeout_ms / 1000) || ' s) and did not stop when asked',
                                    lease_token = NULL, lease_expires_at = NULL, deadline_at = NULL
                    WHERE state = 'running' AND deadline_at < now() - \(grace.milliseconds) * interval '1 millisecond'
                    RETURNING id
                    """, logger: logger).collect().count
                try await Self.settleDeployments(on: connection, logger: logger)
                return (overdue.count, killed)
            }
        }
    }

    /// Deployments whose job ended without success end with it.
    static func settleDeployments(on connection: PostgresConnection, logger: Logger) async throws {
        // The candidates here; what each means for its deployment is JobTransitions' call.
        var ended: [(deployment: Int64, kind: String, state: String, error: String?)] = []
        for try await row in try await connection.query("""
            SELECT d.id, j.kind, j.state, j.last_error FROM deployments d JOIN jobs j ON j.deployment_id = d.id
            WHERE j.state IN ('dead', 'cancelled', 'superseded') AND d.state = ANY(\(DeploymentTransitions.sourceNames(of: .failed)))
            ORDER BY d.id, j.id
            FOR UPDATE OF d
            """, logger: logger).decode((Int64, String, String, String?).self) {
            ended.append(row)
        }
        for (deployment, kind, state, error) in ended {
            guard let jobState = JobState(rawValue: state),
                  let outcome = JobTransitions.deploymentOutcome(ofEnded: JobKind(kind), state: jobState, error: error) else { continue }
            try await Store.transition(deployment, to: outcome.state, reason: outcome.reason, on: connection, logger: logger)
        }
    }

    /// Deletes finished jobs older than `retention`, at most `batch` at a time.
    @discardableResult
    public func prune(olderThan retention: TimeSpan, batch: Int = 10_000) async throws -> Int {
        try await pool.bounded {
            try await client.query("""
                DELETE FROM jobs WHERE id IN (
                    SELECT id FROM jobs
                    WHERE state IN ('succeeded', 'failed', 'dead', 'cancelled', 'superseded')
                      AND finished_at < now() - \(retention.milliseconds) * interval '1 millisecond'
                    LIMIT \(batch))
                RETURNING id
                """, logger: logger).collect().count
        }
    }
}

extension JobQueue {
    /// Webhook deliveries older than `retention`, kept well past every provider's
    /// redelivery window so a late redelivery is still recognised.
    public func pruneDeliveries(olderThan retention: TimeSpan, batch: Int = 10_000) async throws -> Int {
        try await pool.bounded {
            try await client.query("""
                DELETE FROM webhook_deliveries WHERE id IN (
                    SELECT id FROM webhook_deliveries
                    WHERE received_at < now() - \(retention.milliseconds) * interval '1 millisecond' LIMIT \(batch))
                RETURNING id
                """, logger: logger).collect().count
        }
    }
}

extension JobQueue {
    /// Notifications (and their deliveries) older than the log retention: they tell of deployments whose logs are gone.
    public func pruneNotifications(olderThan retention: TimeSpan, batch: Int = 5_000) async throws -> Int {
        try await pool.bounded {
            try await client.query("""
                DELETE FROM notifications WHERE id IN (
                    SELECT id FROM notifications
                    WHERE created_at < now() - \(retention.milliseconds) * interval '1 millisecond' ORDER BY created_at LIMIT \(batch))
                RETURNING id
                """, logger: logger).collect().count
        }
    }
}

extension JobQueue {
    /// What one pass of the log prune removed.
    public struct LogPrune: Sendable, Equatable {
        public var deployments = 0
        public var lines = 0
        public var events = 0

        public init(deployments: Int = 0, lines: Int = 0, events: Int = 0) {
            self.deployments = deployments
            self.lines = lines
            self.events = events
        }
    }

    /// Deletes the log lines and events of up to `deployments` deployments that finished over
    /// `retention` ago, sparing each target's newest `keep` deployments and its live one, in
    /// statements of at most `rows` rows (no long lock on the tables builds write to); then
    /// marks them pruned. The deployments themselves stay.
    /// Deployments one prune statement set handles by default: a pass that returns this many may have left more.
    public static let logPruneBatch = 50

    public func pruneDeploymentLogs(olderThan retention: TimeSpan, keep: Int, deployments: Int = logPruneBatch,
                                    rows: Int = 5_000) async throws -> LogPrune {
        try await pool.bounded {
            let ids = try await client.query("""
                SELECT d.id FROM deployments d
                WHERE d.logs_pruned_at IS NULL AND d.finished_at < now() - \(retention.milliseconds) * interval '1 millisecond'
                  AND NOT EXISTS (SELECT 1 FROM targets t WHERE t.live_deployment_id = d.id)
                  AND EXISTS (SELECT 1 FROM deployments n WHERE n.service = d.service AND n.environment = d.environment AND n.id > d.id
                              ORDER BY n.id OFFSET \(max(0, keep - 1)) LIMIT 1)
                ORDER BY d.finished_at LIMIT \(deployments)
                """, logger: logger).collect().map { try $0.decode(Int64.self) }
            var pruned = LogPrune(deployments: ids.count)
            guard !ids.isEmpty else { return pruned }
            for (table, path) in [("deployment_logs", \LogPrune.lines), ("deployment_events", \LogPrune.events)] {
                while true {
                    let deleted = try await client.query(PostgresQuery(unsafeSQL: """
                        DELETE FROM \(table) WHERE id IN (SELECT id FROM \(table) WHERE deployment_id = ANY($1) LIMIT \(rows)) RETURNING 1
                        """, binds: try Self.binds(ids)), logger: logger).collect().count
                    pruned[keyPath: path] += deleted
                    if deleted < rows { break }
                }
            }
            // One line says what happened, so every reader (API, CLI, dashboard) shows why the log is short.
            let note = "the log lines and events of this deployment were deleted by the log retention (SLIPWAY_LOG_RETENTION: \(retention)) on "
            try await client.query("""
                WITH marked AS (UPDATE deployments SET logs_pruned_at = now() WHERE id = ANY(\(ids)) RETURNING id, logs_pruned_at)
                INSERT INTO deployment_logs (deployment_id, stream, line)
                SELECT id, 'slipway', \(note) || to_char(logs_pruned_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') FROM marked
                """, logger: logger)
            return pruned
        }
    }

    static func binds(_ ids: [Int64]) throws -> PostgresBindings {
        var binds = PostgresBindings()
        try binds.append(ids, context: .default)
        return binds
    }
}

/// Leader election on a lease row: one holder per name, renewed before it expires,
/// taken over by another replica once it has.
public struct LeaderLease: Sendable {
    let pool: DatabasePool
    let logger: Logger
    public let name: String
    var client: PostgresClient { pool.client }

    public init(pool: DatabasePool, name: String, logger: Logger) {
        self.pool = pool
        self.name = name
        self.logger = logger
    }

    /// Takes or renews the lease for `holder`; true when `holder` leads for the next `ttl`.
    public func acquire(holder: String, ttl: TimeSpan) async throws -> Bool {
        try await pool.bounded {
            try await client.query("""
                INSERT INTO leader_leases (name, holder, expires_at)
                VALUES (\(name), \(holder), now() + \(ttl.milliseconds) * interval '1 millisecond')
                ON CONFLICT (name) DO UPDATE SET
                    holder = EXCLUDED.holder, expires_at = EXCLUDED.expires_at,
                    acquired_at = CASE WHEN leader_leases.holder = EXCLUDED.holder THEN leader_leases.acquired_at ELSE now() END
                WHERE leader_leases.holder = EXCLUDED.holder OR leader_leases.expires_at < now()
                RETURNING holder
                """, logger: logger).collect().count == 1
        }
    }

    /// Gives the lease up (on shutdown), so another replica need not wait for it to expire.
    public func release(holder: String) async throws {
        try await client.query("DELETE FROM leader_leases WHERE name = \(name) AND holder = \(holder)", logger: logger)
    }

    /// Who leads now, if anyone.
    public func holder() async throws -> String? {
        try await client.query("SELECT holder FROM leader_leases WHERE name = \(name) AND expires_at > now()", logger: logger)
            .rows().first.map { try $0.value("holder") }
    }
}
