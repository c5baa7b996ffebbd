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
    var buildTimeout: TimeSpan
    /// False for a deployment that a newer one of the same batch outran: stored superseded.
    var builds: Bool
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
        // The same commit twice in one batch (two hooks at once, or a push back to it): the
        // last stands, so the newest deployment is the branch's head.
        var seen = Set<String>()
        let unique = Array(wanted.reversed().filter { seen.insert($0.service + "\u{0}" + $0.sha).inserted }.reversed())
        guard !unique.isEmpty else { return [] }
        let created = try await insertPushDeployments(unique, unlessNewerThan: unlessNewerThan, on: connection, logger: logger)
        guard !created.isEmpty else { return [] }

        // Per service the newest of the batch builds; the older ones were stored superseded.
        try await queueBuilds(created.filter(\.builds), on: connection, logger: logger)
        return created
    }


    static func insertPushDeployments(_ wanted: [WantedDeployment], unlessNewerThan: Int64?, on connection: PostgresConnection,
                                      logger: Logger) async throws -> [CreatedDeployment] {
        // Ids are drawn in the batch's order, so the newest push has the highest id; per service
        // only the newest builds, the others are stored superseded by it.
        let rows = try await connection.query("""
            WITH w AS (
                SELECT w.*, s.policy, coalesce(nullif(w.branch, ''), s.branch) AS deployed_branch
                FROM unnest(\(wanted.map(\.service))::text[], \(wanted.map(\.sha))::text[], \(wanted.map { $0.branch ?? "" })::text[],
                            \(wanted.map(\.deliveryRowID))::int8[], \(wanted.indices.map { Int64($0) })::int8[],
                            \(wanted.map { $0.ref ?? "" })::text[], \(wanted.map { $0.before ?? "" })::text[])
                     AS w(service, sha, branch, delivery, position, ref, before)
                JOIN services s ON s.name = w.service AND s.removed_at IS NULL
                -- Not again: the same push (another announcement of it, unless the branch went back to its
                -- old head since: A→B, back to A, then B again deploys B again), or the commit deploying
                -- or live with nothing newer on the way (a push back to it while another commit builds must win).
                -- (w.service, not s.name, in the lookups: both columns of the (service, …) indexes are then used.)
                WHERE NOT EXISTS (SELECT 1 FROM deployments d WHERE d.service = w.service AND d.environment = 'main' AND d.sha = w.sha
                                  AND ((EXISTS (SELECT 1 FROM webhook_deliveries x WHERE x.id = d.delivery_id
                                                AND x.ref = nullif(w.ref, '') AND x.before_sha IS NOT DISTINCT FROM nullif(w.before, ''))
                                        AND NOT EXISTS (SELECT 1 FROM deployments l WHERE l.service = w.service AND l.environment = 'main'
                                                        AND l.id > d.id
                                                        AND l.trigger = 'push' AND l.sha = nullif(w.before, '') AND NOT l.push_refused))
                                       OR ((d.state IN ('queued', 'building', 'pushing', 'rolling_out', 'watching')
                                            OR d.id = (SELECT live_deployment_id FROM targets
                                                       WHERE targets.service = w.service AND targets.environment = 'main'))
                                           AND NOT EXISTS (SELECT 1 FROM deployments n WHERE n.service = w.service
                                                           AND n.environment = 'main' AND n.id > d.id
                                                           AND n.state IN ('queued', 'building', 'pushing', 'rolling_out', 'watching')))))
                  AND NOT EXISTS (SELECT 1 FROM deployments d WHERE d.service = w.service AND d.environment = 'main'
                                  AND d.delivery_id > \(unlessNewerThan ?? Int64.max))),
            numbered AS (
                SELECT w.*, nextval(pg_get_serial_sequence('deployments', 'id')) AS id FROM w ORDER BY w.position),
            newest AS (
                SELECT DISTINCT ON (service) service, id, sha FROM numbered ORDER BY service, position DESC),
            inserted AS (
                INSERT INTO deployments (id, service, trigger, sha, branch, policy, delivery_id, state, finished_at)
                SELECT n.id, n.service, 'push', n.sha, n.deployed_branch, n.policy, n.delivery,
                       CASE WHEN n.id = x.id THEN 'queued' ELSE 'superseded' END,
                       CASE WHEN n.id = x.id THEN NULL ELSE now() END
                FROM numbered n JOIN newest x ON x.service = n.service
                ORDER BY n.position
                RETURNING id, service, sha, delivery_id, state, policy->'build'->>'timeout' AS build_timeout)
            SELECT i.id, i.service, i.sha, i.delivery_id, i.build_timeout, i.state = 'queued' AS builds, x.id AS winner, x.sha AS winner_sha
            FROM inserted i JOIN newest x ON x.service = i.service ORDER BY i.id
            """, logger: logger)
        // Rows come back in insertion order, which is the batch's order; match each to its request.
        var pending = wanted
        var created: [CreatedDeployment] = []
        var superseded: [(id: Int64, reason: String)] = []
        for try await (id, service, sha, delivery, timeout, builds, winner, winnerSHA)
            in rows.decode((Int64, String, String, Int64?, String?, Bool, Int64, String).self) {
            // Latest wins inside the batch too: an older push of a service in it is stored superseded by the newest.
            if !builds { superseded.append((id, LatestWins.reason(supersededBy: winner, sha: winnerSHA))) }
            guard let at = pending.firstIndex(where: { $0.service == service && $0.sha == sha && $0.deliveryRowID == delivery }) else {
                continue
            }
            let build = timeout.flatMap(TimeSpan.init(parsing:)) ?? Policy.Build.defaultTimeout
            created.append(CreatedDeployment(id: id, record: pending[at].record, service: service, sha: sha, buildTimeout: build,
                                             builds: builds))
            pending.remove(at: at)
        }
        if !superseded.isEmpty {
            // Rare (two pushes of one service in one batch): the reasons, phrased by LatestWins, in one more statement.
            try await connection.query("""
                WITH r(id, reason) AS (SELECT * FROM unnest(\(superseded.map(\.id))::int8[], \(superseded.map(\.reason))::text[])),
                updated AS (UPDATE deployments SET reason = r.reason FROM r WHERE deployments.id = r.id RETURNING deployments.id, r.reason)
                INSERT INTO deployment_events (deployment_id, kind, message) SELECT id, 'state', 'superseded: ' || reason FROM updated
                """, logger: logger)
        }
        return created
    }

    /// What follows a batch's deployments: one build job per building deployment with the
    /// limits its policy implies, and latest wins against older builds of the same targets.
    static func queueBuilds(_ builders: [CreatedDeployment], on connection: PostgresConnection, logger: Logger) async throws {
        try await JobQueue.queueBuilds(builders.map {
            JobQueue.BuildToQueue(job: JobTimeouts.job(.build, deploymentID: $0.id, service: $0.service, environment: .main,
                                                       buildTimeout: $0.buildTimeout), sha: $0.sha)
        }, on: connection, logger: logger)
    }
}
