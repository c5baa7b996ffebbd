import Foundation
import Logging
import SlipwayCore
import SlipwayRegistry
import SlipwayRuntime
import SlipwayStore

/// Removes a closed preview: its instances and runtime resources, then the images only it
/// used (from the engine and the registry), then its live pointer. Each step is safe to
/// repeat, so a teardown cut off by a crash completes when its job runs again; a preview
/// reopened meanwhile is left alone.
struct TeardownHandler: JobHandler {
    let pipeline: Pipeline
    var kind: JobKind { .teardown }

    func run(_ job: ClaimedJob, logger: Logger) async throws {
        let payload = job.payload
        guard let service = payload["service"], let environment = payload["environment"].flatMap(DeploymentTarget.Environment.init(rawValue:)),
              environment != .main else {
            throw PermanentJobError("teardown job \(job.id) names no preview (service \(payload["service"] ?? "-"), environment \(payload["environment"] ?? "-"))")
        }
        let store = pipeline.store
        let target = DeploymentTarget(service: service, environment: environment)
        var log = logger
        log[metadataKey: "service.name"] = "\(service)"
        log[metadataKey: "preview"] = "\(environment.rawValue)"
        // The runtime settings come from the preview's newest deployment (the policy may be gone by now).
        var policy = try await store.history(of: target, limit: 1).first?.policy
        if policy == nil { policy = try await store.service(named: service)?.policy }
        let outcome: (tornDown: Bool, deleted: Int) = try await store.withTargetLock(target) {
            // A preview reopened since its close keeps running; its images stay.
            if let source = try await store.previewSource(target), source.open { return (false, 0) }
            let images = try await store.previewImages(target)
            log.info("tearing down preview", metadata: ["images.count": "\(images.count)"])
            // The engine's tags of the preview go whatever they point at (untagging keeps an image others use).
            try await pipeline.runtime.tearDown(target, policy: policy, images: images.map(\.image))
            // Which images something else uses is asked after the instances are gone and before anything is deleted.
            return (true, await deleteFromRegistry(try await store.previewImages(target), policy: policy, logger: log))
        }
        guard outcome.tornDown else {
            log.info("preview reopened before its teardown; left running")
            return
        }
        try await store.finishTeardown(target)
        log.notice("preview torn down", metadata: ["reason": "\(payload["reason"] ?? "-")", "images.deleted": "\(outcome.deleted)"])
    }

    /// The preview's own images go from the registry too. One whose digest something else
    /// uses stays; only its tag is asked to go, which registries may refuse (distribution 2
    /// cannot delete a tag alone): then the tag stays, pointing at an image kept anyway. A
    /// registry that cannot be asked is left to image retention.
    func deleteFromRegistry(_ images: [(image: String, digest: String?, shared: Bool)], policy: Policy?, logger: Logger) async -> Int {
        guard var registry = pipeline.registry, let repository = policy.flatMap({ try? ImageReference(parsing: $0.image).repository }) else { return 0 }
        // A build in flight into the repository may be about to push one of these digests (a merge of the
        // pull request builds its very commit): its deployment names no image yet, so nothing is deleted now.
        if let history = try? await pipeline.store.deployments(inRepository: repository).history,
           let busy = history.first(where: { !$0.state.isFinal && $0.digest == nil }) {
            logger.info("a build into the repository is in flight; the preview's images are left to image retention",
                        metadata: ["busy.deployment.id": "\(busy.id)"])
            return 0
        }
        var deleted = 0
        for (image, digest, shared) in images {
            guard let reference = try? ImageReference(parsing: image) else { continue }
            let host = reference.registry ?? "docker.io"
            if let credentials = policy?.imageCredentials,
               let login = try? RegistryLogin.from(credentials, registry: host, reader: pipeline.secrets) {
                registry = registry.withLogin(login, at: host)
            }
            guard !shared else {
                if let tag = reference.tag {
                    do {
                        try await registry.deleteManifest(host: host, repository: reference.path, digest: tag)
                        deleted += 1
                    } catch {
                        logger.info("the registry keeps the preview's tag: its image is also another deployment's, and this registry cannot delete a tag alone",
                                    metadata: ["image.reference": "\(image)", "error": "\(error)"])
                    }
                }
                continue
            }
            guard let digest else { continue }
            do {
                try await registry.deleteManifest(host: host, repository: reference.path, digest: digest)
                deleted += 1
            } catch {
                logger.warning("preview image not deleted from the registry; image retention will", metadata: [
                    "image.reference": "\(image)", "error": "\(error)",
                ])
            }
        }
        return deleted
    }
}
