import Foundation
import Logging
import SlipwayCore
import SlipwayRuntime
import SlipwayStore

/// Watches a live revision through `rollback.window`: restarts instances that stop,
/// counts non-zero exits, and rolls back to the last good revision when they reach
/// `rollback.crashes`. The counted crashes are stored, so a restarted watch resumes.
struct WatchHandler: JobHandler {
    let pipeline: Pipeline
    var kind: JobKind { .watch }

    func run(_ job: ClaimedJob, logger: Logger) async throws {
        guard let id = job.deploymentID else { throw PermanentJobError("watch job without a deployment") }
        let store = pipeline.store
        while !Task.isCancelled {
            let deployment = try await store.deployment(id)
            guard deployment.record.state == .watching, let liveAt = deployment.record.liveAt else { return }
            let target = deployment.record.target
            let done: Bool = try await store.withTargetLock(target) {
                let live = try await store.liveDeploymentID(of: target)
                guard live == id else {
                    let reason = live.map { "replaced by deployment \($0) before its watch window ended, with no crash" }
                        ?? "no longer live (the service was stopped) before its watch window ended, with no crash"
                    try await store.transition(id, to: .succeeded, reason: reason)
                    return true
                }
                return try await step(deployment, liveAt: liveAt, logger: logger)
            }
            if done { return }
            try await pipeline.clock.sleep(pipeline.watchInterval(deployment.policy.deploy.target))
        }
    }

    /// One look at the revision; true when the watch is over.
    func step(_ deployment: DeploymentRow, liveAt: Date, logger: Logger) async throws -> Bool {
        let store = pipeline.store
        let id = deployment.id
        let runtime = pipeline.runtime
        guard let revision = pipeline.revision(of: deployment) else { return true }
        let watch = CrashWatch(deployment.policy.rollback)
        let now = pipeline.now()
        var until: Date?
        var stillRollingOut: String?
        switch try await runtime.progress(revision) {
        case .failed(let why):
            // The runtime gave up on the revision (ECS's circuit breaker): no crash count to wait for.
            try await store.addEvent(id, kind: "rollout-failed", key: "rollout-failed", message: why)
            logger.warning("the runtime stopped the rollout", metadata: ["reason": "\(why)"])
            try await RollbackAction(pipeline: pipeline).rollBack(deployment, reason: why + ".", logger: logger)
            return true
        case .inProgress(let how):
            stillRollingOut = how
        case .done:
            break
        }
        let instances = try await runtime.instances(of: revision)
        // Waited out only while the runtime is starting instances of the revision: with none
        // at all there is nothing to watch, and the window's end stands.
        if stillRollingOut != nil, !instances.isEmpty {
            until = watch.extendedEnd(liveAt: liveAt, now: now)
        } else {
            stillRollingOut = nil
        }
        let recorded = try await store.crashKeys(id)
        let verdict = watch.verdict(liveAt: liveAt, now: now, recorded: recorded, exits: instances.compactMap(\.exit), until: until)

        switch verdict {
        case .watch(let restart, let newCrashes):
            try await record(newCrashes, deploymentID: id, logger: logger)
            if !restart.isEmpty { try await runtime.restart(revision, instances: restart) }
            return false

        case .succeed(let restart):
            if !restart.isEmpty { try await runtime.restart(revision, instances: restart) }
            try await runtime.settle(revision)
            // The grace ran out with the runtime still rolling out: no crash seen, but say so.
            let reason = stillRollingOut.map {
                "no crash, but the runtime still reports the rollout in progress (\($0)) \(Int(CrashWatch.rolloutGrace / 60)) minutes after the watch window; Slipway stopped watching"
            }
            try await store.transition(id, to: .succeeded, reason: reason)
            logger.info("watch window passed without reaching the crash limit; deployment succeeded")
            return true

        case .rollBack(let cause, let crashes, let newCrashes):
            try await record(newCrashes, deploymentID: id, logger: logger)
            let reason = await CrashReport.reason(cause: cause, crashes: crashes, watch: watch,
                                                  instances: instances, revision: revision, runtime: runtime)
            try await RollbackAction(pipeline: pipeline).rollBack(deployment, reason: reason, logger: logger)
            return true
        }
    }

    func record(_ crashes: [CrashWatch.Exit], deploymentID: Int64, logger: Logger) async throws {
        for crash in crashes {
            logger.warning("instance crashed", metadata: ["instance.id": "\(crash.instance.prefix(12))", "exit.code": "\(crash.exitCode)"])
            try await pipeline.store.addEvent(deploymentID, kind: "crash", key: crash.key,
                                              message: "\(crash.instance.prefix(12)) exited with code \(crash.exitCode)",
                                              detail: ["exitCode": "\(crash.exitCode)", "finishedAt": ISO8601.format(crash.finishedAt)])
        }
    }
}

/// Puts the last good revision back in place of a crashing one, as `RollbackMachine`
/// decides. Runs under the target's lock; stopping the failing revision is queued, so
/// the target counts as rolled back once the earlier revision has started.
struct RollbackAction {
    let pipeline: Pipeline

    func rollBack(_ failing: DeploymentRow, reason: String, logger: Logger) async throws {
        let store = pipeline.store
        let target = failing.record.target
        let history = try await store.history(of: target).map(\.record)
        try await store.addEvent(failing.id, kind: "rollback", key: nil, message: "rollback started")
        var machine = RollbackMachine(failing: failing.record, history: history, reason: reason)
        var log = logger
        let outcome: RollbackMachine.Action
        switch machine.begin() {
        case .stopService(let reason):
            if let failingRevision = pipeline.revision(of: failing) { try await pipeline.runtime.remove(failingRevision) }
            try await store.setLive(target, deploymentID: nil)
            try await store.transition(failing.id, to: .failed, reason: reason)
            log.error("crashing revision stopped; nothing to roll back to")
            return
        case .startTarget(let earlier):
            log[metadataKey: "rollback.to"] = "\(earlier.id)"
            outcome = try await start(earlier, machine: &machine)
        default:
            return
        }
        switch outcome {
        case .restored(let restored, let reason):
            try await store.rolledBack(failing.id, to: restored.id, target: target, policy: restored.policy ?? failing.policy, reason: reason)
            log.warning("rolled back", metadata: ["git.sha": "\(restored.sha ?? "?")"])
        case .giveUp(let reason):
            try await store.transition(failing.id, to: .failed, reason: reason)
            log.error("rollback failed", metadata: ["reason": "\(reason)"])
        default:
            return
        }
    }

    /// Starts the earlier revision and hands the machine how that went.
    func start(_ earlier: DeploymentRecord, machine: inout RollbackMachine) async throws -> RollbackMachine.Action {
        guard let policy = earlier.policy, let revision = Revision.of(earlier, policy: policy) else {
            return machine.targetFailed("it has no image or policy on record")
        }
        do {
            let started = try await pipeline.runtime.start(revision)
            if let ref = started.ref, ref != revision.ref { try await pipeline.store.setRuntimeRef(earlier.id, ref: ref) }
            try await pipeline.runtime.settle(revision)
            return machine.targetStarted()
        } catch let failure as RuntimeFailure {
            return machine.targetFailed(failure.message)
        }
    }
}
