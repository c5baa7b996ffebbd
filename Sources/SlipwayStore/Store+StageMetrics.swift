import Foundation
import PostgresNIO
import SlipwayCore

extension Store {
    /// A deployment whose metrics are due, claimed for this process alone.
    public struct MetricsDue: Sendable {
        public var id: Int64
        public var phase: DeploymentMetrics.Phase
        public var subject: DeploymentMetrics.Subject
    }

    /// Claims up to `limit` deployments that went live and up to `limit` that ended since
    /// they were last looked at (live first, so one that did both in between has its live
    /// part claimed before its end). Each is returned once, to one caller, ever.
    public func claimMetricsDue(limit: Int = 200) async throws -> [MetricsDue] {
        var due: [MetricsDue] = []
        let live = try await client.query("""
            UPDATE deployments d SET observed_live_at = now()
            FROM (SELECT id FROM deployments WHERE live_at IS NOT NULL AND observed_live_at IS NULL ORDER BY id LIMIT \(limit)
                  FOR UPDATE SKIP LOCKED) c
            WHERE d.id = c.id
            RETURNING d.id, d.service, d.state, d.trigger, false,
                      EXISTS (SELECT 1 FROM deployment_events e WHERE e.deployment_id = d.id AND e.kind = 'rollout-failed')
            """, logger: logger)
        for try await row in live.decode((Int64, String, String, String, Bool, Bool).self) { due.append(try Self.due(row, phase: .live)) }
        let ended = try await client.query("""
            UPDATE deployments d SET observed_end_at = now()
            FROM (SELECT id, observed_live_at IS NOT NULL AS live_observed FROM deployments
                  WHERE finished_at IS NOT NULL AND observed_end_at IS NULL ORDER BY id LIMIT \(limit) FOR UPDATE SKIP LOCKED) c
            WHERE d.id = c.id
            RETURNING d.id, d.service, d.state, d.trigger, c.live_observed,
                      EXISTS (SELECT 1 FROM deployment_events e WHERE e.deployment_id = d.id AND e.kind = 'rollout-failed')
            """, logger: logger)
        for try await row in ended.decode((Int64, String, String, String, Bool, Bool).self) { due.append(try Self.due(row, phase: .end)) }
        return due
    }

    static func due(_ row: (Int64, String, String, String, Bool, Bool), phase: DeploymentMetrics.Phase) throws -> MetricsDue {
        guard let state = DeploymentState(rawValue: row.2), let trigger = DeploymentTrigger(rawValue: row.3) else {
            throw StoreError.corrupt("deployment \(row.0): state `\(row.2)`, trigger `\(row.3)`")
        }
        return MetricsDue(id: row.0, phase: phase, subject: .init(service: row.1, state: state, trigger: trigger,
                                                                  liveObserved: row.4, rolloutFailed: row.5))
    }
}
