import Foundation
import Logging
import ServiceLifecycle
import SlipwayController
import SlipwayCore
import SlipwayRuntime
import SlipwayStore

/// Carries out the plan at an interval on one replica (a lease): builds and rollouts of
/// what is not live yet, and — where a policy opts in — self-heal and prune. Webhooks and
/// polling start deployments at once; this loop catches what they missed (a lost
/// webhook, a policy change, a runtime changed by hand).
public struct ReconcileLoop: Service {
    let planner: Planner
    let store: Store
    let runtime: any Runtime
    let lease: any Lease
    let holder: String
    let interval: Duration
    let clock: ServiceClock
    let logger: Logger
    /// Counts each action carried out (`slipway_reconcile_actions_total`).
    let count: MetricCounter?

    public init(planner: Planner, store: Store, runtime: any Runtime, lease: any Lease,
                holder: String = "\(ProcessInfo.processInfo.hostName):\(getpid())", interval: Duration, clock: ServiceClock = .continuous,
                logger: Logger, count: MetricCounter? = nil) {
        self.count = count
        self.planner = planner
        self.store = store
        self.runtime = runtime
        self.lease = lease
        self.holder = holder
        self.interval = interval
        self.clock = clock
        self.logger = logger
    }

    /// Outlives one interval, so the leader keeps it between passes; renewed during a pass.
    var leaseTTL: TimeSpan { Self.leaseTTL(outliving: interval) }

    /// A lease that outlives three intervals: its holder keeps it between passes.
    static func leaseTTL(outliving interval: Duration) -> TimeSpan {
        TimeSpan(milliseconds: Int64(interval.components.seconds) * 3000 + 10_000)
    }

    public func run() async throws {
        // Webhooks and polling go first: the first pass comes one interval after start.
        try await LeasedLoop(lease: lease, holder: holder, settings: .init(interval: interval, ttl: leaseTTL, waitFirst: true),
                             clock: clock, logger: logger) {
            try await pass()
        }.run()
    }

    /// One pass over every service; returns the actions it carried out.
    @discardableResult
    public func pass() async throws -> [(service: String, action: PlanAction)] {
        var done: [(String, PlanAction)] = []
        let acting: Set<PlanAction.Kind> = [.build, .rollout, .selfHeal, .rollback, .prune]
        for first in try await planner.plan().services where first.actions.contains(where: { acting.contains($0.kind) }) {
            // The loop renews the lease meanwhile and stops the pass if it is lost.
            try Task.checkCancellation()
            // Look again at this one service just before acting: a push, a rollback or a
            // deployment that started since the pass began changes what is right.
            guard let plan = try await planner.plan(service: first.service).services.first(where: { $0.service == first.service })
            else { continue }
            for action in plan.actions where acting.contains(action.kind) {
                do {
                    try await carryOut(action, service: plan.service)
                    done.append((plan.service, action))
                    count?(MetricCatalog.reconcileActions, [action.kind.rawValue])
                } catch {
                    logger.error("reconcile action failed", metadata: [
                        "service.name": "\(plan.service)", "action": "\(action.kind.rawValue)", "error": "\(error)",
                    ])
                }
            }
        }
        return done
    }

    func carryOut(_ action: PlanAction, service: String) async throws {
        var metadata: Logger.Metadata = ["service.name": "\(service)", "action": "\(action.kind.rawValue)", "reason": "\(action.reason)"]
        if let sha = action.sha { metadata["git.sha"] = "\(sha)" }
        switch action.kind {
        case .build, .rollout, .selfHeal:
            let digest = action.image.flatMap { try? ImageReference(parsing: $0).digest }
            // Self-heal puts back exactly what was live (on ECS, its task definition).
            let ref = action.kind == .selfHeal ? try await action.deploymentID.asyncMap { try await store.deployment($0).record.runtimeRef } ?? nil : nil
            let id = try await store.createDeployment(service: service, trigger: .reconcile, sha: action.sha,
                                                      image: action.kind == .build ? nil : action.image, digest: digest, runtimeRef: ref,
                                                      firstJob: action.kind == .build ? .build : .rollout)
            try await store.addEvent(id, kind: "reconcile", key: nil, message: "\(action.kind.rawValue): \(action.reason)")
            metadata["deployment.id"] = "\(id)"
        case .rollback, .prune:
            var repoint = false
            for id in action.deployments ?? [] {
                let row = try await store.deployment(id)
                guard let revision = Revision.of(row.record, policy: row.policy) else { continue }
                // An ECS service runs one revision: a failed one still in place is replaced by rolling the live one out again.
                if revision.target == .ecs { repoint = true } else { try await runtime.remove(revision) }
            }
            if repoint, action.kind == .rollback, let liveID = action.deploymentID {
                let live = try await store.deployment(liveID).record
                let id = try await store.createDeployment(service: service, trigger: .reconcile, sha: live.sha, image: live.image,
                                                          digest: live.digest, runtimeRef: live.runtimeRef, firstJob: .rollout)
                try await store.addEvent(id, kind: "reconcile", key: nil, message: "rollback: \(action.reason)")
                metadata["deployment.id"] = "\(id)"
            }
            metadata["deployment.ids"] = "\((action.deployments ?? []).map(String.init).joined(separator: ","))"
        case .wait, .nothing:
            return
        }
        logger.notice("reconcile acted", metadata: metadata)
    }
}

extension Optional {
    func asyncMap<T>(_ transform: (Wrapped) async throws -> T) async rethrows -> T? {
        guard let self else { return nil }
        return try await transform(self)
    }
}
