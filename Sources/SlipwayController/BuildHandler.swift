import Foundation
import Logging
import SlipwayBuild
import SlipwayCore
import SlipwayDocker
import SlipwayGit
import SlipwayRegistry
import SlipwayStore

/// Fetch → checkout → build → push, then queue the rollout. A failure here leaves the
/// running revision alone and fails the deployment with the build log's tail.
struct BuildHandler: JobHandler {
    let pipeline: Pipeline
    var kind: JobKind { .build }

    static let logTailLines = 15

    func run(_ job: ClaimedJob, logger: Logger) async throws {
        guard let id = job.deploymentID else { throw PermanentJobError("build job without a deployment") }
        let store = pipeline.store
        let deployment = try await store.deployment(id)
        guard !deployment.record.state.isFinal else {
            logger.info("deployment already ended; nothing to build", metadata: ["deployment.state": "\(deployment.record.state.rawValue)"])
            return
        }
        let policy = deployment.policy
        let log = DeploymentLog(store: store, deploymentID: id, logger: logger, attempt: job.attempts)
        // A build run again after it finished (its lease lost as it completed) finds it rolling out: nothing to build.
        guard try await store.transition(id, to: .building) else {
            logger.info("deployment is past its build; nothing to build", metadata: ["deployment.state": "\(deployment.record.state.rawValue)"])
            return
        }

        let repo: RepoURL
        do { repo = try RepoURL(policy.source.repo) } catch {
            try await fail(id, "the policy's source.repo is invalid: \(error)", logger: logger)
            return
        }

        let workDir = "\(pipeline.workDirectory)/\(id)-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: workDir) }
        let sha: String
        do {
            // A commit is named by hex digits only: anything else would be resolved as a branch.
            if let named = deployment.record.sha, named.isEmpty || !named.unicodeScalars.allSatisfy(\.properties.isASCIIHexDigit) {
                try await fail(id, "`\(Terminal.printable(named, limit: 80))` is not a commit SHA; nothing was built: "
                               + "deploy a commit by its SHA (`slipway deploy \(deployment.record.service) --sha SHA`)", logger: logger)
                return
            }
            await log.note("fetching \(policy.source.repo)")
            try await pipeline.git.fetch(repo, logger: logger)
            if case .pullRequest(let number) = deployment.record.environment {
                // The head of a pull request is not on a branch of the repository: fetched by the preview's ref.
                guard let source = try await store.previewSource(deployment.record.target), source.open else {
                    try await store.transition(id, to: .cancelled, reason: "pull request #\(number) is closed; its preview is not built")
                    return
                }
                await log.note("fetching \(source.fetchRef)\(source.headURL.map { " from \($0)" } ?? "")")
                _ = try await pipeline.git.fetchPullRequest(repo, ref: source.fetchRef, from: source.headURL,
                                                            as: PreviewRules.localRef(number: number), logger: logger)
            }
            sha = try await pipeline.git.resolve(deployment.record.sha ?? policy.source.branch, in: repo)
            if deployment.record.sha != sha { try await store.setSHA(id, sha: sha) }
            if deployment.record.trigger == .push {
                let branch = deployment.record.branch ?? policy.source.branch
                switch try await verifyPush(id, sha: sha, branch: branch, service: deployment.record.service, repo: repo) {
                case .deploy:
                    try await store.markPushVerified(id)
                    await log.note("branch \(branch) is at \(RolloutDecisions.shortSHA(sha)) in the repository, as the push said")
                case .supersede(let reason):
                    logger.info("push superseded by the branch's newer head", metadata: ["reason": "\(reason)"])
                    await log.note(reason)
                    try await store.refusePush(id, state: .superseded, reason: reason)
                    return
                case .refuse(let reason):
                    logger.warning("push refused: the repository does not confirm it", metadata: ["reason": "\(reason)"])
                    try await store.appendLogs(id, stream: "build", lines: ["REFUSED: " + reason])
                    try await store.refusePush(id, state: .failed, reason: reason)
                    return
                }
            }
            await log.note("checking out \(sha)")
            try await pipeline.git.checkout(sha, of: repo, into: workDir)
            try await store.addEvent(id, kind: "stage", key: DeploymentTimeline.Mark.fetched.rawValue, message: "fetched \(RolloutDecisions.shortSHA(sha))")
            // Who wrote it and what it says, for notifications; missing them never stops a build.
            if let summary = try? await pipeline.git.commitSummary(sha, in: repo) {
                try? await store.setCommitSummary(id, author: summary.author, subject: summary.subject)
            }
        } catch let error as GitError {
            // A server that is down or slow may be back: the queue tries again. Refused credentials,
            // an unknown host key or a missing commit fail now, as no retry can change them.
            if error.retryable && job.attempts < job.maxAttempts {
                await log.note("fetching failed (attempt \(job.attempts) of \(job.maxAttempts)); trying again: \(error.message)")
                throw error
            }
            try await fail(id, "fetching the source failed: \(error)", logger: logger)
            return
        }

        var sourceLogger = logger
        sourceLogger[metadataKey: "git.sha"] = "\(sha)"
        let contextDirectory = policy.build.context == "." ? workDir : "\(workDir)/\(policy.build.context)"
        var dockerfile = policy.build.dockerfile ?? defaultDockerfile(in: workDir, context: policy.build.context)
        let paths = CheckoutPaths(checkout: workDir, context: policy.build.context)
        if let problem = paths.problem(dockerfile: dockerfile) {
            try await fail(id, "\(problem) (at \(RolloutDecisions.shortSHA(sha)))", logger: sourceLogger)
            return
        }
        if dockerfile == nil {
            switch await ZeroConfig(pipeline: pipeline, log: log).prepare(contextDirectory, checkout: workDir, policy: policy, deploymentID: id) {
            case .success(let generated):
                dockerfile = generated
                // The generated file's own ignore file (`Dockerfile.slipway.dockerignore`) may be in the repository too.
                if let problem = paths.problem(dockerfile: generated) {
                    try await fail(id, "\(problem) (at \(RolloutDecisions.shortSHA(sha)))", logger: sourceLogger)
                    return
                }
            case .failure(let problem):
                try await fail(id, "\(problem.description) (in \(policy.build.context) at \(RolloutDecisions.shortSHA(sha)))", logger: sourceLogger)
                return
            }
        }
        guard let dockerfile else { return }
        let tag: String
        if case .pullRequest(let number) = deployment.record.environment { tag = PreviewRules.imageTag(number: number, sha: sha) } else { tag = sha }
        let reference = try ImageReference(parsing: policy.image).withTag(tag)
        var request = BuildRequest(
            contextDirectory: contextDirectory,
            dockerfile: dockerfile, reference: reference, buildArgs: policy.build.args,
            network: pipeline.dockerNetwork, timeout: policy.build.timeout,
            target: policy.build.target, cache: policy.build.cache, platform: policy.build.platform, secrets: policy.build.secrets,
            secretReader: pipeline.secrets, checkoutDirectory: workDir)
        if let credentials = policy.imageCredentials {
            do {
                request.registryLogin = try RegistryLogin.from(credentials, registry: reference.registry, reader: pipeline.secrets)
            } catch {
                try await fail(id, "\(error)", logger: sourceLogger)
                return
            }
        }
        // The live revision's image carries the build cache: a builder that lost its own starts from it
        // (a preview's first build starts from the main environment's).
        let target = deployment.record.target
        let ownLive = try await store.liveDeploymentID(of: target)
        let mainLive = ownLive == nil ? try await store.liveDeploymentID(of: .main(target.service)) : nil
        if let live = ownLive ?? mainLive,
           let image = try await store.deployment(live).record.image, image.hasPrefix(reference.repository) {
            request.cacheFrom = [image]
        }
        sourceLogger.info("building image", metadata: ["image.reference": "\(reference)"])
        do {
            let built = try await pipeline.builder.build(request, observer: log)
            try await store.addEvent(id, kind: "stage", key: DeploymentTimeline.Mark.pushed.rawValue, message: "pushed \(built.reference)")
            await log.note("pushed \(built.reference)\(built.digest.map { " (\($0))" } ?? "")")
            if let problem = await verify(built, login: request.registryLogin, log: log) {
                try await fail(id, problem, logger: sourceLogger)
                return
            }
            try await store.finishBuild(id, service: target.service, environment: target.environment, policy: policy, sha: sha, image: built.reference, digest: built.digest)
            sourceLogger.info("image pushed", metadata: ["image.digest": "\(built.digest ?? "?")"])
        } catch let failure as BuildFailure where failure.transient && job.attempts < job.maxAttempts {
            // The registry or builder could not be reached: the queue tries again after a backoff.
            await log.note("\(failure); trying again (attempt \(job.attempts) of \(job.maxAttempts))")
            sourceLogger.warning("build failed for now; retrying", metadata: ["reason": "\(failure)"])
            throw failure
        } catch let failure as BuildFailure {
            let tail = try await store.logTail(id, stream: "build", count: Self.logTailLines)
            try await fail(id, "\(failure)\n" + tail.joined(separator: "\n"), logger: sourceLogger)
        } catch let error as TarArchive.TooLarge {
            try await fail(id, "\(error)", logger: sourceLogger)
        }
    }

    /// Asks the fetched mirror whether the push is what the repository says (`PushVerification`).
    func verifyPush(_ id: Int64, sha: String, branch: String, service: String, repo: RepoURL) async throws -> PushVerification.Verdict {
        let git = pipeline.git
        let head = try await git.branchHead(branch, in: repo)
        var facts = PushVerification.Facts(sha: sha, branch: branch, head: head)
        if let head, head != sha { facts.shaIsAncestorOfHead = try await git.isAncestor(sha, of: head, in: repo) }
        if let liveID = try await pipeline.store.liveDeploymentID(of: .main(service)) {
            let live = try await pipeline.store.deployment(liveID).record
            if let liveSHA = live.sha {
                facts.live = liveSHA
                facts.shaIsAncestorOfLive = try await git.isAncestor(sha, of: liveSHA, in: repo)
            }
            facts.replacedByOperator = PushVerification.replacement(of: sha, pushing: id, live: live,
                                                                    history: try await pipeline.store.history(service: service).map(\.record))
        }
        if let before = try await pipeline.store.pushedBefore(deploymentID: id) {
            facts.before = before
            facts.beforeIsAncestorOfSHA = try await git.isAncestor(before, of: sha, in: repo)
        }
        return PushVerification.decide(facts, service: service)
    }

    /// Asks the registry what the pushed tag points at: a different digest means another
    /// push won the tag (or the registry lost it), and rolling it out would run the wrong image.
    /// A registry that cannot be asked is noted, not fatal: the engine's push succeeded.
    func verify(_ built: BuiltImage, login: RegistryLogin?, log: DeploymentLog) async -> String? {
        guard var registry = pipeline.registry, let digest = built.digest, let reference = try? ImageReference(parsing: built.reference),
              let tag = reference.tag else { return nil }
        if let login, !login.isAnonymous { registry = registry.withLogin(login, at: reference.registry ?? "docker.io") }
        do {
            let held = try await registry.manifestDigest(host: reference.registry ?? "docker.io", repository: reference.path, reference: tag)
            guard held == digest else {
                return "push failed: the registry holds \(held ?? "nothing") for \(built.reference), not the pushed \(digest); another push took the tag or the registry lost the image; deploy again"
            }
            await log.note("registry confirms \(tag) is \(digest)")
        } catch {
            await log.note("the registry was not asked to confirm the push: \(error)")
        }
        return nil
    }

    /// Without `build.dockerfile`, a `Dockerfile` at the context root is used (a link to one
    /// counts, and is then checked like any other path the build reads).
    func defaultDockerfile(in workDir: String, context: String) -> String? {
        let path = context == "." ? "\(workDir)/Dockerfile" : "\(workDir)/\(context)/Dockerfile"
        var info = stat()
        return lstat(path, &info) == 0 ? "Dockerfile" : nil
    }

    func fail(_ id: Int64, _ reason: String, logger: Logger) async throws {
        logger.warning("build failed", metadata: ["reason": "\(reason.prefix(300))"])
        try await pipeline.store.appendLogs(id, stream: "build", lines: ["FAILED: " + (reason.split(separator: "\n").first.map(String.init) ?? reason)])
        try await pipeline.store.transition(id, to: .failed, reason: reason)
    }
}
