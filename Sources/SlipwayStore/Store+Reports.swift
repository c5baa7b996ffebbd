import Foundation
import PostgresNIO
import SlipwayCore

/// A commit status to deliver, as the `notify` job finds it under its lease.
public struct CommitReportRow: Sendable, Hashable {
    public var id: Int64
    public var provider: String
    public var repository: String
    public var sha: String
    public var context: String
    public var deploymentID: Int64?
    public var service: String?
    public var state: DeploymentState
    public var reason: String?
    public var version: Int64
    public var sentVersion: Int64
    public var sentPhase: String?
    public var sentState: String?
    public var branch: String?
}

/// The pull request a comment belongs to.
public struct ReportedPullRequest: Sendable, Hashable {
    public var provider: String
    public var repository: String
    public var number: Int
    public init(provider: String, repository: String, number: Int) {
        self.provider = provider
        self.repository = repository
        self.number = number
    }
}

/// A pull request's comment to write, under its lease.
public struct CommentRow: Sendable, Hashable {
    public var id: Int64
    public var pullRequest: ReportedPullRequest
    public var commentID: String?
    public var commentVersion: Int?
    public var version: Int64
    public var sentVersion: Int64
}

/// A report that could not be delivered, for `slipway status`.
public struct ReportProblem: Sendable, Hashable, Encodable {
    public var provider: String
    public var repository: String
    public var subject: String
    public var error: String
    public var at: Date
}

extension Store {
    /// The providers this server can report to; only their repositories' deployments queue reports.
    public func setReportProviders(_ providers: [String]) async throws {
        try await client.transaction(logger: logger) { connection in
            try await connection.query("DELETE FROM report_providers WHERE NOT (provider = ANY(\(providers)))", logger: logger)
            try await connection.query("""
                INSERT INTO report_providers (provider) SELECT unnest(\(providers)::text[]) ON CONFLICT (provider) DO NOTHING
                """, logger: logger)
        }
    }

    /// Where each service's repository reports when no event names it: the provider its host
    /// belongs to and its path there (`nil` clears it).
    public func setServiceReportTargets(_ targets: [String: (provider: String, repository: String)?]) async throws {
        guard !targets.isEmpty else { return }
        let names = Array(targets.keys)
        let providers = names.map { targets[$0]??.provider ?? "" }
        let repositories = names.map { targets[$0]??.repository ?? "" }
        try await client.query("""
            UPDATE services s SET report_provider = nullif(t.provider, ''), report_repository = nullif(t.repository, '')
            FROM unnest(\(names)::text[], \(providers)::text[], \(repositories)::text[]) AS t(name, provider, repository)
            WHERE s.name = t.name AND (s.report_provider IS DISTINCT FROM nullif(t.provider, '')
                                       OR s.report_repository IS DISTINCT FROM nullif(t.repository, ''))
            """, logger: logger)
    }

    /// Takes the sending lease of a commit report: nil when another sender holds it (it sends
    /// the newest state when done) or the report is gone.
    public func leaseReport(_ id: Int64, sender: UUID, for lease: TimeSpan) async throws -> CommitReportRow? {
        let rows = try await client.query("""
            UPDATE commit_reports r SET sender = \(sender), sending_until = now() + \(lease.milliseconds) * interval '1 millisecond'
            FROM commit_reports c LEFT JOIN deployments d ON d.id = c.deployment_id
            WHERE r.id = \(id) AND c.id = r.id AND (r.sender IS NULL OR r.sending_until < now())
            RETURNING r.id, r.provider, r.repository, r.sha, r.context, r.deployment_id, d.service, r.state, r.reason, r.version,
                      r.sent_version, r.sent_phase, r.sent_state, d.branch
            """, logger: logger).rows()
        guard let row = rows.first else { return nil }
        return CommitReportRow(
            id: try row.value("id"), provider: try row.value("provider"), repository: try row.value("repository"),
            sha: try row.value("sha"), context: try row.value("context"), deploymentID: try row.value("deployment_id"),
            service: try row.value("service"),
            state: DeploymentState(rawValue: try row.value("state")) ?? .queued, reason: try row.value("reason"),
            version: try row.value("version"), sentVersion: try row.value("sent_version"), sentPhase: try row.value("sent_phase"),
            sentState: try row.value("sent_state"), branch: try row.value("branch"))
    }

    /// Records what was said (or decided not to say) up to `version` and gives the lease back;
    /// returns the report's version now, newer when its state changed meanwhile.
    public func finishReport(_ id: Int64, sender: UUID, version: Int64, phase: String?, state: String?, note: String? = nil) async throws -> Int64? {
        try await client.query("""
            UPDATE commit_reports SET sent_version = greatest(sent_version, \(version)),
                sent_phase = coalesce(\(phase), sent_phase), sent_state = coalesce(\(state), sent_state),
                sent_at = CASE WHEN \(state)::text IS NULL THEN sent_at ELSE now() END,
                last_error = \(note), sender = NULL, sending_until = NULL
            WHERE id = \(id) AND sender = \(sender)
            RETURNING version
            """, logger: logger).collect().first?.decode(Int64.self)
    }

    /// Gives the lease back after a failed attempt, keeping the error for `slipway status`.
    public func releaseReport(_ id: Int64, sender: UUID, error: String) async throws {
        try await client.query("""
            UPDATE commit_reports SET last_error = \(error), sender = NULL, sending_until = NULL WHERE id = \(id) AND sender = \(sender)
            """, logger: logger)
    }

    public func leaseComment(_ id: Int64, sender: UUID, for lease: TimeSpan) async throws -> CommentRow? {
        let rows = try await client.query("""
            UPDATE pull_request_comments SET sender = \(sender), sending_until = now() + \(lease.milliseconds) * interval '1 millisecond'
            WHERE id = \(id) AND (sender IS NULL OR sending_until < now())
            RETURNING id, provider, repository, number, comment_id, comment_version, version, sent_version
            """, logger: logger).rows()
        guard let row = rows.first else { return nil }
        return CommentRow(
            id: try row.value("id"),
            pullRequest: ReportedPullRequest(provider: try row.value("provider"), repository: try row.value("repository"),
                                             number: try row.value("number")),
            commentID: try row.value("comment_id"), commentVersion: try row.value("comment_version"),
            version: try row.value("version"), sentVersion: try row.value("sent_version"))
    }

    /// Remembers the comment as written (its id, and Bitbucket Server's version) before anything
    /// else can fail, so a retry edits it rather than writing a second one.
    public func rememberComment(_ id: Int64, sender: UUID, commentID: String, commentVersion: Int?) async throws {
        try await client.query("""
            UPDATE pull_request_comments SET comment_id = \(commentID), comment_version = \(commentVersion)
            WHERE id = \(id) AND sender = \(sender)
            """, logger: logger)
    }

    public func finishComment(_ id: Int64, sender: UUID, version: Int64, note: String? = nil) async throws -> Int64? {
        try await client.query("""
            UPDATE pull_request_comments SET sent_version = greatest(sent_version, \(version)), sent_at = now(),
                last_error = \(note), sender = NULL, sending_until = NULL
            WHERE id = \(id) AND sender = \(sender)
            RETURNING version
            """, logger: logger).collect().first?.decode(Int64.self)
    }

    public func releaseComment(_ id: Int64, sender: UUID, error: String) async throws {
        try await client.query("""
            UPDATE pull_request_comments SET last_error = \(error), sender = NULL, sending_until = NULL WHERE id = \(id) AND sender = \(sender)
            """, logger: logger)
    }

    /// Reports and comments whose last attempt failed and that are not yet delivered.
    public func reportProblems(limit: Int = 20) async throws -> [ReportProblem] {
        let rows = try await client.query("""
            SELECT provider, repository, context || ' on ' || left(sha, 12) AS subject, last_error, changed_at FROM commit_reports
            WHERE last_error IS NOT NULL AND sent_version < version
            UNION ALL
            SELECT provider, repository, 'comment on #' || number, last_error, changed_at FROM pull_request_comments
            WHERE last_error IS NOT NULL AND sent_version < version
            ORDER BY changed_at DESC LIMIT \(limit)
            """, logger: logger).rows()
        return try rows.map {
            ReportProblem(provider: try $0.value("provider"), repository: try $0.value("repository"), subject: try $0.value("subject"),
                          error: try $0.value("last_error"), at: try $0.value("changed_at"))
        }
    }
}
