import Foundation
import Logging
import SlipwayCore
import SlipwayGit
import SlipwayStore

/// Decides a pull request event for the services it concerns: opened, reopened or new
/// commits → fetch the head by its pull-request ref, check the policy's paths against what
/// the pull request changes, and build it as the preview; closed or merged → close the
/// preview and queue its teardown. Every service gets its outcome on the delivery.
struct PreviewHandler: JobHandler {
    let pipeline: Pipeline
    var kind: JobKind { .preview }

    func run(_ job: ClaimedJob, logger: Logger) async throws {
        let store = pipeline.store
        guard let rowID = job.payload["delivery"].flatMap(Int64.init) else {
            throw PermanentJobError("preview job \(job.id) names no delivery")
        }
        var logger = logger
        logger[metadataKey: "webhook.delivery_row"] = "\(rowID)"
        let services = (job.payload["services"] ?? "").split(separator: ",").map(String.init)
        guard let event = try await store.delivery(rowID), let pull = event.pullRequest else {
            logger.warning("the delivery is gone (pruned) or names no pull request; nothing to decide")
            return
        }
        logger[metadataKey: "pull_request.number"] = "\(pull.number)"
        var detail: [String: String] = [:]
        var built = false
        for service in services {
            let target = DeploymentTarget(service: service, environment: .pullRequest(pull.number))
            switch pull.action {
            case .closed, .merged:
                let reason = "pull request #\(pull.number) was \(pull.action == .merged ? "merged" : "closed")"
                let closed = try await store.closePreview(target, reason: reason, cause: .webhook(deliveryRowID: rowID))
                detail[service] = closed ? "preview closed (\(reason)); tearing it down" : "no open preview of pull request #\(pull.number); nothing to tear down"
                logger.info("pull request closed", metadata: ["service.name": "\(service)", "preview.closed": "\(closed)"])
            case .opened, .reopened, .updated:
                switch try await open(service: service, event: event, pull: pull, rowID: rowID,
                                      lastAttempt: job.attempts >= job.maxAttempts, logger: logger) {
                case .deployed(let id, let sha):
                    built = true
                    detail[service] = "preview deployment \(id) of \(sha.prefix(12))"
                case .skipped(let reason):
                    detail[service] = "skipped because \(reason)"
                }
            }
        }
        let outcome = pull.action == .closed || pull.action == .merged ? "queued" : built ? "queued" : "skipped"
        try await store.recordPreviewOutcome(rowID, outcome: outcome, detail: detail)
    }

    enum Opened {
        case deployed(Int64, sha: String)
        case skipped(String)
    }

    /// - Parameter lastAttempt: a repository that cannot be fetched is tried again by the queue;
    ///   on the last attempt the delivery says why instead.
    func open(service: String, event: NormalizedEvent, pull: NormalizedEvent.PullRequest, rowID: Int64, lastAttempt: Bool,
              logger: Logger) async throws -> Opened {
        let store = pipeline.store
        var log = logger
        log[metadataKey: "service.name"] = "\(service)"
        // The policy as it is now: previews or forks may have been switched off since the webhook came.
        guard let row = try await store.service(named: service) else { return .skipped("service \(service) is no longer declared by a policy") }
        let policy = row.policy
        guard policy.previews.enabled else { return .skipped("previews are off for this service (previews.enabled is false)") }
        let fork = PreviewRules.isFork(headCloneURL: pull.headCloneURL, repositoryURLs: event.repository?.urls ?? [])
        if fork && !policy.previews.forks {
            return .skipped("pull request #\(pull.number) comes from another repository; previews.forks is false, so a fork's code is not built")
        }
        guard let eventHead = pull.headSHA else { return .skipped("pull request #\(pull.number) event names no head commit") }
        let repo: RepoURL
        do { repo = try RepoURL(policy.source.repo) } catch { return .skipped("the policy's source.repo is invalid: \(error)") }
        guard let (ref, source) = PreviewRules.headRef(provider: event.provider, number: pull.number, branch: pull.headBranch,
                                                     fork: fork, headCloneURL: pull.headCloneURL) else {
            return .skipped("pull request #\(pull.number) names no source branch to fetch its head from")
        }
        // The base branch too: what the pull request changes is computed against it.
        do {
            try await pipeline.git.fetch(repo, logger: log)
        } catch let error as GitError where lastAttempt {
            return .skipped("\(policy.source.repo) could not be fetched (\(error.message)); push a new commit to the pull request to try again")
        }
        let local = PreviewRules.localRef(number: pull.number)
        var fetchRef = ref, fetchURL = source
        var refHead: String
        do {
            refHead = try await pipeline.git.fetchPullRequest(repo, ref: ref, from: source, as: local, logger: log)
        } catch let error as GitError {
            // No pull-request ref (yet): the source branch of the repository itself, when the head is there.
            guard let branchRef = PreviewRules.branchRef(branch: pull.headBranch, fork: fork), branchRef != ref,
                  let head = try? await pipeline.git.fetchPullRequest(repo, ref: branchRef, from: nil, as: local, logger: log) else {
                log.warning("pull request head not fetched", metadata: ["git.ref": "\(ref)", "error": "\(error)"])
                return .skipped("the head of pull request #\(pull.number) could not be fetched (\(ref)): \(error.message)")
            }
            (refHead, fetchRef, fetchURL) = (head, branchRef, nil)
        }
        // Bitbucket Cloud names the head by 12 characters: the fetched ref gives the full SHA.
        var sha = PreviewRules.fullSHA(eventHead: eventHead, refHead: refHead)
        if sha == nil { sha = try? await pipeline.git.resolve(eventHead, in: repo) }
        guard let sha else {
            return .skipped("commit \(eventHead.prefix(12)) of pull request #\(pull.number) is not in its fetched head (\(fetchRef) is at \(refHead.prefix(12)))")
        }
        if let reason = try await pathsReason(policy: policy, service: service, base: pull.baseBranch, sha: sha, repo: repo) {
            return .skipped(reason)
        }
        let head = PullRequestHead(number: pull.number, branch: pull.headBranch, sha: sha, fork: fork)
        let preview = PreviewRules.policy(policy, head: head)
        let url = policy.previews.url.map { PreviewRules.url(template: $0, number: pull.number, service: service, branch: pull.headBranch) }
        let opened = try await store.openPreview(PreviewOpening(
            service: service, head: head, sha: sha, headURL: fetchURL, fetchRef: fetchRef, url: url, deliveryRowID: rowID, policy: preview))
        for closure in opened.evicted {
            log.notice("preview closed to stay within previews.count", metadata: ["preview": "\(closure.target)", "reason": "\(closure.reason)"])
        }
        guard let id = opened.deploymentID else { return .skipped(opened.reason ?? "nothing new to deploy") }
        log.info("preview queued", metadata: ["deployment.id": "\(id)", "git.sha": "\(sha)", "git.ref": "\(fetchRef)"])
        return .deployed(id, sha: sha)
    }

    /// With `source.paths`, a preview is built only when the pull request (its head against
    /// where it branched off the base) changes a file the paths take.
    func pathsReason(policy: Policy, service: String, base: String?, sha: String, repo: RepoURL) async throws -> String? {
        guard !policy.source.paths.isEmpty else { return nil }
        let baseBranch = base ?? policy.source.branch
        guard let baseHead = try await pipeline.git.branchHead(baseBranch, in: repo),
              let forkPoint = try await pipeline.git.mergeBase(baseHead, sha, in: repo),
              let changed = try await pipeline.git.changedPaths(from: forkPoint, to: sha, in: repo) else {
            return nil  // nothing to compare with: build it
        }
        let route = EventMatching.Route(service: service, repo: repo, branch: baseBranch, paths: policy.source.paths)
        let outcome = EventMatching.resolve([.awaitChangedPaths(service: service, sha: sha)], routes: [route], before: forkPoint,
                                            changedPaths: changed)
        if case .skip(_, let reason) = outcome.first {
            return reason.replacingOccurrences(of: "the push changed", with: "the pull request changes")
        }
        return nil
    }
}
