import Foundation
import PostgresNIO
import SlipwayCore

extension Store {
    /// The head before the push that made a deployment, as its delivery announced it; nil when
    /// it had none (a new branch) or the delivery is gone.
    public func pushedBefore(deploymentID: Int64) async throws -> String? {
        let rows = try await client.query("""
            SELECT w.before_sha FROM deployments d JOIN webhook_deliveries w ON w.id = d.delivery_id WHERE d.id = \(deploymentID)
            """, logger: logger).rows()
        return try rows.first?.value("before_sha")
    }

    /// Ends a push deployment the fetched repository did not confirm: `failed` (contradicted) or
    /// `superseded` (the branch moved on), with why, in one transaction with its event. It never
    /// counts as the branch's newest commit, nor as "the branch went back" for a later push.
    public func refusePush(_ id: Int64, state: DeploymentState, reason: String) async throws {
        let reason = Terminal.printable(reason, newlines: true)
        let message = "\(state.rawValue): \(reason)"
        try await client.transaction(logger: logger) { connection in
            let rows = try await connection.query("""
                UPDATE deployments SET push_refused = true, state = \(state.rawValue), reason = \(reason), updated_at = now(),
                    finished_at = now()
                WHERE id = \(id) AND state IN ('queued', 'building', 'pushing', 'rolling_out', 'watching')
                RETURNING id
                """, logger: logger).collect()
            guard !rows.isEmpty else { return }
            try await connection.query("""
                INSERT INTO deployment_events (deployment_id, kind, message) VALUES (\(id), 'state', \(message))
                """, logger: logger)
        }
    }

    /// The fetched repository confirmed the push: its commit may now be the branch's newest.
    public func markPushVerified(_ id: Int64) async throws {
        try await client.query("UPDATE deployments SET push_verified = true WHERE id = \(id)", logger: logger)
    }
}
