import Foundation
import PostgresNIO
import SlipwayCore

extension Store {
    static let deploymentColumns = """
        id, service, trigger, state, sha, branch, image, digest, reason, rollback_of, policy::text AS policy,
        created_at, updated_at, live_at, finished_at, runtime_ref, push_verified, environment
        """

    /// Inserts a deployment to `target` with a snapshot of its service's policy; returns its id and that policy.
    static func insertDeployment(
        on connection: PostgresConnection, logger: Logger, target: DeploymentTarget, trigger: DeploymentTrigger,
        sha: String?, branch: String?, image: String?, deliveryRowID: Int64?, rollbackOf: Int64?
    ) async throws -> (id: Int64, policy: Policy) {
        let service = target.service
        let rows = try await connection.query("""
            INSERT INTO deployments (service, environment, trigger, sha, branch, image, policy, delivery_id, rollback_of)
            SELECT name, \(target.environment.rawValue), \(trigger.rawValue), \(sha), coalesce(\(branch), branch), \(image), policy,
                   \(deliveryRowID), \(rollbackOf)
            FROM services WHERE name = \(service) AND removed_at IS NULL
            RETURNING id, policy::text AS policy
            """, logger: logger).rows()
        guard let row = rows.first else { throw StoreError.unknownService(service) }
        return (try row.value("id"), try decodeJSON(Policy.self, try row.value("policy")))
    }

    /// The first job of a deployment. A build also supersedes older builds of its target (latest wins).
    static func enqueueFirstJob(_ kind: JobKind, deploymentID: Int64, target: DeploymentTarget, policy: Policy, sha: String?,
                                on connection: PostgresConnection, logger: Logger) async throws {
        let job = JobTimeouts.job(kind, deploymentID: deploymentID, service: target.service, environment: target.environment, policy: policy)
        if kind == .build {
            try await JobQueue.queueBuilds([.init(job: job, sha: sha)], on: connection, logger: logger)
        } else {
            try await JobQueue.enqueue(job, on: connection, logger: logger)
        }
    }

    /// Creates a deployment and its first job together.
    /// - Parameter requestedBy: the API token's name that asked for it (recorded, and said in an event).
    public func createDeployment(service: String, environment: DeploymentTarget.Environment = .main, trigger: DeploymentTrigger,
                                 sha: String?, image: String?, digest: String? = nil, rollbackOf: Int64? = nil,
                                 runtimeRef: String? = nil, requestedBy: String? = nil, firstJob: JobKind) async throws -> Int64 {
        let target = DeploymentTarget(service: service, environment: environment)
        return try await client.transaction(logger: logger) { connection in
            let (id, policy) = try await Self.insertDeployment(on: connection, logger: logger, target: target, trigger: trigger,
                                                               sha: sha, branch: nil, image: image, deliveryRowID: nil,
                                                               rollbackOf: rollbackOf)
            if let digest {
                try await connection.query("UPDATE deployments SET digest = \(digest) WHERE id = \(id)", logger: logger)
            }
            if let runtimeRef {
                try await connection.query("UPDATE deployments SET runtime_ref = \(runtimeRef) WHERE id = \(id)", logger: logger)
            }
            if let requestedBy {
                try await connection.query("UPDATE deployments SET requested_by = \(requestedBy) WHERE id = \(id)", logger: logger)
                try await connection.query("""
                    INSERT INTO deployment_events (deployment_id, kind, message) VALUES (\(id), 'request', \("\(trigger.rawValue) requested by \(requestedBy)"))
                    """, logger: logger)
            }
            try await Self.enqueueFirstJob(firstJob, deploymentID: id, target: target, policy: policy, sha: sha,
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

    /// Every deployment of a service's main environment, newest first.
    public func history(service: String, limit: Int = 50) async throws -> [DeploymentRow] {
        try await history(of: .main(service), limit: limit)
    }

    /// Every deployment of a target, newest first.
    public func history(of target: DeploymentTarget, limit: Int = 50) async throws -> [DeploymentRow] {
        try await client.query("""
            SELECT \(unescaped: Self.deploymentColumns) FROM deployments
            WHERE service = \(target.service) AND environment = \(target.environment.rawValue) ORDER BY id DESC LIMIT \(limit)
            """, logger: logger).rows().map(Self.deploymentRow)
    }

    /// Moves a deployment to `state` when `DeploymentTransitions` allows it from where it
    /// is; otherwise leaves it alone (returns false), so a late or repeated step cannot
    /// move it backwards or revive it.
    @discardableResult
    public func transition(_ id: Int64, to state: DeploymentState, reason: String? = nil) async throws -> Bool {
        try await client.transaction(logger: logger) { connection in
            try await Self.transition(id, to: state, reason: reason, on: connection, logger: logger)
        }
    }

    /// The one statement that changes a deployment's state, for use inside a transaction.
    /// `note` goes into the state event only, where `reason` is also kept on the deployment.
    @discardableResult
    static func transition(_ id: Int64, to state: DeploymentState, reason: String?, note: String? = nil, liveNow: Bool = false,
                           on connection: PostgresConnection, logger: Logger) async throws -> Bool {
        let reason = reason.map { Terminal.printable($0, newlines: true) }
        let rows = try await connection.query("""
            UPDATE deployments SET state = \(state.rawValue), reason = coalesce(\(reason), reason), updated_at = now(),
                started_at = CASE WHEN \(state.rawValue) = 'building' THEN coalesce(started_at, now()) ELSE started_at END,
                finished_at = CASE WHEN \(state.isFinal) THEN now() ELSE NULL END,
                live_at = CASE WHEN \(liveNow) THEN now() ELSE live_at END
            WHERE id = \(id) AND state = ANY(\(DeploymentTransitions.sourceNames(of: state)))
            RETURNING id
            """, logger: logger).collect()
        guard rows.count == 1 else { return false }
        let message = (reason ?? note).map { "\(state.rawValue): \($0)" } ?? state.rawValue
        try await connection.query("INSERT INTO deployment_events (deployment_id, kind, message) VALUES (\(id), 'state', \(message))",
                                   logger: logger)
        return true
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
            let (id, _) = try await Self.insertDeployment(on: connection, logger: logger, target: .main(service), trigger: .adopted,
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

    /// Points a target at another revision (a rollback target, or none).
    public func setLive(_ target: DeploymentTarget, deploymentID: Int64?) async throws {
        try await client.transaction(logger: logger) { connection in
            try await Self.repoint(target, to: deploymentID, on: connection, logger: logger)
        }
    }

    /// The target's live pointer moves to `deploymentID`, whose `live_at` moves to now:
    /// rollback targets are chosen by who was live most recently.
    static func repoint(_ target: DeploymentTarget, to deploymentID: Int64?, on connection: PostgresConnection, logger: Logger) async throws {
        try await pointLive(target, at: deploymentID, on: connection, logger: logger)
        if let deploymentID {
            try await connection.query("UPDATE deployments SET live_at = now(), updated_at = now() WHERE id = \(deploymentID)", logger: logger)
        }
    }

    /// The live pointer of a target, created with its first revision.
    static func pointLive(_ target: DeploymentTarget, at deploymentID: Int64?, on connection: PostgresConnection,
                          logger: Logger) async throws {
        try await connection.query("""
            INSERT INTO targets (service, environment, live_deployment_id) VALUES (\(target.service), \(target.environment.rawValue), \(deploymentID))
            ON CONFLICT (service, environment) DO UPDATE SET live_deployment_id = EXCLUDED.live_deployment_id, updated_at = now()
            """, logger: logger)
    }

    static func environment(_ row: PostgresRandomAccessRow) throws -> DeploymentTarget.Environment {
        let text: String = try row.value("environment")
        guard let environment = DeploymentTarget.Environment(rawValue: text) else {
            throw StoreError.corrupt("deployment has environment `\(text)`")
        }
        return environment
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
            branch: try row.value("branch"), runtimeRef: try row.value("runtime_ref"), pushVerified: try row.value("push_verified"),
            environment: try environment(row))
        return record
    }
}
