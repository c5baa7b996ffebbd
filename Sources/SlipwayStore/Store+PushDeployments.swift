import Foundation
import PostgresNIO
import SlipwayCore

extension Store {
    /// Deployments and build jobs for the services a push deploys, in a fixed number of
    /// statements however many services it touches (a monorepo push may touch thousands):
    /// insert the deployments, lock the services' pending builds, supersede the older
    /// ones (latest wins), insert the build jobs with one NOTIFY.
    ///
    /// A service is left out when the commit is already deploying or live for it (two
    /// hooks, a hook and polling), or, for a decision that waited on git, when a newer
    /// push already deployed it; its outcome then says so.
    static func createDeployments(_ outcomes: [EventMatching.Outcome], event: NormalizedEvent, deliveryRowID: Int64,
                                  unlessNewerThan: Int64?, on connection: PostgresConnection,
                                  logger: Logger) async throws -> ([String: Int64], [EventMatching.Outcome]) {
        let wanted = outcomes.compactMap { if case .deploy(let service, let sha) = $0 { (service, sha) } else { nil } }
        guard !wanted.isEmpty else { return ([:], outcomes) }

        let created = try await insertPushDeployments(wanted, branch: event.branch, deliveryRowID: deliveryRowID,
                                                      unlessNewerThan: unlessNewerThan, on: connection, logger: logger)
        try await supersedeOlderBuilds(than: created, on: connection, logger: logger)
        try await insertBuildJobs(created, on: connection, logger: logger)

        let byService = Dictionary(created.map { ($0.service, $0) }, uniquingKeysWith: { first, _ in first })
        var final: [EventMatching.Outcome] = []
        for outcome in outcomes {
            guard case .deploy(let service, let sha) = outcome, byService[service] == nil else {
                final.append(outcome)
                continue
            }
            final.append(.skip(service: service, reason: try await whyNotDeployed(
                service: service, sha: sha, newerThan: unlessNewerThan, on: connection, logger: logger)))
        }
        return (byService.mapValues(\.id), final)
    }

    struct CreatedDeployment {
        var id: Int64
        var service: String
        var sha: String
        var branch: String
        var buildTimeout: TimeSpan
    }

    static func insertPushDeployments(_ wanted: [(service: String, sha: String)], branch: String?, deliveryRowID: Int64,
                                      unlessNewerThan: Int64?, on connection: PostgresConnection,
                                      logger: Logger) async throws -> [CreatedDeployment] {
        let rows = try await connection.query("""
            INSERT INTO deployments (service, trigger, sha, branch, policy, delivery_id)
            SELECT s.name, 'push', w.sha, coalesce(\(branch), s.branch), s.policy, \(deliveryRowID)
            FROM unnest(\(wanted.map(\.service))::text[], \(wanted.map(\.sha))::text[]) AS w(service, sha)
            JOIN services s ON s.name = w.service AND s.removed_at IS NULL
            WHERE NOT EXISTS (SELECT 1 FROM deployments d WHERE d.service = s.name AND d.sha = w.sha
                              AND (d.state IN ('queued', 'building', 'pushing', 'rolling_out', 'watching')
                                   OR d.id = s.live_deployment_id))
              AND NOT EXISTS (SELECT 1 FROM deployments d WHERE d.service = s.name
                              AND d.delivery_id > \(unlessNewerThan ?? Int64.max))
            ORDER BY s.name
            RETURNING id, service, sha, policy->'source'->>'branch' AS job_branch, policy->'build'->>'timeout' AS build_timeout
            """, logger: logger)
        var created: [CreatedDeployment] = []
        for try await (id, service, sha, jobBranch, timeout) in rows.decode((Int64, String, String, String, String?).self) {
            let build = timeout.flatMap(TimeSpan.init(parsing:)) ?? Policy.Build.defaultTimeout
            created.append(CreatedDeployment(id: id, service: service, sha: sha, branch: jobBranch, buildTimeout: build))
        }
        return created
    }

    /// Latest wins for every created deployment at once: older queued builds of the same
    /// service and branch end as superseded, running ones are asked to stop.
    static func supersedeOlderBuilds(than created: [CreatedDeployment], on connection: PostgresConnection,
                                     logger: Logger) async throws {
        guard !created.isEmpty else { return }
        var pending: [String: [LatestWins.PendingBuild]] = [:]
        for try await (id, service, deploymentID, jobBranch, state) in try await connection.query("""
            SELECT id, service, deployment_id, branch, state FROM jobs
            WHERE kind = 'build' AND service = ANY(\(created.map(\.service))) AND state IN ('queued', 'running')
              AND deployment_id IS NOT NULL
            ORDER BY id
            FOR UPDATE
            """, logger: logger).decode((Int64, String, Int64, String?, String).self) {
            pending[service, default: []].append(.init(jobID: id, deploymentID: deploymentID, branch: jobBranch,
                                                       running: state == "running"))
        }
        var queued: [(Int64, String)] = [], running: [(Int64, String)] = []
        for deployment in created {
            let reason = "superseded by deployment \(deployment.id) (\(RolloutDecisions.shortSHA(deployment.sha)))"
            for action in LatestWins.actions(newer: deployment.id, branch: deployment.branch, pending: pending[deployment.service] ?? []) {
                switch action {
                case .supersede(let job, _): queued.append((job, reason))
                case .stop(let job, _): running.append((job, reason))
                }
            }
        }
        if !queued.isEmpty {
            try await connection.query("""
                WITH r(id, reason) AS (SELECT * FROM unnest(\(queued.map(\.0))::int8[], \(queued.map(\.1))::text[])),
                j AS (UPDATE jobs SET state = 'superseded', last_error = r.reason, finished_at = now(), updated_at = now()
                      FROM r WHERE jobs.id = r.id AND jobs.state = 'queued'
                      RETURNING jobs.deployment_id, r.reason),
                d AS (UPDATE deployments SET state = 'superseded', reason = j.reason, updated_at = now(), finished_at = now()
                      FROM j WHERE deployments.id = j.deployment_id
                        AND deployments.state IN ('queued', 'building', 'pushing', 'rolling_out', 'watching')
                      RETURNING deployments.id, j.reason)
                INSERT INTO deployment_events (deployment_id, kind, message) SELECT id, 'state', 'superseded: ' || reason FROM d
                """, logger: logger)
        }
        if !running.isEmpty {
            try await connection.query("""
                WITH r(id, note) AS (SELECT * FROM unnest(\(running.map(\.0))::int8[], \(running.map(\.1))::text[])),
                u AS (UPDATE jobs SET cancel_requested_at = now(), cancel_reason = 'superseded', cancel_note = r.note, updated_at = now()
                      FROM r WHERE jobs.id = r.id AND jobs.state = 'running' AND jobs.cancel_requested_at IS NULL
                      RETURNING jobs.id)
                SELECT pg_notify(\(JobQueue.cancelChannel), id || ':superseded') FROM u
                """, logger: logger)
        }
    }

    /// One build job per created deployment, with the limits its policy implies, and one NOTIFY.
    static func insertBuildJobs(_ created: [CreatedDeployment], on connection: PostgresConnection, logger: Logger) async throws {
        guard !created.isEmpty else { return }
        let jobs = created.map { JobTimeouts.job(.build, deploymentID: $0.id, service: $0.service, branch: $0.branch,
                                                  buildTimeout: $0.buildTimeout) }
        try await connection.query("""
            WITH inserted AS (
                INSERT INTO jobs (kind, deployment_id, service, branch, max_attempts, dedupe_key, timeout_ms)
                SELECT 'build', j.deployment_id, j.service, j.branch, j.max_attempts, j.dedupe_key, j.timeout_ms
                FROM unnest(\(jobs.map { $0.deploymentID! })::int8[], \(jobs.map { $0.service! })::text[],
                            \(jobs.map { $0.branch ?? "" })::text[], \(jobs.map(\.maxAttempts))::int4[],
                            \(jobs.map { $0.dedupeKey! })::text[], \(jobs.map(\.timeout.milliseconds))::int8[])
                     AS j(deployment_id, service, branch, max_attempts, dedupe_key, timeout_ms)
                ON CONFLICT (dedupe_key) WHERE dedupe_key IS NOT NULL AND state IN ('queued', 'running') DO NOTHING
                RETURNING 1)
            SELECT pg_notify(\(JobQueue.channel), 'build') WHERE EXISTS (SELECT 1 FROM inserted)
            """, logger: logger)
    }
}
