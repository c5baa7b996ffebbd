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

    /// A build to queue, with the commit it builds (for the superseded ones' reason).
    struct BuildToQueue {
        var job: NewJob
        var sha: String?
        var deploymentID: Int64 { job.deploymentID! }
    }

    /// Queues builds with latest wins: in the transaction that queues them, the pending
    /// builds of their services are locked, `LatestWins.actions` decides per new build what
    /// becomes of the older ones of its target, and one statement carries that out — ends
    /// the queued ones superseded, asks the running ones to stop, inserts the new jobs and
    /// sends the NOTIFYs. Two round trips however many builds a batch holds.
    static func queueBuilds(_ builds: [BuildToQueue], on connection: PostgresConnection, logger: Logger) async throws {
        guard !builds.isEmpty else { return }
        var pending: [String: [LatestWins.PendingBuild]] = [:]
        for try await (id, deploymentID, service, environment, state) in try await connection.query("""
            SELECT id, deployment_id, service, environment, state FROM jobs
            WHERE kind = 'build' AND service = ANY(\(Array(Set(builds.compactMap(\.job.service))))) AND state IN ('queued', 'running')
              AND deployment_id IS NOT NULL
            ORDER BY id FOR UPDATE
            """, logger: logger).decode((Int64, Int64, String, String?, String).self) {
            pending[service, default: []].append(.init(jobID: id, deploymentID: deploymentID, environment: environment,
                                                       running: state == "running"))
        }
        var queued: [Int64: String] = [:], running: [Int64: String] = [:]
        for build in builds.sorted(by: { $0.deploymentID < $1.deploymentID }) {
            let reason = LatestWins.reason(supersededBy: build.deploymentID, sha: build.sha)
            // The newest build's reason stands: each later one overwrites the earlier.
            for action in LatestWins.actions(newer: build.deploymentID, environment: build.job.environment,
                                             pending: pending[build.job.service ?? ""] ?? []) {
                switch action {
                case .supersede(let job, _): queued[job] = reason
                case .stop(let job, _): running[job] = reason
                }
            }
        }
        let jobs = builds.map(\.job)
        let endedSources = DeploymentTransitions.sourceNames(of: .superseded)
        try await connection.query("""
            WITH q(id, reason) AS (SELECT * FROM unnest(\(Array(queued.keys))::int8[], \(Array(queued.values))::text[])),
            r(id, reason) AS (SELECT * FROM unnest(\(Array(running.keys))::int8[], \(Array(running.values))::text[])),
            superseded AS (
                UPDATE jobs SET state = 'superseded', last_error = q.reason, finished_at = now(), updated_at = now()
                FROM q WHERE jobs.id = q.id AND jobs.state = 'queued'
                RETURNING jobs.deployment_id AS id, q.reason),
            stopped AS (
                UPDATE jobs SET cancel_requested_at = now(), cancel_reason = 'superseded', cancel_note = r.reason, updated_at = now()
                FROM r WHERE jobs.id = r.id AND jobs.state = 'running' AND jobs.cancel_requested_at IS NULL
                RETURNING jobs.id),
            ended AS (
                UPDATE deployments SET state = 'superseded', reason = e.reason, updated_at = now(), finished_at = now()
                FROM superseded e
                WHERE deployments.id = e.id AND deployments.state = ANY(\(endedSources))
                RETURNING deployments.id, e.reason),
            noted AS (
                INSERT INTO deployment_events (deployment_id, kind, message) SELECT id, 'state', 'superseded: ' || reason FROM ended),
            inserted AS (
                INSERT INTO jobs (kind, deployment_id, service, environment, priority, max_attempts, dedupe_key, timeout_ms, run_at, payload)
                SELECT k, d, nullif(s, ''), nullif(e, ''), p, m, nullif(dk, ''), t, now() + dl * interval '1 millisecond', pl
                FROM unnest(\(jobs.map(\.kind.rawValue))::text[], \(jobs.map { $0.deploymentID! })::int8[],
                            \(jobs.map { $0.service ?? "" })::text[], \(jobs.map { $0.environment ?? "" })::text[], \(jobs.map(\.priority))::int4[],
                            \(jobs.map(\.maxAttempts))::int4[], \(jobs.map { $0.dedupeKey ?? "" })::text[],
                            \(jobs.map(\.timeout.milliseconds))::int8[], \(jobs.map { $0.delay?.milliseconds ?? 0 })::int8[],
                            \(jobs.map(JobQueue.payloadText))::jsonb[]) AS u(k, d, s, e, p, m, dk, t, dl, pl)
                ON CONFLICT (dedupe_key) WHERE dedupe_key IS NOT NULL AND state IN ('queued', 'running') DO NOTHING
                RETURNING 1)
            SELECT (SELECT count(*) FROM (SELECT pg_notify(\(JobQueue.cancelChannel), id || ':superseded') FROM stopped) s),
                   (SELECT count(*) FROM (SELECT pg_notify(\(JobQueue.channel), 'build') WHERE EXISTS (SELECT 1 FROM inserted)) n)
            """, logger: logger)
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
