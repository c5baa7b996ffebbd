import Foundation
import PostgresNIO
import SlipwayCore

/// A line of a deployment's log.
public struct LogLine: Sendable, Hashable {
    public var id: Int64
    public var stream: String
    public var line: String
    public var at: Date
}

/// A step in a deployment's life.
public struct DeploymentEvent: Sendable, Hashable {
    public var id: Int64
    public var kind: String
    public var key: String?
    public var message: String
    public var at: Date
    public var detail: [String: String]
}

extension Store {
    /// Appends lines in one statement (build output arrives in bursts). Lines are stored as
    /// `Terminal.printable` makes them: a step's NUL byte cannot fail the batch (and hide the
    /// step's own log), nor can an escape sequence reach whoever reads the log later.
    public func appendLogs(_ deploymentID: Int64, stream: String, lines: [String]) async throws {
        guard !lines.isEmpty else { return }
        let clean = lines.map { Terminal.printable($0) }
        try await client.query("""
            INSERT INTO deployment_logs (deployment_id, stream, line)
            SELECT \(deploymentID), \(stream), unnest(\(clean)::text[])
            """, logger: logger)
    }

    public func logs(_ deploymentID: Int64, after: Int64 = 0, limit: Int = 10_000) async throws -> [LogLine] {
        try await client.query("""
            SELECT id, stream, line, at FROM deployment_logs
            WHERE deployment_id = \(deploymentID) AND id > \(after) ORDER BY id LIMIT \(limit)
            """, logger: logger).rows().map {
            LogLine(id: try $0.value("id"), stream: try $0.value("stream"), line: try $0.value("line"), at: try $0.value("at"))
        }
    }

    /// The last `count` lines, oldest first.
    public func logTail(_ deploymentID: Int64, stream: String, count: Int) async throws -> [String] {
        try await client.query("""
            SELECT line FROM (SELECT id, line FROM deployment_logs WHERE deployment_id = \(deploymentID) AND stream = \(stream)
                              ORDER BY id DESC LIMIT \(count)) t ORDER BY id
            """, logger: logger).rows().map { try $0.value("line") }
    }

    /// Records a step; with a `key`, the same observation is recorded once (returns false the second time).
    @discardableResult
    public func addEvent(_ deploymentID: Int64, kind: String, key: String?, message: String,
                         detail: [String: String] = [:]) async throws -> Bool {
        let message = Terminal.printable(message, newlines: true)
        let detail = detail.mapValues { Terminal.printable($0, newlines: true) }
        return try await client.query("""
            INSERT INTO deployment_events (deployment_id, kind, key, message, detail)
            VALUES (\(deploymentID), \(kind), \(key), \(message), \(try Self.json(detail))::jsonb)
            ON CONFLICT (deployment_id, kind, key) DO NOTHING
            RETURNING id
            """, logger: logger).collect().count == 1
    }

    /// Events in order; `after` an event id, for readers that follow along.
    public func events(_ deploymentID: Int64, kind: String? = nil, after: Int64 = 0) async throws -> [DeploymentEvent] {
        try await client.query("""
            SELECT id, kind, key, message, at, detail::text AS detail FROM deployment_events
            WHERE deployment_id = \(deploymentID) AND (\(kind)::text IS NULL OR kind = \(kind)) AND id > \(after) ORDER BY id
            """, logger: logger).rows().map {
            let detail: String = try $0.value("detail")
            return DeploymentEvent(id: try $0.value("id"), kind: try $0.value("kind"), key: try $0.value("key"), message: try $0.value("message"),
                                   at: try $0.value("at"),
                                   detail: (try? JSONDecoder().decode([String: String].self, from: Data(detail.utf8))) ?? [:])
        }
    }

    /// What the timelines of several deployments are made of, in two queries however many:
    /// when each was queued and its webhook arrived, and its state, stage, detect, crash and rollback events.
    public func timelineFacts(_ deploymentIDs: [Int64]) async throws -> [Int64: DeploymentTimeline.Facts] {
        guard !deploymentIDs.isEmpty else { return [:] }
        var out: [Int64: DeploymentTimeline.Facts] = [:]
        for row in try await client.query("""
            SELECT d.id, d.created_at, w.received_at FROM deployments d LEFT JOIN webhook_deliveries w ON w.id = d.delivery_id
            WHERE d.id = ANY(\(deploymentIDs))
            """, logger: logger).rows() {
            out[try row.value("id")] = DeploymentTimeline.Facts(createdAt: try row.value("created_at"), receivedAt: try row.value("received_at"), events: [])
        }
        for row in try await client.query("""
            SELECT deployment_id, kind, key, message, at FROM deployment_events
            WHERE deployment_id = ANY(\(deploymentIDs)) AND kind IN ('state', 'stage', 'detect', 'crash', 'rollback')
            ORDER BY deployment_id, id
            """, logger: logger).rows() {
            let id: Int64 = try row.value("deployment_id")
            out[id]?.events.append((try row.value("kind"), try row.value("key"), try row.value("message"), try row.value("at")))
        }
        return out
    }
}
