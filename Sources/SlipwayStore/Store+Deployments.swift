import Foundation
import PostgresNIO
import SlipwayCore

extension Store {
    static let deploymentColumns = """
        id, service, trigger, state, sha, branch, image, digest, reason, rollback_of, policy::text AS policy,
        created_at, updated_at, live_at, finished_at, runtime_ref, push_verified
        """

    /// Inserts a deployment of `service` with a snapshot of its policy; returns its id and that policy.
    static func insertDeployment(
        on connection: PostgresConnection, logger: Logger, service: String, trigger: DeploymentTrigger,
        sha: String?, branch: String?, image: String?, deliveryRowID: Int64?, rollbackOf: Int64?
    ) async throws -> (id: Int64, policy: Policy) {
        let rows = try await connection.query("""
            INSERT INTO deployments (service, trigger, sha, branch, image, policy, delivery_id, rollback_of)
            SELECT name, \(trigger.rawValue), \(sha), coalesce(\(branch), branch), \(image), policy, \(deliveryRowID), \(rollbackOf)
            FROM services WHERE name = \(service) AND removed_at IS NULL
            RETURNING id, policy::text AS policy
            """, logger: logger).rows()
        guard let row = rows.first else { throw StoreError.unknownService(service) }
        return (try row.value("id"), try decodeJSON(Policy.self, try row.value("policy")))
    }

    /// The first job of a deployment. A build also supersedes older builds of the service (latest wins).
    static func enqueueFirstJob(_ kind: JobKind, deploymentID: Int64, service: String, policy: Policy, sha: String?,
                                on connection: PostgresConnection, logger: Logger) async throws {
        let branch = policy.source.branch
        if kind == .build {
            try await JobQueue.supersedeOlderBuilds(than: deploymentID, service: service, branch: branch, sha: sha,
                                                    on: connection, logger: logger)
        }
        try await JobQueue.enqueue(JobTimeouts.job(kind, deploymentID: deploymentID, service: service, policy: policy),
                                   on: connection, logger: logger)
    }

    /// Creates a deployment and its first job together.
    public func createDeployment(service: String, trigger: DeploymentTrigger, sha: String?, image: String?,
                                 digest: String? = nil, rollbackOf: Int64? = nil, runtimeRef: String? = nil,
                                 firstJob: JobKind) async throws -> Int64 {
        try await client.transaction(logger: logger) { connection in
            let (id, policy) = try await Self.insertDeployment(on: connection, logger: logger, service: service, trigger: trigger,
                                                               sha: sha, branch: nil, image: image, deliveryRowID: nil,
                                                               rollbackOf: rollbackOf)
            if let digest {
                try await connection.query("UPDATE deployments SET digest = \(digest) WHERE id = \(id)", logger: logger)
            }
            if let runtimeRef {
                try await connection.query("UPDATE deployments SET runtime_ref = \(runtimeRef) WHERE id = \(id)", logger: logger)
            }
            try await Self.enqueueFirstJob(firstJob, deploymentID: id, service: service, policy: policy, sha: sha,
                                           on: connection, logger: logger)
            return id
        }
    }

    public func deployment(_ id: Int64) async throws -> DeploymentRow {
        let rows = try await client.query("SELECT \(unescaped: Self.deploymentColumns) FROM deployments WHERE id = \(id)",
                                          logger: logger).rows()
        guard let row = rows.first else { throw StoreError.unknownDeployment(id) }
        return try Self.deploymentRow(row)
    }

    /// Every deployment of a service, newest first.
    public func history(service: String, limit: Int = 50) async throws -> [DeploymentRow] {
        try await client.query("""
            SELECT \(unescaped: Self.deploymentColumns) FROM deployments
            WHERE service = \(service) ORDER BY id DESC LIMIT \(limit)
            """, logger: logger).rows().map(Self.deploymentRow)
    }

    /// Moves a deployment that is still in flight to `state`; a deployment that already
    /// ended is left alone (returns false), so a late or repeated step cannot revive it.
    @discardableResult
    public func transition(_ id: Int64, to state: DeploymentState, reason: String? = nil) async throws -> Bool {
        let reason = reason.map { Terminal.printable($0, newlines: true) }
        let rows = try await client.query("""
            UPDATE deployments SET state = \(state.rawValue), reason = coalesce(\(reason), reason), updated_at = now(),
                started_at = CASE WHEN \(state.rawValue) = 'building' THEN coalesce(started_at, now()) ELSE started_at END,
                finished_at = CASE WHEN \(state.isFinal) THEN now() ELSE NULL END
            WHERE id = \(id) AND state IN ('queued', 'building', 'pushing', 'rolling_out', 'watching')
            RETURNING id
            """, logger: logger).collect()
        if rows.count == 1 {
            try await addEvent(id, kind: "state", key: nil, message: reason.map { "\(state.rawValue): \($0)" } ?? state.rawValue)
        }
        return rows.count == 1
    }

    /// What the runtime rolled out for this deployment (ECS: the task definition ARN).
    public func setRuntimeRef(_ id: Int64, ref: String) async throws {
        try await client.query("UPDATE deployments SET runtime_ref = \(ref), updated_at = now() WHERE id = \(id)", logger: logger)
    }

    /// Records the revision a service ran before Slipway first rolled out to it (an ECS
    /// service created elsewhere) as a succeeded deployment live until a moment ago, so
    /// a rollback can put it back.
    @discardableResult
    public func adopt(service: String, image: String, runtimeRef: String) async throws -> Int64 {
        try await client.transaction(logger: logger) { connection in
            let (id, _) = try await Self.insertDeployment(on: connection, logger: logger, service: service, trigger: .adopted,
                                                          sha: nil, branch: nil, image: image, deliveryRowID: nil, rollbackOf: nil)
            let reason = "ran before Slipway's first rollout to this service"
            try await connection.query("""
                UPDATE deployments SET state = 'succeeded', runtime_ref = \(runtimeRef), reason = \(reason),
                    live_at = now() - interval '1 millisecond', finished_at = now(), updated_at = now()
                WHERE id = \(id)
                """, logger: logger)
            let message = "adopted: \(runtimeRef) \(reason)"
            try await connection.query("INSERT INTO deployment_events (deployment_id, kind, message) VALUES (\(id), 'state', \(message))",
                                       logger: logger)
            return id
        }
    }

    /// The commit a deployment builds, once resolved (a manual deploy names only the branch).
    public func setSHA(_ id: Int64, sha: String) async throws {
        try await client.query("UPDATE deployments SET sha = \(sha), updated_at = now() WHERE id = \(id)", logger: logger)
    }

    /// The deployment now runs: it becomes the service's live revision and enters its watch.
    public func goLive(_ id: Int64, service: String) async throws -> Date {
        try await client.transaction(logger: logger) { connection in
            let rows = try await connection.query("""
                UPDATE deployments SET state = 'watching', live_at = now(), updated_at = now()
                WHERE id = \(id) RETURNING live_at
                """, logger: logger)
            var liveAt = Date()
            for try await value in rows.decode(Date.self) { liveAt = value }
            try await connection.query("UPDATE services SET live_deployment_id = \(id), updated_at = now() WHERE name = \(service)",
                                       logger: logger)
            try await connection.query("""
                INSERT INTO deployment_events (deployment_id, kind, message) VALUES (\(id), 'state', 'watching: live')
                """, logger: logger)
            return liveAt
        }
    }

    /// Points the service at another revision (a rollback target, or none). The target's
    /// `live_at` moves to now: rollback targets are chosen by who was live most recently.
    public func setLive(service: String, deploymentID: Int64?) async throws {
        try await client.transaction(logger: logger) { connection in
            try await connection.query("UPDATE services SET live_deployment_id = \(deploymentID), updated_at = now() WHERE name = \(service)",
                                       logger: logger)
            if let deploymentID {
                try await connection.query("UPDATE deployments SET live_at = now(), updated_at = now() WHERE id = \(deploymentID)",
                                           logger: logger)
            }
        }
    }

    static func deploymentRow(_ row: PostgresRandomAccessRow) throws -> DeploymentRow {
        let record = try deploymentRecord(row, policy: try decodeJSON(Policy.self, try row.value("policy")))
        return DeploymentRow(record: record, policy: record.policy!,
                             branch: try row.value("branch"), rollbackOf: try row.value("rollback_of"))
    }

    static func deploymentRecord(_ row: PostgresRandomAccessRow, policy: Policy) throws -> DeploymentRecord {
        let triggerText: String = try row.value("trigger")
        let stateText: String = try row.value("state")
        guard let trigger = DeploymentTrigger(rawValue: triggerText), let state = DeploymentState(rawValue: stateText) else {
            throw StoreError.corrupt("deployment has trigger `\(triggerText)` and state `\(stateText)`")
        }
        let record = DeploymentRecord(
            id: try row.value("id"), service: try row.value("service"), trigger: trigger, state: state,
            sha: try row.value("sha"), image: try row.value("image"), digest: try row.value("digest"),
            reason: try row.value("reason"), createdAt: try row.value("created_at"),
            liveAt: try row.value("live_at"), finishedAt: try row.value("finished_at"), policy: policy,
            branch: try row.value("branch"), runtimeRef: try row.value("runtime_ref"), pushVerified: try row.value("push_verified"))
        return record
    }
}
