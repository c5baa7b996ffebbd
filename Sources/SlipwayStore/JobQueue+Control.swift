import Foundation
import Logging
import PostgresNIO
import SlipwayCore

extension JobQueue {
    /// Asks running jobs to stop; their workers hear it on `cancelChannel` at once and on
    /// their next heartbeat otherwise. The first reason given wins.
    static func requestStop(_ jobIDs: [Int64], reason: StopReason, note: String, on connection: PostgresConnection,
                            logger: Logger) async throws {
        guard !jobIDs.isEmpty else { return }
        for try await id in try await connection.query("""
            UPDATE jobs SET cancel_requested_at = now(), cancel_reason = \(reason.rawValue), cancel_note = \(note), updated_at = now()
            WHERE id = ANY(\(jobIDs)) AND state = 'running' AND cancel_requested_at IS NULL
            RETURNING id
            """, logger: logger).decode(Int64.self) {
            try await connection.query("SELECT pg_notify(\(Self.cancelChannel), \("\(id):\(reason.rawValue)"))", logger: logger)
        }
    }

    /// Ends queued jobs without running them, and their deployments with them.
    static func endQueued(_ jobIDs: [Int64], state: JobState, deploymentState: DeploymentState, reason: String,
                          on connection: PostgresConnection, logger: Logger) async throws {
        guard !jobIDs.isEmpty else { return }
        let rows = try await connection.query("""
            UPDATE jobs SET state = \(state.rawValue), last_error = \(reason), finished_at = now(), updated_at = now()
            WHERE id = ANY(\(jobIDs)) AND state = 'queued'
            RETURNING deployment_id
            """, logger: logger)
        var deployments: [Int64] = []
        for try await id in rows.decode(Int64?.self) { if let id { deployments.append(id) } }
        for id in deployments {
            try await endDeployment(id, state: deploymentState, reason: reason, on: connection, logger: logger)
        }
    }

    /// Latest wins: called in the transaction that queues the build of deployment `newer`.
    /// Older queued builds of the same service and branch end as superseded; running ones are asked to stop.
    static func supersedeOlderBuilds(than newer: Int64, service: String, branch: String?, sha: String?,
                                     on connection: PostgresConnection, logger: Logger) async throws {
        var pending: [LatestWins.PendingBuild] = []
        for try await (id, deploymentID, jobBranch, state) in try await connection.query("""
            SELECT id, deployment_id, branch, state FROM jobs
            WHERE kind = 'build' AND service = \(service) AND state IN ('queued', 'running') AND deployment_id IS NOT NULL
            FOR UPDATE
            """, logger: logger).decode((Int64, Int64, String?, String).self) {
            pending.append(.init(jobID: id, deploymentID: deploymentID, branch: jobBranch, running: state == "running"))
        }
        let actions = LatestWins.actions(newer: newer, branch: branch, pending: pending)
        let reason = "superseded by deployment \(newer)" + (sha.map { " (\(RolloutDecisions.shortSHA($0)))" } ?? "")
        var queued: [Int64] = [], running: [Int64] = []
        for action in actions {
            switch action {
            case .supersede(let job, _): queued.append(job)
            case .stop(let job, _): running.append(job)
            }
        }
        try await endQueued(queued, state: .superseded, deploymentState: .superseded, reason: reason, on: connection, logger: logger)
        try await requestStop(running, reason: .superseded, note: reason, on: connection, logger: logger)
    }

    /// `slipway builds cancel`: ends a deployment that has not gone live yet.
    /// Throws `CancelRefused` when cancelling makes no sense in its state.
    public func cancel(deploymentID: Int64) async throws -> (queued: [Int64], running: [Int64]) {
        try await client.transaction(logger: logger) { connection in
            let states = try await connection.query("SELECT state FROM deployments WHERE id = \(deploymentID) FOR UPDATE",
                                                    logger: logger).collect()
            guard let stateText = try states.first?.decode(String.self), let state = DeploymentState(rawValue: stateText) else {
                throw StoreError.unknownDeployment(deploymentID)
            }
            var jobs: [Cancellation.PendingJob] = []
            for try await (id, kind, jobState) in try await connection.query("""
                SELECT id, kind, state FROM jobs WHERE deployment_id = \(deploymentID) AND state IN ('queued', 'running') FOR UPDATE
                """, logger: logger).decode((Int64, String, String).self) {
                jobs.append(.init(jobID: id, kind: JobKind(kind), running: jobState == "running"))
            }
            switch Cancellation.decide(deploymentID: deploymentID, state: state, jobs: jobs) {
            case .refuse(let message):
                throw CancelRefused(message: message)
            case .cancel(let queued, let running):
                try await Self.endQueued(queued, state: .cancelled, deploymentState: .cancelled, reason: "cancelled on request",
                                         on: connection, logger: logger)
                try await Self.requestStop(running, reason: .cancelled, note: "cancelled on request", on: connection, logger: logger)
                if queued.isEmpty && running.isEmpty {
                    try await Self.endDeployment(deploymentID, state: .cancelled, reason: "cancelled on request",
                                                 on: connection, logger: logger)
                }
                return (queued, running)
            }
        }
    }
}

public struct CancelRefused: Error, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}
