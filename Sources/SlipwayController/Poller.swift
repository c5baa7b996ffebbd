import Foundation
import Logging
import ServiceLifecycle
import SlipwayCore
import SlipwayGit
import SlipwayStore

/// The webhook fallback: for services with `source.poll`, lists the remote's heads with
/// libgit2 at that interval and turns a moved head into a push on the same path a
/// webhook takes (matching, paths, dedupe). One replica polls, chosen by a lease.
public struct Poller: Service {
    let store: Store
    let git: any GitFetcher
    let lease: any Lease
    let holder: String
    let tick: Duration
    let leaderTTL: TimeSpan
    let clock: ServiceClock
    let logger: Logger

    public init(store: Store, git: any GitFetcher, lease: any Lease,
                holder: String = "\(ProcessInfo.processInfo.hostName):\(getpid())",
                tick: Duration = .seconds(1), leaderTTL: TimeSpan = .seconds(10), clock: ServiceClock = .continuous, logger: Logger) {
        self.store = store
        self.git = git
        self.lease = lease
        self.holder = holder
        self.tick = tick
        self.leaderTTL = leaderTTL
        self.clock = clock
        self.logger = logger
    }

    public func run() async throws {
        let polled = Schedule(clock: clock)
        // A first fetch of a big repository takes a while: the loop renews the lease meanwhile.
        try await LeasedLoop(lease: lease, holder: holder, settings: .init(interval: tick, ttl: leaderTTL), clock: clock, logger: logger) {
            for target in try await dueTargets(polled: polled) {
                try Task.checkCancellation()
                await poll(target)
                for service in target.services { polled.mark(service) }
            }
        }.run()
    }

    /// One repository and branch, and the polling services that follow it.
    struct Target: Sendable {
        var repo: RepoURL
        var branch: String
        var services: [String]
        /// The live deployment of each service (nil: never deployed).
        var live: [Int64?] = []
        var ref: String { "refs/heads/\(branch)" }
    }

    func dueTargets(polled: Schedule) async throws -> [Target] {
        var targets: [String: Target] = [:]
        for service in try await store.services() {
            guard let every = service.policy.source.poll, let repo = try? RepoURL(service.policy.source.repo) else { continue }
            guard polled.isDue(service.name, period: .milliseconds(every.milliseconds)) else { continue }
            let key = repo.key + "#" + service.policy.source.branch
            targets[key, default: Target(repo: repo, branch: service.policy.source.branch, services: [])].services.append(service.name)
            targets[key]?.live.append(service.liveDeploymentID)
        }
        return targets.values.sorted { $0.repo.key + $0.branch < $1.repo.key + $1.branch }
    }

    func poll(_ target: Target) async {
        var log = logger
        log[metadataKey: "git.repo"] = "\(target.repo)"
        log[metadataKey: "git.ref"] = "\(target.ref)"
        do {
            let heads = try await git.remoteHeads(target.repo)
            guard let head = heads[target.ref] else {
                log.warning("polled branch is not on the remote; check source.branch",
                            metadata: ["services.names": "\(target.services.joined(separator: ","))"])
                return
            }
            let last = try await store.pollHead(repoKey: target.repo.key, ref: target.ref)
            guard head != last else { return }
            var before = last
            if before == nil { before = try await firstBase(target) }
            if before != head { try await record(target, head: head, before: before, log: log) }
            try await store.setPollHead(repoKey: target.repo.key, ref: target.ref, sha: head)
        } catch {
            log.warning("could not poll the repository; check source.repo and that the remote answers",
                        metadata: ["error": "\(error)", "services.names": "\(target.services.joined(separator: ","))"])
        }
    }

    /// Polling's first look at a branch compares the head with what runs: when every service
    /// of it runs the same commit, that commit (so `source.paths` decide as for any push);
    /// otherwise nothing (the head deploys wherever it is not live yet).
    func firstBase(_ target: Target) async throws -> String? {
        var shas = Set<String>()
        for id in target.live {
            guard let id, let sha = try await store.deployment(id).record.sha else { return nil }
            shas.insert(sha)
        }
        return shas.count == 1 ? shas.first : nil
    }

    /// The moved head as a push event, matched and recorded like a webhook's.
    func record(_ target: Target, head: String, before: String?, log: Logger) async throws {
        var event = NormalizedEvent(provider: .poll, kind: .push, event: "poll",
                                    deliveryID: nil, repository: .init(fullName: nil, cloneURL: target.repo.raw),
                                    ref: target.ref, branch: target.branch, before: before, after: head, deleted: false)
        try await git.fetch(target.repo, logger: log)
        if let before { event.changedPaths = try await git.changedPaths(from: before, to: head, in: target.repo) }
        let moment = Int64(Date().timeIntervalSince1970 * 1000)
        let id = "poll:\(target.repo.key)|\(target.ref)|\(before ?? "-")..\(head)|\(moment)"
        event.deliveryID = id
        let outcomes = EventMatching.outcomes(for: event, routes: try await store.routes())
        let result = try await store.recordDelivery(event, deliveryID: id, outcomes: outcomes)
        if case .recorded(_, let deployments, _) = result {
            log.info("polled head moved", metadata: [
                "git.before": "\(before ?? "-")", "git.sha": "\(head)", "deployments.count": "\(deployments.count)",
            ])
        }
    }
}
