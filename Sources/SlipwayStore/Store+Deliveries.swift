import Foundation
import PostgresNIO
import SlipwayCore

/// One event of a webhook body (or of a poll) and what matching decided for it.
public struct DeliveryRecord: Sendable {
    public var event: NormalizedEvent
    public var deliveryID: String
    public var outcomes: [EventMatching.Outcome]
    public init(event: NormalizedEvent, deliveryID: String, outcomes: [EventMatching.Outcome]) {
        self.event = event
        self.deliveryID = deliveryID
        self.outcomes = outcomes
    }
}

/// What became of a webhook delivery.
public enum DeliveryResult: Sendable, Hashable {
    /// Seen before (same provider delivery id): nothing new was created.
    case duplicate
    /// Stored; one deployment (and build job) per service the push deploys. `outcomes`
    /// are the final ones (a commit already deploying is skipped, not deployed twice).
    case recorded(deliveryRowID: Int64, deployments: [String: Int64], outcomes: [EventMatching.Outcome])
}

extension Store {
    /// Runs a webhook's database work within `limit`: providers give up after 10 s and
    /// disable hooks that keep failing, so a stalled database must answer 503 in time
    /// (the provider redelivers; a late commit makes that redelivery a duplicate).
    public func withinWebhookDeadline<T: Sendable>(_ limit: Duration = .seconds(8),
                                                   _ work: @escaping @Sendable () async throws -> T) async throws -> T {
        try await Deadline.run(within: limit, work)
    }

    /// Stores the deliveries of one body, and for each `.deploy` outcome a deployment and
    /// its build job, and a `paths` job for the services waiting for their changed files,
    /// in one transaction: either all of it is durable or none of it is.
    public func recordDeliveries(_ records: [DeliveryRecord]) async throws -> [DeliveryResult] {
        try await client.transaction(logger: logger) { [logger] connection in
            var results: [DeliveryResult] = []
            for record in records {
                results.append(try await Self.record(record, on: connection, logger: logger))
            }
            return results
        }
    }

    public func recordDelivery(_ event: NormalizedEvent, deliveryID: String,
                               outcomes: [EventMatching.Outcome]) async throws -> DeliveryResult {
        try await recordDeliveries([DeliveryRecord(event: event, deliveryID: deliveryID, outcomes: outcomes)])[0]
    }

    static func record(_ record: DeliveryRecord, on connection: PostgresConnection, logger: Logger) async throws -> DeliveryResult {
        let event = record.event
        let (outcomeText, detail) = EventMatching.summary(for: event, outcomes: record.outcomes)
        let inserted = try await connection.query("""
            INSERT INTO webhook_deliveries (provider, delivery_id, event, kind, repository, ref, after_sha, outcome, detail, payload)
            VALUES (\(event.provider.rawValue), \(record.deliveryID), \(event.event), \(event.kind.rawValue),
                    \(event.repository?.cloneURL), \(event.ref), \(event.after), \(outcomeText),
                    \(try json(detail))::jsonb, \(try json(event))::jsonb)
            ON CONFLICT (provider, delivery_id) DO NOTHING
            RETURNING id
            """, logger: logger)
        var rowID: Int64?
        for try await id in inserted.decode(Int64.self) { rowID = id }
        guard let rowID else { return .duplicate }

        let (deployments, outcomes) = try await createDeployments(
            record.outcomes, event: event, deliveryRowID: rowID, unlessNewerThan: nil, on: connection, logger: logger)
        let waiting = outcomes.compactMap { if case .awaitChangedPaths(let s, _) = $0 { s } else { nil } }
        if !waiting.isEmpty {
            try await JobQueue.enqueue(NewJob(kind: .paths, dedupeKey: "paths:\(rowID)", timeout: .minutes(10),
                                              payload: ["delivery": "\(rowID)", "services": waiting.joined(separator: ",")]),
                                       on: connection, logger: logger)
        }
        if outcomes != record.outcomes {
            try await updateOutcome(rowID, event: event, outcomes: outcomes, on: connection, logger: logger)
        }
        return .recorded(deliveryRowID: rowID, deployments: deployments, outcomes: outcomes)
    }

    static func whyNotDeployed(service: String, sha: String, newerThan: Int64?, on connection: PostgresConnection,
                               logger: Logger) async throws -> String {
        let rows = try await connection.query("""
            SELECT d.id, d.state, d.sha, coalesce(d.id = s.live_deployment_id, false) AS live,
                   coalesce(d.delivery_id > \(newerThan ?? Int64.max), false) AS newer
            FROM services s JOIN deployments d ON d.service = s.name
            WHERE s.name = \(service)
              AND ((d.sha = \(sha) AND (d.state IN ('queued', 'building', 'pushing', 'rolling_out', 'watching')
                                        OR d.id = s.live_deployment_id))
                   OR d.delivery_id > \(newerThan ?? Int64.max))
            ORDER BY d.id DESC LIMIT 1
            """, logger: logger).rows()
        guard let row = rows.first else { throw StoreError.unknownService(service) }
        let id: Int64 = try row.value("id")
        let short = String(sha.prefix(12))
        if try row.value("newer", as: Bool.self) {
            let newer = String((try row.value("sha", as: String?.self) ?? "?").prefix(12))
            return "a newer push already deployed it (deployment \(id), \(newer))"
        }
        if try row.value("live", as: Bool.self) { return "commit \(short) is already live (deployment \(id))" }
        return "commit \(short) is already deploying (deployment \(id), \(try row.value("state", as: String.self)))"
    }

    static func updateOutcome(_ rowID: Int64, event: NormalizedEvent, outcomes: [EventMatching.Outcome],
                              on connection: PostgresConnection, logger: Logger) async throws {
        let (text, detail) = EventMatching.summary(for: event, outcomes: outcomes)
        try await connection.query("""
            UPDATE webhook_deliveries SET outcome = \(text), detail = detail || \(try json(detail))::jsonb WHERE id = \(rowID)
            """, logger: logger)
    }

    /// The delivery a `paths` job decides, as stored.
    public func delivery(_ rowID: Int64) async throws -> NormalizedEvent? {
        let rows = try await client.query("SELECT payload::text AS payload FROM webhook_deliveries WHERE id = \(rowID)",
                                          logger: logger).rows()
        guard let row = rows.first else { return nil }
        return try Self.decodeJSON(NormalizedEvent.self, try row.value("payload"))
    }

    /// Lands the decisions that waited for a push's changed files: deployments for the
    /// services it concerns (unless a newer push got there first), the reasons for the rest.
    public func resolveDelivery(_ rowID: Int64, event: NormalizedEvent,
                                outcomes: [EventMatching.Outcome]) async throws -> [String: Int64] {
        try await client.transaction(logger: logger) { connection in
            let (deployments, final) = try await Self.createDeployments(
                outcomes, event: event, deliveryRowID: rowID, unlessNewerThan: rowID, on: connection, logger: logger)
            let (_, detail) = EventMatching.summary(for: event, outcomes: final)
            try await connection.query("""
                UPDATE webhook_deliveries SET detail = detail || \(try Self.json(detail))::jsonb,
                    outcome = CASE WHEN \(!deployments.isEmpty) THEN 'queued'
                                   WHEN outcome = 'matching' THEN 'skipped' ELSE outcome END
                WHERE id = \(rowID)
                """, logger: logger)
            return deployments
        }
    }
}
