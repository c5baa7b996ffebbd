import Foundation
import PostgresNIO
import SlipwayCore

/// A pull request's new head, ready to build as its service's preview.
public struct PreviewOpening: Sendable {
    public var service: String
    public var head: PullRequestHead
    /// The head's full SHA, resolved from the fetched pull-request ref.
    public var sha: String
    /// Where the head was fetched from and as what (`refs/pull/7/head`, or a branch of a fork).
    public var headURL: String?
    public var fetchRef: String
    public var url: String?
    public var deliveryRowID: Int64?
    /// The policy the preview runs under (`PreviewRules.policy`).
    public var policy: Policy

    public init(service: String, head: PullRequestHead, sha: String, headURL: String?, fetchRef: String, url: String?,
                deliveryRowID: Int64?, policy: Policy) {
        self.service = service
        self.head = head
        self.sha = sha
        self.headURL = headURL
        self.fetchRef = fetchRef
        self.url = url
        self.deliveryRowID = deliveryRowID
        self.policy = policy
    }

    public var target: DeploymentTarget { DeploymentTarget(service: service, environment: .pullRequest(head.number)) }
}

/// Where a preview's head comes from, for its builds.
public struct PreviewSource: Sendable, Hashable {
    public var fetchRef: String
    public var headURL: String?
    public var open: Bool
}

extension Store {
    /// Opens (or updates) a preview and queues the build of its head, in one transaction:
    /// the preview's row, a deployment of the preview target with the preview's policy, its
    /// build (latest wins per target, as for branches), and the closing of the oldest previews
    /// when `previews.count` is passed. Returns the deployment, or why none was made.
    public func openPreview(_ opening: PreviewOpening) async throws -> (deploymentID: Int64?, reason: String?, evicted: [PreviewSweep.Closure]) {
        let target = opening.target
        let environment = target.environment.rawValue
        return try await client.transaction(logger: logger) { connection in
            // The service row orders every change of its previews (count is per service).
            let service = try await connection.query("SELECT name FROM services WHERE name = \(opening.service) AND removed_at IS NULL FOR UPDATE",
                                                     logger: logger).collect()
            guard !service.isEmpty else { return (nil, StoreError.unknownService(opening.service).description, []) }
            let existing = try await connection.query("""
                SELECT state, delivery_id, head_sha FROM previews WHERE service = \(opening.service) AND number = \(opening.head.number)
                """, logger: logger).collect().first
            if let row = existing, let applied = try row.decode((String, Int64?, String?).self).1,
               let delivery = opening.deliveryRowID, applied > delivery {
                return (nil, "a newer event of pull request #\(opening.head.number) was applied already", [])
            }
            // The same head again (a redelivery, a reopen with no new commit) while it deploys or runs: nothing new to build.
            let newest = try await connection.query("""
                SELECT d.id, d.state, d.sha, d.id = t.live_deployment_id AS live FROM deployments d
                LEFT JOIN targets t ON t.service = d.service AND t.environment = d.environment
                WHERE d.service = \(opening.service) AND d.environment = \(environment) ORDER BY d.id DESC LIMIT 1
                """, logger: logger).collect().first
            let wasOpen = try existing.map { try $0.decode((String, Int64?, String?).self).0 == "open" } ?? false
            if wasOpen, let newest, let (id, stateText, sha, live) = try? newest.decode((Int64, String, String?, Bool?).self),
               sha == opening.sha, let state = DeploymentState(rawValue: stateText), !state.isFinal || live == true || state == .succeeded {
                try await Self.upsertPreview(opening, on: connection, logger: logger)
                return (nil, "commit \(opening.sha.prefix(12)) is already the preview's (deployment \(id), \(stateText))", [])
            }
            try await Self.upsertPreview(opening, on: connection, logger: logger)
            let rows = try await connection.query("""
                INSERT INTO deployments (service, environment, trigger, sha, branch, policy, delivery_id)
                VALUES (\(opening.service), \(environment), \(DeploymentTrigger.pullRequest.rawValue), \(opening.sha),
                        \(opening.head.branch), \(try Self.json(opening.policy))::jsonb, \(opening.deliveryRowID))
                RETURNING id
                """, logger: logger).collect()
            let id = try rows[0].decode(Int64.self)
            let note = "pull request #\(opening.head.number)\(opening.head.branch.map { " (\(Terminal.printable($0, limit: 100)))" } ?? "") at \(opening.sha.prefix(12))"
            try await connection.query("""
                INSERT INTO deployment_events (deployment_id, kind, message) VALUES (\(id), 'preview', \("preview of " + note))
                """, logger: logger)
            try await JobQueue.queueBuilds([.init(job: JobTimeouts.job(.build, deploymentID: id, service: opening.service,
                                                                       environment: target.environment, policy: opening.policy),
                                                  sha: opening.sha)], on: connection, logger: logger)
            // Past previews.count: the oldest open previews go.
            let open = try await Self.openPreviews(service: opening.service, on: connection, logger: logger)
            let evicted = PreviewSweep.overCount(open, count: opening.policy.previews.count)
            for closure in evicted {
                try await Self.closePreview(closure.target, reason: closure.reason, cause: .request, on: connection, logger: logger)
            }
            return (id, nil, evicted)
        }
    }

    static func upsertPreview(_ opening: PreviewOpening, on connection: PostgresConnection, logger: Logger) async throws {
        // A reopened preview starts its life (and its count position) again; a new commit moves `updated_at` (the TTL).
        try await connection.query("""
            INSERT INTO previews (service, number, state, branch, head_sha, head_url, fork, fetch_ref, url, delivery_id,
                                  report_provider, report_repository)
            SELECT \(opening.service), \(opening.head.number), 'open', \(opening.head.branch), \(opening.sha), \(opening.headURL),
                   \(opening.head.fork), \(opening.fetchRef), \(opening.url), \(opening.deliveryRowID), w.provider, w.repository_name
            FROM (SELECT 1) AS one
            LEFT JOIN webhook_deliveries w ON w.id = \(opening.deliveryRowID) AND w.provider <> 'poll' AND w.repository_name IS NOT NULL
            ON CONFLICT (service, number) DO UPDATE SET
                report_provider = coalesce(EXCLUDED.report_provider, previews.report_provider),
                report_repository = coalesce(EXCLUDED.report_repository, previews.report_repository),
                opened_at = CASE WHEN previews.state = 'closed' THEN now() ELSE previews.opened_at END,
                updated_at = CASE WHEN previews.state = 'closed' OR previews.head_sha IS DISTINCT FROM EXCLUDED.head_sha
                                  THEN now() ELSE previews.updated_at END,
                state = 'open', branch = EXCLUDED.branch, head_sha = EXCLUDED.head_sha, head_url = EXCLUDED.head_url,
                fork = EXCLUDED.fork, fetch_ref = EXCLUDED.fetch_ref, url = EXCLUDED.url,
                delivery_id = coalesce(EXCLUDED.delivery_id, previews.delivery_id),
                reason = NULL, closed_at = NULL, torn_down_at = NULL
            """, logger: logger)
    }

    /// Why a preview is being closed, which decides what it may close.
    public enum PreviewClosing: Sendable, Hashable {
        /// A close or merge webhook: not over a newer event of the pull request.
        case webhook(deliveryRowID: Int64)
        /// The sweep (TTL, count, previews off): only if it was not reopened or given a commit since it looked.
        case sweep(seen: PreviewSweep.Open)
        /// What a runtime still holds, or a teardown that never finished: never closes an open preview.
        case leftover
        /// `slipway previews destroy`, or a newer pull request past `previews.count` in the same transaction.
        case request
    }

    /// Closes a preview and queues its teardown; builds and rollouts of it still under way end
    /// cancelled. False when nothing was closed (no open preview, a newer event applied, or
    /// the preview changed since the sweep looked); a leftover's teardown is queued unless an
    /// open preview accounts for it.
    @discardableResult
    public func closePreview(_ target: DeploymentTarget, reason: String, cause: PreviewClosing = .request) async throws -> Bool {
        try await client.transaction(logger: logger) { connection in
            try await Self.closePreview(target, reason: reason, cause: cause, on: connection, logger: logger)
        }
    }

    @discardableResult
    static func closePreview(_ target: DeploymentTarget, reason: String, cause: PreviewClosing, on connection: PostgresConnection,
                             logger: Logger) async throws -> Bool {
        guard case .pullRequest(let number) = target.environment else { return false }
        var deliveryRowID: Int64?, seenOpened: Date?, seenUpdated: Date?
        switch cause {
        case .webhook(let id): deliveryRowID = id
        case .sweep(let seen): (seenOpened, seenUpdated) = (seen.openedAt, seen.updatedAt)
        case .leftover:
            let open = try await connection.query("""
                SELECT 1 FROM previews WHERE service = \(target.service) AND number = \(number) AND state = 'open' FOR UPDATE
                """, logger: logger).collect()
            guard open.isEmpty else { return false }
        case .request: break
        }
        let environment = target.environment.rawValue
        // Stamps read back from the database lose a little precision: "not changed since" allows a millisecond.
        let closed = try await connection.query("""
            UPDATE previews SET state = 'closed', reason = \(reason), closed_at = now(),
                delivery_id = coalesce(\(deliveryRowID), delivery_id)
            WHERE service = \(target.service) AND number = \(number) AND state = 'open'
              AND (\(deliveryRowID)::int8 IS NULL OR delivery_id IS NULL OR delivery_id <= \(deliveryRowID))
              AND (\(seenOpened)::timestamptz IS NULL OR (opened_at <= \(seenOpened)::timestamptz + interval '1 millisecond'
                                                         AND updated_at <= \(seenUpdated)::timestamptz + interval '1 millisecond'))
            RETURNING number
            """, logger: logger).collect()
        switch cause {
        case .webhook(let id) where closed.isEmpty:
            // Closed before any event opened it (or before the open's job ran): the row remembers the
            // close, so an older "opened" that runs late builds nothing. A newer event, if any, stands.
            try await connection.query("""
                INSERT INTO previews (service, number, state, delivery_id, reason, closed_at, torn_down_at)
                VALUES (\(target.service), \(number), 'closed', \(id), \(reason), now(), now())
                ON CONFLICT (service, number) DO NOTHING
                """, logger: logger)
            return false
        case .sweep where closed.isEmpty:
            return false
        default:
            break
        }
        let teardownReason = closed.isEmpty ? reason : "preview closed: \(reason)"
        // What is still under way for it ends now: queued jobs at once, running ones are asked to stop.
        var queued: [Int64] = [], running: [Int64] = []
        for try await (id, state) in try await connection.query("""
            SELECT j.id, j.state FROM jobs j JOIN deployments d ON d.id = j.deployment_id
            WHERE d.service = \(target.service) AND d.environment = \(environment) AND j.state IN ('queued', 'running')
              AND j.kind <> 'teardown'
            FOR UPDATE OF j
            """, logger: logger).decode((Int64, String).self) {
            if state == "running" { running.append(id) } else { queued.append(id) }
        }
        let why = "the preview was torn down (\(reason))"
        try await JobQueue.endQueued(queued, state: .cancelled, deploymentState: .cancelled, reason: why, on: connection, logger: logger)
        try await JobQueue.requestStop(running, reason: .cancelled, note: why, on: connection, logger: logger)
        var unfinished: [Int64] = []
        for try await id in try await connection.query("""
            SELECT id FROM deployments WHERE service = \(target.service) AND environment = \(environment)
              AND state = ANY(\(DeploymentTransitions.sourceNames(of: .cancelled)))
            """, logger: logger).decode(Int64.self) {
            unfinished.append(id)
        }
        for id in unfinished { try await Self.transition(id, to: .cancelled, reason: why, on: connection, logger: logger) }
        try await JobQueue.enqueue(NewJob(kind: .teardown, service: target.service, environment: environment, maxAttempts: 10,
                                          dedupeKey: "teardown:\(target.service)/\(environment)", timeout: .minutes(15),
                                          payload: ["reason": teardownReason, "service": target.service, "environment": environment]),
                                   on: connection, logger: logger)
        return !closed.isEmpty || cause == .leftover
    }

    /// The teardown is done: the preview's live pointer goes, and the preview is recorded
    /// torn down (it stays listed as such). A preview reopened meanwhile is left open.
    public func finishTeardown(_ target: DeploymentTarget) async throws {
        guard case .pullRequest(let number) = target.environment else { return }
        try await client.transaction(logger: logger) { connection in
            try await connection.query("""
                UPDATE previews SET torn_down_at = now() WHERE service = \(target.service) AND number = \(number) AND state = 'closed'
                """, logger: logger)
            try await connection.query("""
                DELETE FROM targets WHERE service = \(target.service) AND environment = \(target.environment.rawValue)
                  AND NOT EXISTS (SELECT 1 FROM previews WHERE service = \(target.service) AND number = \(number) AND state = 'open')
                """, logger: logger)
        }
    }

    /// Whether the preview is open (a teardown leaves an open one alone; a rollout of a closed one does not start).
    public func previewSource(_ target: DeploymentTarget) async throws -> PreviewSource? {
        guard case .pullRequest(let number) = target.environment else { return nil }
        let rows = try await client.query("""
            SELECT fetch_ref, head_url, state FROM previews WHERE service = \(target.service) AND number = \(number)
            """, logger: logger).collect()
        guard let row = rows.first else { return nil }
        let (ref, url, state) = try row.decode((String?, String?, String).self)
        return PreviewSource(fetchRef: ref ?? "", headURL: url, open: state == "open")
    }

    /// Every open preview, of every service.
    public func openPreviews() async throws -> [PreviewSweep.Open] {
        try await client.withConnection { connection in
            try await Self.openPreviews(service: nil, on: connection, logger: logger)
        }
    }

    static func openPreviews(service: String?, on connection: PostgresConnection, logger: Logger) async throws -> [PreviewSweep.Open] {
        var out: [PreviewSweep.Open] = []
        for try await (name, number, opened, updated) in try await connection.query("""
            SELECT service, number, opened_at, updated_at FROM previews
            WHERE state = 'open' AND (\(service)::text IS NULL OR service = \(service))
            """, logger: logger).decode((String, Int, Date, Date).self) {
            out.append(.init(service: name, number: number, openedAt: opened, updatedAt: updated))
        }
        return out
    }

    /// Closed previews whose teardown has not finished: queued again by the sweep, in case
    /// their job died for good.
    public func previewsAwaitingTeardown() async throws -> [DeploymentTarget] {
        var out: [DeploymentTarget] = []
        for try await (service, number) in try await client.query("""
            SELECT service, number FROM previews WHERE state = 'closed' AND torn_down_at IS NULL
            """, logger: logger).decode((String, Int).self) {
            out.append(DeploymentTarget(service: service, environment: .pullRequest(number)))
        }
        return out
    }

    /// The previews of a service (or all), for `status` and `slipway previews`: open first.
    public func previews(service: String? = nil) async throws -> [PreviewStatus] {
        try await previewStatuses(service: service, pullRequest: nil)
    }

    /// The previews of one pull request across services, as its comment shows them.
    public func previews(of pullRequest: ReportedPullRequest) async throws -> [PreviewStatus] {
        try await previewStatuses(service: nil, pullRequest: pullRequest)
    }

    func previewStatuses(service: String?, pullRequest: ReportedPullRequest?) async throws -> [PreviewStatus] {
        let rows = try await client.query("""
            SELECT p.service, p.number, p.state, p.branch, p.head_sha, p.url, p.updated_at, p.reason, p.closed_at, p.torn_down_at,
                   d.state AS newest_state, d.sha AS newest_sha, d.reason AS newest_reason, t.live_deployment_id, l.sha AS live_sha
            FROM previews p
            LEFT JOIN targets t ON t.service = p.service AND t.environment = 'pr-' || p.number
            LEFT JOIN deployments l ON l.id = t.live_deployment_id
            LEFT JOIN LATERAL (SELECT state, sha, reason FROM deployments WHERE service = p.service AND environment = 'pr-' || p.number
                               ORDER BY id DESC LIMIT 1) d ON true
            WHERE (\(service)::text IS NULL OR p.service = \(service))
              AND (\(pullRequest?.provider)::text IS NULL
                   OR (p.report_provider = \(pullRequest?.provider) AND p.report_repository = \(pullRequest?.repository)
                       AND p.number = \(pullRequest?.number)))
              -- a pull request closed before anything was built for it is remembered, not listed
              AND EXISTS (SELECT 1 FROM deployments x WHERE x.service = p.service AND x.environment = 'pr-' || p.number)
            """, logger: logger).rows()
        var out: [PreviewStatus] = []
        for row in rows {
            let service: String = try row.value("service")
            let number: Int = try row.value("number")
            let open = try row.value("state", as: String.self) == "open"
            let newest = try row.value("newest_state", as: String?.self).flatMap(DeploymentState.init(rawValue:))
            let liveID: Int64? = try row.value("live_deployment_id")
            let state = PreviewStatus.State.of(open: open, newest: newest, hasLive: liveID != nil)
            let live: String? = try row.value("live_sha"), newestSHA: String? = try row.value("newest_sha"), head: String? = try row.value("head_sha")
            let closedAt: Date? = try row.value("closed_at")
            var status = PreviewStatus(
                number: number, service: DeploymentTarget(service: service, environment: .pullRequest(number)).runtimeName,
                branch: try row.value("branch"), sha: (state == .live ? live : newestSHA) ?? head,
                state: state, url: try row.value("url"), updatedAt: try closedAt ?? row.value("updated_at"), reason: try row.value("reason"),
                of: service)
            status.headSHA = head
            status.liveSHA = liveID == nil ? nil : live
            if let newest, [.failed, .rolledBack].contains(newest) { status.failure = try row.value("newest_reason") }
            status.tornDown = try row.value("torn_down_at", as: Date?.self) != nil
            out.append(status)
        }
        return PreviewStatus.ordered(out)
    }
}

extension Store {
    /// What a `preview` job decided for a pull request event, per service, on its delivery.
    public func recordPreviewOutcome(_ rowID: Int64, outcome: String, detail: [String: String]) async throws {
        try await client.query("""
            UPDATE webhook_deliveries SET outcome = \(outcome), detail = detail || \(try Self.json(detail))::jsonb WHERE id = \(rowID)
            """, logger: logger)
    }

    /// Images of a preview's deployments, each with whether something else uses its digest:
    /// a deployment of the main line or of another open preview with the same image or digest
    /// (a pull request that changed nothing the image holds builds main's very image).
    public func previewImages(_ target: DeploymentTarget) async throws -> [(image: String, digest: String?, shared: Bool)] {
        var out: [(String, String?, Bool)] = []
        for try await (image, digest, shared) in try await client.query("""
            SELECT DISTINCT d.image, d.digest, EXISTS (
                  SELECT 1 FROM deployments o
                  WHERE (o.service <> d.service OR o.environment <> d.environment)
                    AND (o.image = d.image OR (d.digest IS NOT NULL AND o.digest = d.digest))
                    AND (o.environment = 'main' OR EXISTS (SELECT 1 FROM previews p WHERE p.service = o.service
                                                           AND 'pr-' || p.number = o.environment AND p.state = 'open'))) AS shared
            FROM deployments d
            WHERE d.service = \(target.service) AND d.environment = \(target.environment.rawValue) AND d.image IS NOT NULL
            """, logger: logger).decode((String, String?, Bool).self) {
            out.append((image, digest, shared))
        }
        return out
    }
}

extension Store {
    /// The address a preview without a `previews.url` template answers on (its container's).
    public func setPreviewAddress(_ target: DeploymentTarget, url: String) async throws {
        guard case .pullRequest(let number) = target.environment else { return }
        try await client.query("""
            UPDATE previews SET url = \(url) WHERE service = \(target.service) AND number = \(number) AND state = 'open'
            """, logger: logger)
    }
}
