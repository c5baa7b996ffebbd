import Foundation
import Logging
import SlipwayCore
import SlipwayRuntime
import SlipwayStore

/// Starts the new revision; once it runs, retires the old one, makes the new one live
/// and queues its watch. A revision that cannot start fails without touching what runs.
struct RolloutHandler: JobHandler {
    let pipeline: Pipeline
    var kind: JobKind { .rollout }

    func run(_ job: ClaimedJob, logger: Logger) async throws {
        guard let id = job.deploymentID else { throw PermanentJobError("rollout job without a deployment") }
        let store = pipeline.store
        let first = try await store.deployment(id)
        try await store.withServiceLock(first.record.service) {
            // Read again under the lock: a newer rollout may have finished meanwhile.
            let deployment = try await store.deployment(id)
            guard !deployment.record.state.isFinal else { return }
            let service = deployment.record.service
            let live = try await store.service(named: service)?.liveDeploymentID
            var liveRecord: DeploymentRecord?
            if let live { liveRecord = try await store.deployment(live).record }
            if case .supersede(let reason) = RolloutDecisions.gate(deployment.record, live: liveRecord) {
                logger.info("rollout superseded", metadata: ["reason": "\(reason)"])
                try await store.transition(id, to: .superseded, reason: reason)
                return
            }
            guard let revision = pipeline.revision(of: deployment) else {
                try await store.transition(id, to: .failed, reason: "nothing to roll out: the deployment has no image")
                return
            }
            try await store.transition(id, to: .rollingOut)
            var log = logger
            log[metadataKey: "image.reference"] = "\(revision.image)"
            log.info("starting new revision", metadata: ["revision.count": "\(revision.count)"])

            let started: Started
            do {
                // First what the service runs now: an ECS service made elsewhere is recorded before it is replaced.
                if let current = try await pipeline.runtime.current(revision) {
                    try await adoptIfFirst(current, deploymentID: id, service: service, logger: log)
                }
                started = try await pipeline.runtime.start(revision)
            } catch let failure as RuntimeFailure {
                log.warning("new revision did not start", metadata: ["reason": "\(failure.message)"])
                try await store.transition(id, to: .failed, reason: "\(failure.message); the running revision was not touched")
                return
            }
            let instances = started.instances
            var running = revision
            if let ref = started.ref {
                running.ref = ref
                try await store.setRuntimeRef(id, ref: ref)
                log.info("runtime revision", metadata: ["runtime.ref": "\(ref)"])
            }

            // Crashed before the old revision was touched: count it like any crash in the window.
            let watch = CrashWatch(deployment.policy.rollback)
            let exits = instances.compactMap(\.exit)
            if case .rollBack(let cause, let crashes, _) = watch.verdict(liveAt: pipeline.now(), now: pipeline.now(), recorded: [], exits: exits) {
                let reason = try await CrashReport.reason(cause: cause, crashes: crashes, watch: watch,
                                                          instances: instances, revision: running, runtime: pipeline.runtime)
                try await store.addEvent(id, kind: "crash", key: cause.key, message: "\(cause.instance) exited with code \(cause.exitCode)",
                                         detail: ["exitCode": "\(cause.exitCode)", "finishedAt": ISO8601.format(cause.finishedAt)])
                try await pipeline.runtime.remove(running)
                log.warning("new revision crashed at start; previous revision kept", metadata: ["exit.code": "\(cause.exitCode)"])
                try await store.transition(id, to: .rolledBack, reason: reason + "\nThe previous revision kept running.")
                return
            }

            // Live first: from here the new revision serves; then the old one stops.
            _ = try await store.goLive(id, service: service)
            let retired = try await pipeline.runtime.retire(except: running)
            try await store.startWatch(id, service: service, policy: deployment.policy)
            log.info("new revision live; watching", metadata: ["revision.retired": "\(retired)",
                                                               "rollback.window": "\(deployment.policy.rollback.window)"])
        }
    }

    /// Before Slipway's first rollout to a service that runs already (an ECS service made
    /// elsewhere), what it runs is recorded as a succeeded deployment, so a rollback can put
    /// it back. Later rollouts adopt nothing: a revision changed by hand since is drift.
    func adoptIfFirst(_ current: RunningRevision, deploymentID: Int64, service: String, logger: Logger) async throws {
        let history = try await pipeline.store.history(service: service, limit: 200)
        guard !history.contains(where: { $0.id != deploymentID && ($0.record.liveAt != nil || $0.record.runtimeRef == current.ref) })
        else { return }
        let adopted = try await pipeline.store.adopt(service: service, image: current.image, runtimeRef: current.ref)
        logger.notice("recorded what the service ran before Slipway", metadata: ["runtime.ref": "\(current.ref)",
                                                                                   "adopted.deployment.id": "\(adopted)"])
    }
}

/// The reason text of a crash: which instance, which exit code, and the last lines it wrote.
enum CrashReport {
    static let logLines = 20

    static func reason(cause: CrashWatch.Exit, crashes: Int, watch: CrashWatch, instances: [Instance],
                       revision: Revision, runtime: any Runtime) async throws -> String {
        let name = instances.first { $0.id == cause.instance }?.name ?? String(cause.instance.prefix(12))
        let detail = instances.first { $0.id == cause.instance }?.detail
        let lines = (try? await runtime.logTail(revision, instance: cause.instance, lines: logLines)) ?? []
        var text = "\(name) exited with code \(cause.exitCode)"
        if let detail, detail.contains("OOM") || detail.contains("OutOfMemory") { text += " (killed for using too much memory)" }
        if let detail, detail.hasPrefix("container ") { text += " (\(detail))" }
        text += "; \(crashes) crash\(crashes == 1 ? "" : "es") within \(watch.window) of going live (rollback.crashes: \(watch.threshold))."
        if !lines.isEmpty {
            text += "\nLast log lines:\n" + lines.joined(separator: "\n")
        }
        return text
    }
}
