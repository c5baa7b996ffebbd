import Foundation
import PostgresNIO
import SlipwayCore

/// One service as the reconciler sees it in the database.
public struct PlanningRow: Sendable {
    public init(name: String, policy: Policy, removed: Bool, liveID: Int64?, history: [DeploymentRecord]) {
        self.name = name
        self.policy = policy
        self.removed = removed
        self.liveID = liveID
        self.history = history
    }

    public var name: String
    /// The policy in force, or the last one it had when `removed`.
    public var policy: Policy
    public var removed: Bool
    public var liveID: Int64?
    /// Newest first.
    public var history: [DeploymentRecord]
}

extension Store {
    /// Every service (declared or removed) with its recent deployments, in two queries.
    public func planningRows(service: String? = nil, historyLimit: Int = 30) async throws -> [PlanningRow] {
        let services = try await client.query("""
            SELECT s.name, s.policy::text AS policy, s.removed_at IS NOT NULL AS removed, t.live_deployment_id
            FROM services s LEFT JOIN targets t ON t.service = s.name AND t.environment = 'main'
            WHERE \(service)::text IS NULL OR s.name = \(service) ORDER BY s.name
            """, logger: logger).rows()
        // The newest deployments of each service, read through (service, id) per service.
        let deployments = try await client.query("""
            SELECT \(unescaped: Self.deploymentColumns) FROM (
                SELECT d.* FROM services s
                CROSS JOIN LATERAL (
                    SELECT * FROM deployments WHERE deployments.service = s.name AND deployments.environment = 'main'
                    ORDER BY id DESC LIMIT \(historyLimit)
                ) d
                WHERE \(service)::text IS NULL OR s.name = \(service)
            ) d
            ORDER BY service, id DESC
            """, logger: logger).rows()
        // Deployments mostly share a handful of policy versions: decode each text once.
        var decoded: [String: Policy] = [:]
        let records = try deployments.map { row in
            let text: String = try row.value("policy")
            let policy = try decoded[text] ?? Self.decodeJSON(Policy.self, text)
            decoded[text] = policy
            return try Self.deploymentRecord(row, policy: policy)
        }
        let history = Dictionary(grouping: records, by: \.service)
        return try services.map { row in
            let name: String = try row.value("name")
            return PlanningRow(name: name, policy: try Self.decodeJSON(Policy.self, try row.value("policy")),
                               removed: try row.value("removed"), liveID: try row.value("live_deployment_id"),
                               history: history[name] ?? [])
        }
    }
}
