import Foundation
import Logging
import SlipwayCore
import SlipwayStore

/// Decides a push whose payload did not list its changed files (Bitbucket, truncated
/// lists, forced pushes): fetches the mirror, diffs before..after with libgit2, and
/// deploys the services whose `source.paths` the diff touches. The rest get their reason.
struct PathsHandler: JobHandler {
    let pipeline: Pipeline
    var kind: JobKind { .paths }

    func run(_ job: ClaimedJob, logger: Logger) async throws {
        let store = pipeline.store
        guard let rowID = job.payload["delivery"].flatMap(Int64.init) else {
            throw PermanentJobError("paths job \(job.id) names no delivery")
        }
        var logger = logger
        logger[metadataKey: "webhook.delivery_row"] = "\(rowID)"
        let services = (job.payload["services"] ?? "").split(separator: ",").map(String.init)
        guard let event = try await store.delivery(rowID) else {
            logger.warning("the delivery is gone (pruned); nothing to decide")
            return
        }
        let routes = try await store.routes().filter { services.contains($0.service) }
        let outcomes = try await decide(event: event, services: services, routes: routes, logger: logger)
        let deployments = try await store.resolveDelivery(rowID, event: event, outcomes: outcomes)
        logger.info("push decided from its changed files", metadata: [
            "git.sha": "\(event.after ?? "-")", "deployments.count": "\(deployments.count)",
            "services.waiting": "\(services.count)",
        ])
    }

    func decide(event: NormalizedEvent, services: [String], routes: [EventMatching.Route],
                logger: Logger) async throws -> [EventMatching.Outcome] {
        guard let after = event.after, let repo = routes.first?.repo else {
            return services.map { .skip(service: $0, reason: "the service's policy was removed before its changed files were known") }
        }
        let pending = services.map { EventMatching.Outcome.awaitChangedPaths(service: $0, sha: after) }
        try await pipeline.git.fetch(repo, logger: logger)
        do {
            _ = try await pipeline.git.resolve(after, in: repo)
        } catch {
            return services.map {
                .skip(service: $0, reason: "commit \(after.prefix(12)) is no longer in the repository (a later push rewrote the branch)")
            }
        }
        guard let before = event.before,
              let changed = try await pipeline.git.changedPaths(from: before, to: after, in: repo) else {
            // The old head is gone (a forced push): nothing to compare with, so the push deploys.
            logger.notice("the push's old head is not in the repository; deploying without a path check",
                          metadata: ["git.before": "\(event.before ?? "-")"])
            return pending.map { .deploy(service: $0.service, sha: after) }
        }
        return EventMatching.resolve(pending, routes: routes, before: before, changedPaths: changed)
    }
}
