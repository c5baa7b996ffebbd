import Foundation
import Logging
import ServiceLifecycle
import SlipwayCore
import SlipwayDocker
import SlipwayRegistry
import SlipwayStore
import SlipwaySystem

/// Deletes images no deployment worth keeping refers to (`ImageRetention` decides), one
/// service's repository at a time, on one replica (a lease), every `interval`.
public struct ImageJanitor: Service {
    let store: Store
    let registry: any Registry
    let keep: Int
    let lease: any Lease
    let interval: Duration
    let clock: ServiceClock
    let logger: Logger
    let holder = "\(ProcessInfo.processInfo.hostName):\(getpid())"

    let secrets: SecretReader

    public init(store: Store, registry: any Registry, keep: Int, lease: any Lease, interval: Duration = .seconds(3600),
                secrets: SecretReader = .standard, clock: ServiceClock = .continuous, logger: Logger) {
        self.clock = clock
        self.secrets = secrets
        self.store = store
        self.registry = registry
        self.keep = keep
        self.lease = lease
        self.interval = interval
        self.logger = logger
    }

    /// What one repository's pass did (or, dry, would do).
    public struct Report: Sendable {
        /// The services whose images are there.
        public var services: [String]
        public var repository: String
        public var kept: [String: String]
        public var deleted: [String]
        /// Why the repository was left alone this time, if it was.
        public var problem: String?
    }

    public func run() async throws {
        // Hourly work: the lease is held for a pass only, and renewed while it runs.
        try await LeasedLoop(lease: lease, holder: holder,
                             settings: .init(interval: interval, ttl: .seconds(300), releaseAfterPass: true),
                             clock: clock, logger: logger) {
            _ = await pass()
        }.run()
    }

    /// Every repository a service (declared or removed) builds into.
    public func pass(dryRun: Bool = false) async -> [Report] {
        let repositories: [String: [String]]
        do { repositories = try await store.imageRepositories() } catch {
            logger.error("image retention: services not read", metadata: ["error": "\(error)"])
            return []
        }
        var reports: [Report] = []
        for repository in repositories.keys.sorted() {
            reports.append(await prune(repository: repository, dryRun: dryRun))
        }
        return reports
    }

    /// The repository `service` builds into.
    public func prune(service: String, dryRun: Bool = false) async -> Report {
        do {
            guard let row = try await store.service(named: service) else {
                return Report(services: [service], repository: "?", kept: [:], deleted: [], problem: "no service \(service)")
            }
            return await prune(repository: try ImageReference(parsing: row.policy.image).repository, dryRun: dryRun)
        } catch {
            return Report(services: [service], repository: "?", kept: [:], deleted: [], problem: "\(error)")
        }
    }

    /// One repository: its tags, every deployment of any service with images there, decide,
    /// delete. Nothing is deleted while a build for it is in flight, when a tag's manifest
    /// cannot be read, or when the tags changed while deciding.
    public func prune(repository: String, dryRun: Bool = false) async -> Report {
        var report = Report(services: [], repository: repository, kept: [:], deleted: [])
        var log = logger
        log[metadataKey: "image.repository"] = "\(repository)"
        do {
            let reference = try ImageReference(parsing: repository)
            let host = reference.registry ?? "docker.io"
            let (history, live) = try await store.deployments(inRepository: repository)
            report.services = Array(Set(history.map(\.service))).sorted()
            if let busy = history.first(where: { !$0.state.isFinal && $0.digest == nil }) {
                report.problem = "deployment \(busy.id) of \(busy.service) is \(busy.state.rawValue); the repository is looked at again next time"
                return report
            }
            // A service's own login for the repository, when its policy names one.
            var registry = self.registry
            for service in report.services {
                guard let credentials = try await store.service(named: service)?.policy.imageCredentials else { continue }
                registry = registry.withLogin(try RegistryLogin.from(credentials, registry: host, reader: secrets), at: host)
                break
            }
            let tags = try await tagged(host: host, path: reference.path, registry: registry)
            let decision = ImageRetention.plan(tags: tags, history: history, live: live, keep: keep,
                                               pinned: try await store.previewPins(inRepository: repository))
            report.kept = decision.kept
            guard !decision.delete.isEmpty else { return report }
            // A push may have landed while deciding: its new tag could point at a digest about to go.
            guard try await Set(registry.tags(host: host, repository: reference.path)) == Set(tags.map(\.tag)) else {
                report.problem = "the tags changed while deciding; nothing deleted, the repository is looked at again next time"
                return report
            }
            for digest in decision.delete {
                if !dryRun { try await registry.deleteManifest(host: host, repository: reference.path, digest: digest) }
                report.deleted.append(digest)
                log.info(dryRun ? "image would be deleted" : "image deleted", metadata: [
                    "image.digest": "\(digest)", "image.tags": "\(tags.filter { $0.digest == digest }.map(\.tag).joined(separator: ","))",
                ])
            }
        } catch {
            report.problem = "\(error)"
            log.warning("image retention skipped this repository", metadata: ["error": "\(error)"])
        }
        return report
    }

    /// Every tag with its digest; a tag whose manifest cannot be read stops the pass for this repository.
    func tagged(host: String, path: String, registry: any Registry) async throws -> [ImageRetention.Tagged] {
        var out: [ImageRetention.Tagged] = []
        for tag in try await registry.tags(host: host, repository: path) {
            guard let digest = try await registry.manifestDigest(host: host, repository: path, reference: tag) else {
                throw RegistryError(host: host, status: 404, message: "tag \(tag) is listed but its manifest cannot be read; nothing deleted")
            }
            out.append(.init(tag: tag, digest: digest))
        }
        return out
    }
}
