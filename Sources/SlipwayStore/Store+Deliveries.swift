import Foundation
import PostgresNIO
import SlipwayCore

/// What became of a webhook delivery.
public enum DeliveryResult: Sendable, Hashable {
    /// Seen before (same provider delivery id): nothing new was created.
    case duplicate
    /// Stored; one deployment (and build job) per service the push deploys.
    case recorded(deliveryRowID: Int64, deployments: [String: Int64])
}

extension Store {
    /// Stores the delivery, and for each `.deploy` outcome a deployment and its build
    /// job, in one transaction: either all of it is durable or none of it is.
    public func recordDelivery(_ event: NormalizedEvent, deliveryID: String,
                               outcomes: [EventMatching.Outcome]) async throws -> DeliveryResult {
        let (outcomeText, detail) = EventMatching.summary(for: event, outcomes: outcomes)
        return try await client.transaction(logger: logger) { connection in
            let inserted = try await connection.query("""
                INSERT INTO webhook_deliveries (provider, delivery_id, event, kind, repository, ref, after_sha, outcome, detail, payload)
                VALUES (\(event.provider.rawValue), \(deliveryID), \(event.event), \(event.kind.rawValue),
                        \(event.repository?.cloneURL), \(event.ref), \(event.after), \(outcomeText),
                        \(try Self.json(detail))::jsonb, \(try Self.json(event))::jsonb)
                ON CONFLICT (provider, delivery_id) DO NOTHING
                RETURNING id
                """, logger: logger)
            var rowID: Int64?
            for try await id in inserted.decode(Int64.self) { rowID = id }
            guard let rowID else { return .duplicate }

            var deployments: [String: Int64] = [:]
            for case .deploy(let service, let sha) in outcomes {
                let (id, policy) = try await Self.insertDeployment(
                    on: connection, logger: logger, service: service, trigger: .push, sha: sha,
                    branch: event.branch, image: nil, deliveryRowID: rowID, rollbackOf: nil)
                try await Self.enqueueFirstJob(.build, deploymentID: id, service: service, policy: policy, sha: sha,
                                               on: connection, logger: logger)
                deployments[service] = id
            }
            return .recorded(deliveryRowID: rowID, deployments: deployments)
        }
    }
}
