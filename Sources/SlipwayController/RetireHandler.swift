import Foundation
import Logging
import SlipwayCore
import SlipwayRuntime
import SlipwayStore

/// Stops and removes what a live revision replaced. Which instances go is decided under
/// the target's lock, and only while the job's deployment is still the live one (a
/// rollback since queues its own); the stopping — up to the runtime's grace for an app
/// that ignores SIGTERM — happens after the lock is released.
struct RetireHandler: JobHandler {
    let pipeline: Pipeline
    var kind: JobKind { .retire }

    func run(_ job: ClaimedJob, logger: Logger) async throws {
        guard let id = job.deploymentID else { throw PermanentJobError("retire job without a deployment") }
        let store = pipeline.store
        let deployment = try await store.deployment(id)
        guard let revision = pipeline.revision(of: deployment) else { return }
        let target = deployment.record.target
        let doomed: [String] = try await store.withTargetLock(target) {
            guard try await store.liveDeploymentID(of: target) == id else { return [] }
            return try await pipeline.runtime.retirees(except: revision)
        }
        guard !doomed.isEmpty else { return }
        try await pipeline.runtime.retire(doomed, of: revision)
        logger.info("previous revisions retired", metadata: ["revision.retired": "\(doomed.count)"])
    }
}
