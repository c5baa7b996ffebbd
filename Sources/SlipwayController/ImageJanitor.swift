import Foundation
import Logging
import ServiceLifecycle
import SlipwayCore
import SlipwayRegistry
import SlipwayStore

/// Deletes images no deployment worth keeping refers to (`ImageRetention` decides), one
/// service's repository at a time, on one replica (a lease), every `interval`.
public struct ImageJanitor: Service {
    let store: Store
    let registry: RegistryClient
    let keep: Int
    let lease: LeaderLease
    let interval: Duration
    let logger: Logger
    let holder = "\(ProcessInfo.processInfo.hostName):\(getpid())"

    public init(store: Store, registry: RegistryClient, keep: Int, lease: LeaderLease, interval: Duration = .seconds(3600), logger: Logger) {
        self.store = store
        self.registry = registry
        self.keep = keep
        self.lease = lease
        self.interval = interval
        self.logger = logger
    }

    /// What one service's pass did (or, dry, would do).
    public struct Report: Sendable {
        public var service: String
        public var repository: String
        public var kept: [String: String]
        public var deleted: [String]
        /// Why the repository was left alone this time, if it was.
        public var problem: String?
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                // Long enough to cover a pass; released at its end.
                if (try? await lease.acquire(holder: holder, ttl: .seconds(3600))) == true {
                    _ = await pass()
                    try? await lease.release(holder: holder)
                }
                try? await Task.sleep(for: interval)
            }
        }
    }

    /// Every declared service, one after another.
    public func pass(dryRun: Bool = false) async -> [Report] {
        var reports: [Report] = []
        let rows: [PlanningRow]
        do { rows = try await store.planningRows(service: nil) } catch {
            logger.error("image retention: services not read", metadata: ["error": "\(error)"])
            return []
        }
        for row in rows where !row.removed {
            reports.append(await prune(service: row.name, dryRun: dryRun))
        }
        return reports
    }

    /// One service: list its repository's tags, decide, delete. Nothing is deleted unless
    /// every tag's digest is known.
    public func prune(service: String, dryRun: Bool = false) async -> Report {
        var report = Report(service: service, repository: "?", kept: [:], deleted: [])
        var log = logger
        log[metadataKey: "service.name"] = "\(service)"
        do {
            guard let row = try await store.service(named: service) else {
                report.problem = "no such service"
                return report
            }
            let reference = try ImageReference(parsing: row.policy.image)
            let host = reference.registry ?? "docker.io"
            report.repository = reference.repository
            var tags: [ImageRetention.Tagged] = []
            for tag in try await registry.tags(host: host, repository: reference.path) {
                guard let digest = try await registry.manifestDigest(host: host, repository: reference.path, reference: tag) else { continue }
                tags.append(.init(tag: tag, digest: digest))
            }
            let history = try await store.history(service: service, limit: 500).map(\.record)
            let decision = ImageRetention.plan(tags: tags, history: history, liveID: row.liveDeploymentID, keep: keep)
            report.kept = decision.kept
            for digest in decision.delete {
                if !dryRun { try await registry.deleteManifest(host: host, repository: reference.path, digest: digest) }
                report.deleted.append(digest)
                log.info(dryRun ? "image would be deleted" : "image deleted", metadata: [
                    "image.repository": "\(reference.repository)", "image.digest": "\(digest)",
                    "image.tags": "\(tags.filter { $0.digest == digest }.map(\.tag).joined(separator: ","))",
                ])
            }
        } catch {
            report.problem = "\(error)"
            log.warning("image retention skipped this repository", metadata: ["error": "\(error)"])
        }
        return report
    }
}
