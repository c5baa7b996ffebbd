import Foundation
import PostgresNIO
import SlipwayCore

extension Store {
    /// The status contract for one service or all, deployments newest first.
    /// - Parameters:
    ///   - after, limit: a page of services by name (all when `limit` is nil).
    public func status(service: String? = nil, deploymentsPerService: Int = 20, after: String? = nil, limit: Int? = nil) async throws -> [ServiceStatus] {
        let services = try await client.query("""
            SELECT s.name, t.live_deployment_id, l.sha AS live_sha,
                   EXISTS (SELECT 1 FROM deployments f WHERE f.service = s.name AND f.environment = 'main'
                           AND f.state IN ('queued', 'building', 'pushing', 'rolling_out', 'watching')) AS in_flight,
                   EXISTS (SELECT 1 FROM deployments e WHERE e.service = s.name AND e.environment = 'main') AS deployed
            FROM services s LEFT JOIN targets t ON t.service = s.name AND t.environment = 'main'
            LEFT JOIN deployments l ON l.id = t.live_deployment_id
            WHERE s.removed_at IS NULL AND (\(service)::text IS NULL OR s.name = \(service))
              AND (\(after)::text IS NULL OR s.name > \(after))
            ORDER BY s.name LIMIT \(limit ?? Int(Int32.max))
            """, logger: logger).rows()
        let names: [String] = try services.map { try $0.value("name") }
        // Each service's newest, through the (service, environment, id) index: a page costs its own rows only.
        let deployments = try await client.query("""
            SELECT d.id, d.service, d.sha, d.state, d.reason, d.trigger, d.image, d.digest, d.created_at, d.updated_at, d.live_at,
                   d.finished_at, d.requested_by
            FROM unnest(\(names)::text[]) AS n(name)
            CROSS JOIN LATERAL (SELECT * FROM deployments WHERE service = n.name AND environment = 'main'
                                ORDER BY id DESC LIMIT \(deploymentsPerService)) d
            ORDER BY d.id DESC
            """, logger: logger).rows()
        var byService: [String: [ServiceStatus.Deployment]] = [:]
        for row in deployments {
            // By position, in the SELECT's order: a page has hundreds of rows, and a lookup by name costs a hash per cell.
            let stateText = try row[3].decode(String.self), triggerText = try row[5].decode(String.self)
            guard let state = DeploymentState(rawValue: stateText), let trigger = DeploymentTrigger(rawValue: triggerText) else {
                throw StoreError.corrupt("deployment state `\(stateText)`, trigger `\(triggerText)`")
            }
            byService[try row[1].decode(String.self), default: []].append(ServiceStatus.Deployment(
                id: try row[0].decode(Int64.self), sha: try row[2].decode(String?.self), state: state, reason: try row[4].decode(String?.self),
                trigger: trigger, image: try row[6].decode(String?.self), digest: try row[7].decode(String?.self),
                createdAt: try row[8].decode(Date.self), updatedAt: try row[9].decode(Date.self),
                liveAt: try row[10].decode(Date?.self), finishedAt: try row[11].decode(Date?.self), by: try row[12].decode(String?.self)))
        }
        return try services.map { row in
            let name: String = try row.value("name")
            let liveID: Int64? = try row.value("live_deployment_id")
            let liveSHA: String? = try row.value("live_sha")
            return ServiceStatus(service: name, live: liveID.map { ($0, liveSHA) }, deployments: byService[name] ?? [],
                                 inFlight: try row.value("in_flight"), everDeployed: try row.value("deployed"))
        }
    }

    /// Deployments newest first, narrowed by service, environment and state; at most `limit`.
    public func deploymentSummaries(service: String?, environment: String?, state: String?, before: Int64?, limit: Int) async throws -> [DeploymentSummary] {
        let rows = try await client.query("""
            SELECT id, service, environment, sha, state, reason, trigger, image, digest, created_at, updated_at, live_at, finished_at, requested_by
            FROM deployments
            WHERE (\(service)::text IS NULL OR service = \(service)) AND (\(environment)::text IS NULL OR environment = \(environment))
              AND (\(state)::text IS NULL OR state = \(state)) AND (\(before)::bigint IS NULL OR id < \(before))
            ORDER BY id DESC LIMIT \(limit)
            """, logger: logger).rows()
        return try rows.map { row in
            let stateText: String = try row.value("state"), triggerText: String = try row.value("trigger")
            guard let state = DeploymentState(rawValue: stateText), let trigger = DeploymentTrigger(rawValue: triggerText) else {
                throw StoreError.corrupt("deployment state `\(stateText)`, trigger `\(triggerText)`")
            }
            return DeploymentSummary(service: try row.value("service"), environment: try row.value("environment"), deployment: ServiceStatus.Deployment(
                id: try row.value("id"), sha: try row.value("sha"), state: state, reason: try row.value("reason"),
                trigger: trigger, image: try row.value("image"), digest: try row.value("digest"),
                createdAt: try row.value("created_at"), updatedAt: try row.value("updated_at"),
                liveAt: try row.value("live_at"), finishedAt: try row.value("finished_at"), by: try row.value("requested_by")))
        }
    }
}
