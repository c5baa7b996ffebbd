import Foundation
import Logging
import SlipwayCore
import SlipwayRuntime
import SlipwayStore

/// Starts the new revision and, once it runs, makes it live: its watch and the retirement
/// of what it replaces are queued with it. A revision that cannot start fails without
/// touching what runs. `RolloutMachine` decides each branch; this carries it out.
struct RolloutHandler: JobHandler {
    let pipeline: Pipeline
    var kind: JobKind { .rollout }

    func run(_ job: ClaimedJob, logger: Logger) async throws {
        guard let id = job.deploymentID else { throw PermanentJobError("rollout job without a deployment") }
        let store = pipeline.store
        let first = try await store.deployment(id)
        try await store.withTargetLock(first.record.target) {
            // Read again under the lock: a newer rollout may have finished meanwhile.
            let deployment = try await store.deployment(id)
            let target = deployment.record.target
            var live: DeploymentRecord?
            if let liveID = try await store.liveDeploymentID(of: target) { live = try await store.deployment(liveID).record }
            var machine = RolloutMachine(deployment: deployment.record, live: live, watch: CrashWatch(deployment.policy.rollback))
            var log = logger
            switch machine.begin() {
            case .start:
                break
            case .end(let state, let reason):
                log.info("rollout ended", metadata: ["deployment.state": "\(state.rawValue)", "reason": "\(reason)"])
                try await store.transition(id, to: state, reason: reason)
                return
            default:
                return  // ended meanwhile, or already live
            }
            if case .pullRequest(let number) = target.environment, try await store.previewSource(target)?.open != true {
                // Closed while it built: a preview of a closed pull request never starts (teardown may have run already).
                try await store.transition(id, to: .cancelled, reason: "pull request #\(number) is closed; its preview is not rolled out")
                return
            }
            guard var revision = pipeline.revision(of: deployment), try await store.transition(id, to: .rollingOut) else { return }
            log[metadataKey: "image.reference"] = "\(revision.image)"
            log.info("starting new revision", metadata: ["revision.count": "\(revision.count)"])
            let started: Started
            do {
                // First what the service runs now: an ECS service made elsewhere is recorded before it is replaced.
                if target.environment == .main, let current = try await pipeline.runtime.current(revision) {
                    try await adoptIfFirst(current, deploymentID: id, service: target.service, logger: log)
                }
                started = try await pipeline.runtime.start(revision)
            } catch let failure as RuntimeFailure {
                log.warning("new revision did not start", metadata: ["reason": "\(failure.message)"])
                if case .end(let state, let reason) = machine.startFailed(failure.message) {
                    try await store.transition(id, to: state, reason: reason)
                }
                return
            }
            if let ref = started.ref {
                revision.ref = ref
                try await store.setRuntimeRef(id, ref: ref)
                log.info("runtime revision", metadata: ["runtime.ref": "\(ref)"])
            }
            switch machine.started(exits: started.instances.compactMap(\.exit), now: pipeline.now()) {
            case .rollBackAtStart(let cause, let crashes, let suffix):
                try await rollBackAtStart(id, cause: cause, crashes: crashes, suffix: suffix, instances: started.instances,
                                          revision: revision, policy: deployment.policy, logger: log)
            case .goLive:
                // Live first, watched at once; the previous revision is retired by a job of its own.
                guard try await store.goLive(id, target: target, policy: deployment.policy) else {
                    // Ended while it started (declared dead past its deadline, say): what started must not stay.
                    try await pipeline.runtime.remove(revision)
                    log.warning("deployment ended while its revision started; removed what started")
                    return
                }
                log.info("new revision live; watching", metadata: ["rollback.window": "\(deployment.policy.rollback.window)"])
                if target.environment != .main, deployment.policy.previews.url == nil, let first = started.instances.first {
                    // No URL template: the preview is reached at its container on the engine's network.
                    try await store.setPreviewAddress(target, url: "http://\(first.name.trimmingCharacters(in: CharacterSet(charactersIn: "/"))):\(deployment.policy.deploy.port ?? 80)")
                }
            default:
                return
            }
        }
    }

    /// It crashed before the previous revision was touched: counted like any crash in the window.
    func rollBackAtStart(_ id: Int64, cause: CrashWatch.Exit, crashes: Int, suffix: String, instances: [Instance],
                         revision: Revision, policy: Policy, logger: Logger) async throws {
        let store = pipeline.store
        let reason = await CrashReport.reason(cause: cause, crashes: crashes, watch: CrashWatch(policy.rollback),
                                              instances: instances, revision: revision, runtime: pipeline.runtime)
        try await store.addEvent(id, kind: "crash", key: cause.key, message: "\(cause.instance) exited with code \(cause.exitCode)",
                                 detail: ["exitCode": "\(cause.exitCode)", "finishedAt": ISO8601.format(cause.finishedAt)])
        try await pipeline.runtime.remove(revision)
        logger.warning("new revision crashed at start; previous revision kept", metadata: ["exit.code": "\(cause.exitCode)"])
        try await store.transition(id, to: .rolledBack, reason: reason + "\n" + suffix)
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

extension CrashReport {
    /// The reason text of a crash, with the last lines the instance wrote.
    static func reason(cause: CrashWatch.Exit, crashes: Int, watch: CrashWatch, instances: [Instance],
                       revision: Revision, runtime: any Runtime) async -> String {
        let instance = instances.first { $0.id == cause.instance }
        let lines = (try? await runtime.logTail(revision, instance: cause.instance, lines: logLines)) ?? []
        return reason(cause: cause, crashes: crashes, watch: watch, instanceName: instance?.name, detail: instance?.detail, lastLines: lines)
    }
}
