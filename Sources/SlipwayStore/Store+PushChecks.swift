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
    /// `superseded` (the branch moved on), with why. Marked so it never counts as "the branch went
    /// back" for a later push; it is never the branch's newest commit either way (not verified).
    public func refusePush(_ id: Int64, state: DeploymentState, reason: String) async throws {
        try await transition(id, to: state, reason: reason)
        try await client.query("UPDATE deployments SET push_refused = true WHERE id = \(id)", logger: logger)
    }

    /// The fetched repository confirmed the push: its commit may now be the branch's newest.
    public func markPushVerified(_ id: Int64) async throws {
        try await client.query("UPDATE deployments SET push_verified = true WHERE id = \(id)", logger: logger)
    }
}
