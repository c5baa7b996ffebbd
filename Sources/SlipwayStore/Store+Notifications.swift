import Foundation
import PostgresNIO
import SlipwayCore

/// An event worth telling, with what its message needs of the deployment, the preview and
/// the service's policy in force.
public struct NotificationRow: Sendable, Hashable {
    public var id: Int64
    public var event: NotifyEvent
    public var service: String
    public var environment: String
    public var deploymentID: Int64?
    public var previewNumber: Int?
    public var reason: String?
    public var createdAt: Date
    public var state: String?
    public var sha: String?
    public var branch: String?
    public var author: String?
    public var subject: String?
    public var by: String?
    public var previewURL: String?
    /// The service's policy (its `notify:` decides), else the deployment's.
    public var policy: Policy?
}

/// One channel's delivery of a notification.
public struct NotificationDeliveryRow: Sendable, Hashable {
    public var id: Int64
    public var channel: Int
    public var spec: NotifyChannel
    public var delivery: UUID
    public var state: String
}

extension Store {
    /// Whether the servers have default channels (SLIPWAY_NOTIFY): services without their own
    /// `notify:` are told of only then.
    public func setNotifyDefault(channels: Int) async throws {
        if channels == 0 {
            try await client.query("DELETE FROM notify_default", logger: logger)
        } else {
            try await client.query("""
                INSERT INTO notify_default (channels) VALUES (\(channels))
                ON CONFLICT (only_row) DO UPDATE SET channels = EXCLUDED.channels, updated_at = now()
                """, logger: logger)
        }
    }

    public func notification(_ id: Int64) async throws -> NotificationRow? {
        let rows = try await client.query("""
            SELECT n.id, n.event, n.service, n.environment, n.deployment_id, n.preview_number, n.created_at,
                   n.reason, n.state, d.sha, coalesce(d.branch, p.branch) AS branch, d.commit_author,
                   d.commit_subject, d.requested_by, p.url AS preview_url,
                   coalesce(s.policy, d.policy)::text AS policy
            FROM notifications n
            LEFT JOIN deployments d ON d.id = n.deployment_id
            LEFT JOIN previews p ON p.service = n.service AND n.preview_number = p.number
            -- A removed service's policy still says where its last events go (its previews' teardowns).
            LEFT JOIN services s ON s.name = n.service
            WHERE n.id = \(id)
            """, logger: logger).rows()
        guard let row = rows.first, let event = NotifyEvent(rawValue: try row.value("event")) else { return nil }
        let policy: String? = try row.value("policy")
        return NotificationRow(
            id: try row.value("id"), event: event, service: try row.value("service"), environment: try row.value("environment"),
            deploymentID: try row.value("deployment_id"), previewNumber: try row.value("preview_number"),
            reason: try row.value("reason"), createdAt: try row.value("created_at"), state: try row.value("state"),
            sha: try row.value("sha"), branch: try row.value("branch"), author: try row.value("commit_author"),
            subject: try row.value("commit_subject"), by: try row.value("requested_by"), previewURL: try row.value("preview_url"),
            policy: try policy.map { try Self.decodeJSON(Policy.self, $0) })
    }

    /// The notification's delivery rows, made for `channels` the first time (later calls keep
    /// the first ones: a policy changed since does not re-address what is under way).
    public func deliveries(of notification: Int64, channels: [(index: Int, channel: NotifyChannel)]) async throws -> [NotificationDeliveryRow] {
        let indexes = channels.map(\.index)
        let specs = try channels.map { try Self.json($0.channel) }
        return try await client.transaction(logger: logger) { connection in
            try await connection.query("""
                INSERT INTO notification_deliveries (notification_id, channel, spec)
                SELECT \(notification), t.channel, t.spec::jsonb FROM unnest(\(indexes)::int[], \(specs)::text[]) AS t(channel, spec)
                WHERE NOT EXISTS (SELECT 1 FROM notification_deliveries WHERE notification_id = \(notification))
                ON CONFLICT DO NOTHING
                """, logger: logger)
            return try await connection.query("""
                SELECT id, channel, spec::text AS spec, delivery, state FROM notification_deliveries
                WHERE notification_id = \(notification) ORDER BY channel
                """, logger: logger).rows().map { row in
                NotificationDeliveryRow(id: try row.value("id"), channel: try row.value("channel"),
                                        spec: try Self.decodeJSON(NotifyChannel.self, try row.value("spec")),
                                        delivery: try row.value("delivery"), state: try row.value("state"))
            }
        }
    }

    /// Takes a pending delivery for one attempt; false when it is done or another sender holds it.
    public func leaseDelivery(_ id: Int64, for lease: TimeSpan) async throws -> Bool {
        try await client.query("""
            UPDATE notification_deliveries SET attempts = attempts + 1,
                sending_until = now() + \(lease.milliseconds) * interval '1 millisecond'
            WHERE id = \(id) AND state = 'pending' AND (sending_until IS NULL OR sending_until < now())
            RETURNING id
            """, logger: logger).collect().count == 1
    }

    /// Records an attempt: `state` sent, refused or gave_up ends it; pending leaves it to the next try.
    public func finishDelivery(_ id: Int64, state: String, status: Int?, error: String?) async throws {
        try await client.query("""
            UPDATE notification_deliveries SET state = \(state), answer_status = \(status), last_error = \(error),
                sending_until = NULL, sent_at = CASE WHEN \(state) = 'sent' THEN now() ELSE sent_at END
            WHERE id = \(id)
            """, logger: logger)
    }

    /// The author and first line of a deployment's commit, read from the fetched repository.
    public func setCommitSummary(_ deploymentID: Int64, author: String?, subject: String?) async throws {
        try await client.query("""
            UPDATE deployments SET commit_author = \(author), commit_subject = \(subject) WHERE id = \(deploymentID)
            """, logger: logger)
    }
}
