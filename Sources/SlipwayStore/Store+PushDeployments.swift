import Foundation
import PostgresNIO
import SlipwayCore

/// A deployment a push asks for: which service, which commit, from which delivery.
struct WantedDeployment {
    var record: Int
    var service: String
    var sha: String
    var branch: String?
    var deliveryRowID: Int64
    /// The push (ref and old head) the commit came with: the same push announced twice deploys once.
    var ref: String?
    var before: String?
}

struct CreatedDeployment {
    var id: Int64
    var record: Int
    var service: String
    var sha: String
    var branch: String
    var buildTimeout: TimeSpan
}

extension Store {
    /// Deployments and build jobs for everything a batch of pushes deploys, in a fixed
    /// number of statements however many services and deliveries it holds (a monorepo push
    /// may touch thousands of services; a busy minute brings many pushes): insert the
    /// deployments, lock the services' pending builds, supersede the older ones (latest
    /// wins, also among the batch's own), insert the build jobs with one NOTIFY.
    ///
    /// A wanted deployment is left out when its commit is already deploying or live for the
    /// service (two hooks, a hook and polling), or, for a decision that waited on git, when
    /// a newer push already deployed the service. Returns what was created.
    static func createDeployments(_ wanted: [WantedDeployment], unlessNewerThan: Int64?, on connection: PostgresConnection,
                                  logger: Logger) async throws -> [CreatedDeployment] {
        // The same commit twice in one batch (two hooks at once): the first stands.
        var seen = Set<String>()
        let unique = wanted.filter { seen.insert($0.service + "\u{0}" + $0.sha).inserted }
        guard !unique.isEmpty else { return [] }
        let created = try await insertPushDeployments(unique, unlessNewerThan: unlessNewerThan, on: connection, logger: logger)
        guard !created.isEmpty else { return [] }

        // Per service and branch the newest created deployment builds; the batch's older ones are superseded by it.
        var newest: [String: CreatedDeployment] = [:]
        for deployment in created {
            let key = deployment.service + "\u{0}" + deployment.branch
            if newest[key].map({ $0.id < deployment.id }) ?? true { newest[key] = deployment }
        }
        let builders = newest.values.sorted { $0.id < $1.id }
        try await supersedeOlderBuilds(than: builders, on: connection, logger: logger)
        let outrun = created.compactMap { d -> (Int64, String)? in
            guard let winner = newest[d.service + "\u{0}" + d.branch], winner.id != d.id else { return nil }
            return (d.id, supersededReason(winner))
        }
        try await insertBuildJobs(builders, endingOutrun: outrun, on: connection, logger: logger)
        return created
    }

    static func supersededReason(_ newer: CreatedDeployment) -> String {
        "superseded by deployment \(newer.id) (\(RolloutDecisions.shortSHA(newer.sha)))"
    }

    static func insertPushDeployments(_ wanted: [WantedDeployment], unlessNewerThan: Int64?, on connection: PostgresConnection,
                                      logger: Logger) async throws -> [CreatedDeployment] {
        let rows = try await connection.query("""
            INSERT INTO deployments (service, trigger, sha, branch, policy, delivery_id)
            SELECT s.name, 'push', w.sha, coalesce(nullif(w.branch, ''), s.branch), s.policy, w.delivery
            FROM unnest(\(wanted.map(\.service))::text[], \(wanted.map(\.sha))::text[], \(wanted.map { $0.branch ?? "" })::text[],
                        \(wanted.map(\.deliveryRowID))::int8[], \(wanted.indices.map { Int64($0) })::int8[],
                        \(wanted.map { $0.ref ?? "" })::text[], \(wanted.map { $0.before ?? "" })::text[])
                 AS w(service, sha, branch, delivery, position, ref, before)
            JOIN services s ON s.name = w.service AND s.removed_at IS NULL
            WHERE NOT EXISTS (SELECT 1 FROM deployments d WHERE d.service = s.name AND d.sha = w.sha
                              AND (d.state IN ('queued', 'building', 'pushing', 'rolling_out', 'watching')
                                   OR d.id = s.live_deployment_id
                                   OR EXISTS (SELECT 1 FROM webhook_deliveries x WHERE x.id = d.delivery_id
                                              AND x.ref = nullif(w.ref, '') AND x.before_sha IS NOT DISTINCT FROM nullif(w.before, ''))))
              AND NOT EXISTS (SELECT 1 FROM deployments d WHERE d.service = s.name
                              AND d.delivery_id > \(unlessNewerThan ?? Int64.max))
            ORDER BY w.position
            RETURNING id, service, sha, delivery_id, policy->'source'->>'branch' AS job_branch,
                      policy->'build'->>'timeout' AS build_timeout
            """, logger: logger)
        // Rows come back in insertion order, which is the batch's order; match each to its request.
        var pending = wanted
        var created: [CreatedDeployment] = []
        for try await (id, service, sha, delivery, jobBranch, timeout) in rows.decode((Int64, String, String, Int64?, String, String?).self) {
            guard let at = pending.firstIndex(where: { $0.service == service && $0.sha == sha && $0.deliveryRowID == delivery }) else {
                continue
            }
            let build = timeout.flatMap(TimeSpan.init(parsing:)) ?? Policy.Build.defaultTimeout
            created.append(CreatedDeployment(id: id, record: pending[at].record, service: service, sha: sha, branch: jobBranch,
                                             buildTimeout: build))
            pending.remove(at: at)
        }
        return created
    }

    /// Latest wins for every building deployment at once: older queued builds of the same
    /// service and branch end as superseded, running ones are asked to stop.
    static func supersedeOlderBuilds(than created: [CreatedDeployment], on connection: PostgresConnection,
                                     logger: Logger) async throws {
        guard !created.isEmpty else { return }
        var pending: [String: [LatestWins.PendingBuild]] = [:]
        for try await (id, service, deploymentID, jobBranch, state) in try await connection.query("""
            SELECT id, service, deployment_id, branch, state FROM jobs
            WHERE kind = 'build' AND service = ANY(\(Array(Set(created.map(\.service))))) AND state IN ('queued', 'running')
              AND deployment_id IS NOT NULL
            ORDER BY id
            FOR UPDATE
            """, logger: logger).decode((Int64, String, Int64, String?, String).self) {
            pending[service, default: []].append(.init(jobID: id, deploymentID: deploymentID, branch: jobBranch,
                                                       running: state == "running"))
        }
        var queued: [(Int64, String)] = [], running: [(Int64, String)] = []
        for deployment in created {
            let reason = supersededReason(deployment)
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

    /// One build job per building deployment, with the limits its policy implies, and one
    /// NOTIFY; in the same statement the batch's deployments that a newer one of the same
    /// batch outran end as superseded, before they build.
    static func insertBuildJobs(_ created: [CreatedDeployment], endingOutrun outrun: [(Int64, String)],
                                on connection: PostgresConnection, logger: Logger) async throws {
        guard !created.isEmpty else { return }
        let jobs = created.map { JobTimeouts.job(.build, deploymentID: $0.id, service: $0.service, branch: $0.branch,
                                                  buildTimeout: $0.buildTimeout) }
        try await connection.query("""
            WITH r(id, reason) AS (SELECT * FROM unnest(\(outrun.map(\.0))::int8[], \(outrun.map(\.1))::text[])),
            ended AS (UPDATE deployments SET state = 'superseded', reason = r.reason, updated_at = now(), finished_at = now()
                      FROM r WHERE deployments.id = r.id RETURNING deployments.id, r.reason),
            noted AS (INSERT INTO deployment_events (deployment_id, kind, message)
                      SELECT id, 'state', 'superseded: ' || reason FROM ended),
            inserted AS (
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
