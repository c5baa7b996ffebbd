/// Which services a push deploys, and why the others do not. Every service gets an
/// answer, so "why didn't my push deploy?" is never met with silence.
public enum EventMatching {
    public struct Route: Sendable, Hashable {
        public var service: String
        public var repo: RepoURL
        public var branch: String
        public var paths: PathFilter
        /// The repository's own webhook secret (`source.webhookSecret`), when the policy names one.
        public var webhookSecret: SecretReference?
        /// What the policy says about pull-request previews.
        public var previews: Policy.Previews
        public init(service: String, repo: RepoURL, branch: String, paths: [String] = [], webhookSecret: SecretReference? = nil,
                    previews: Policy.Previews = Policy.Previews()) {
            self.webhookSecret = webhookSecret
            self.previews = previews
            self.service = service
            self.repo = repo
            self.branch = branch
            self.paths = PathFilter(paths)
        }
    }

    public enum Outcome: Sendable, Hashable {
        case deploy(service: String, sha: String)
        case skip(service: String, reason: String)
        /// The service has `source.paths` and the payload does not list the changed
        /// files: they are computed with git before deciding.
        case awaitChangedPaths(service: String, sha: String)
        /// A pull request event for a service with previews: decided by a `preview` job,
        /// which fetches the head by its pull-request ref (or tears the preview down).
        case preview(service: String, number: Int)

        public var service: String {
            switch self {
            case .deploy(let s, _), .skip(let s, _), .awaitChangedPaths(let s, _), .preview(let s, _): s
            }
        }
    }

    static let zeroSHA = String(repeating: "0", count: 40)

    /// What vouches for an event.
    public enum Proof: Sendable, Hashable {
        /// Slipway saw it itself (a poll of the remote).
        case observed
        /// Signed with the provider-wide secret (SLIPWAY_WEBHOOK_SECRET_*).
        case shared
        /// Signed with the own secret (`source.webhookSecret`) of repositories: the references
        /// whose value verified, and the keys of the repositories whose policies name them.
        case repository(references: Set<String>, keys: Set<String>)

        /// Whether this proof may deploy `route`: a repository with its own secret only with
        /// that secret; one without, with the shared secret or a secret of its own repository.
        func admits(_ route: Route) -> Bool {
            switch self {
            case .observed: true
            case .shared: route.webhookSecret == nil
            case .repository(let references, let keys):
                keys.contains(route.repo.key) && route.webhookSecret.map { references.contains($0.description) } ?? true
            }
        }
    }

    /// Outcomes for the services whose repository the event is about; services of
    /// other repositories are not mentioned (they are not "skipped", just unrelated).
    public static func outcomes(for event: NormalizedEvent, routes: [Route], proof: Proof = .observed) -> [Outcome] {
        let keys = Set((event.repository?.urls ?? []).compactMap { try? RepoURL($0).key })
        guard !keys.isEmpty else { return [] }
        let related = routes.filter { keys.contains($0.repo.key) }.sorted { $0.service < $1.service }
        // Paths are compared exactly (`Team/App` and `team/app` may be two repositories); a
        // policy that differs only in case is told so rather than left silent.
        let folded = Set(keys.map { $0.lowercased() })
        let caseOnly = routes.filter { !keys.contains($0.repo.key) && folded.contains($0.repo.key.lowercased()) }
            .sorted { $0.service < $1.service }
            .map { route in
                Outcome.skip(service: route.service, reason: "the policy's source.repo (\(route.repo.key)) differs from the pushed repository "
                             + "(\(keys.sorted().joined(separator: ", "))) only in letter case; repository paths are compared exactly: write it as the provider does")
            }
        // Sorting the file list only pays off when some service filters by paths.
        let changed = related.contains { !$0.paths.isEmpty } ? event.changedPaths.map(ChangedFiles.init) : nil
        return caseOnly + related.map { route in
            guard proof.admits(route) else {
                return .skip(service: route.service, reason: route.webhookSecret != nil
                    ? "the policy sets source.webhookSecret and this delivery was not signed with it (the provider-wide secret does not deploy this service)"
                    : "the delivery was signed with another repository's own secret")
            }
            switch event.kind {
            case .push:
                guard event.branch == route.branch else {
                    return .skip(service: route.service,
                                 reason: "push to branch \(event.branch ?? "?"); the policy tracks \(route.branch)")
                }
                if event.deleted == true {
                    return .skip(service: route.service, reason: "branch \(route.branch) was deleted")
                }
                guard let sha = event.after, sha != zeroSHA else {
                    return .skip(service: route.service,
                                 reason: "the \(event.event) event names no commit; the push event for it deploys")
                }
                return pathOutcome(route: route, sha: sha, before: event.before, changed: changed)
            case .tag:
                return .skip(service: route.service, reason: "tag \(event.tag ?? "?") pushed; tags do not deploy")
            case .pullRequest:
                return previewOutcome(route: route, event: event)
            case .ping, .ignored:
                return .skip(service: route.service, reason: "\(event.event) events do not deploy")
            }
        }
    }

    /// A pull request opened, updated or reopened builds a preview where the policy allows
    /// it; one closed or merged always goes to the preview job, which tears down whatever
    /// preview there is (previews may have been switched off since it opened).
    static func previewOutcome(route: Route, event: NormalizedEvent) -> Outcome {
        guard let pull = event.pullRequest else {
            return .skip(service: route.service, reason: "the \(event.event) event names no pull request")
        }
        if let refusal = PreviewRules.refusal(number: pull.number) { return .skip(service: route.service, reason: refusal) }
        switch pull.action {
        case .closed, .merged:
            return .preview(service: route.service, number: pull.number)
        case .opened, .reopened, .updated:
            guard route.previews.enabled else {
                return .skip(service: route.service, reason: "previews are off for this service (previews.enabled is false)")
            }
            if !route.previews.forks, PreviewRules.isFork(headCloneURL: pull.headCloneURL, repositoryURLs: event.repository?.urls ?? []) {
                return .skip(service: route.service, reason: "pull request #\(pull.number) comes from another repository "
                             + "(\(Terminal.printable(pull.headCloneURL ?? "?", limit: 120))); previews.forks is false, so a fork's code is not built")
            }
            guard pull.headSHA != nil else {
                return .skip(service: route.service, reason: "pull request #\(pull.number) event names no head commit")
            }
            return .preview(service: route.service, number: pull.number)
        }
    }

    /// With `source.paths`, a push deploys only when it changed a file the paths take.
    /// A new branch has nothing to compare with, so it deploys.
    static func pathOutcome(route: Route, sha: String, before: String?, changed: ChangedFiles?) -> Outcome {
        guard !route.paths.isEmpty, let before, before != zeroSHA else { return .deploy(service: route.service, sha: sha) }
        guard let changed else { return .awaitChangedPaths(service: route.service, sha: sha) }
        if route.paths.firstMatch(in: changed) != nil { return .deploy(service: route.service, sha: sha) }
        return .skip(service: route.service, reason: noPathReason(route.paths, changed))
    }

    static func noPathReason(_ paths: PathFilter, _ changed: ChangedFiles) -> String {
        let listed = paths.texts.map { "`\($0)`" }.joined(separator: ", ")
        guard let example = changed.first else { return "the push changed no files; the policy's paths are \(listed)" }
        let files = changed.count == 1 ? "1 file changed (\(example))" : "\(changed.count) files changed (e.g. \(example))"
        return "no changed file is under the policy's paths \(listed); \(files)"
    }

    /// Decides the services that waited for their changed files, now that they are known.
    public static func resolve(_ pending: [Outcome], routes: [Route], before: String?, changedPaths: [String]) -> [Outcome] {
        let changed = ChangedFiles(changedPaths)
        let byService = Dictionary(routes.map { ($0.service, $0) }, uniquingKeysWith: { first, _ in first })
        return pending.map { outcome in
            guard case .awaitChangedPaths(let service, let sha) = outcome else { return outcome }
            guard let route = byService[service] else {
                return .skip(service: service, reason: "the service's policy was removed before its changed files were known")
            }
            return pathOutcome(route: route, sha: sha, before: before, changed: changed)
        }
    }

    /// One word for what became of a delivery, and a line per related service.
    public static func summary(for event: NormalizedEvent, outcomes: [Outcome]) -> (outcome: String, detail: [String: String]) {
        let detail = Dictionary(uniqueKeysWithValues: outcomes.map { outcome -> (String, String) in
            switch outcome {
            case .deploy(let service, let sha): (service, "deploy \(sha)")
            case .skip(let service, let reason): (service, "skipped because \(reason)")
            case .awaitChangedPaths(let service, let sha):
                (service, "waiting: the payload does not list the changed files; computing them with git for \(sha)")
            case .preview(let service, let number):
                (service, event.pullRequest.map { $0.action == .closed || $0.action == .merged } == true
                    ? "tearing down the preview of pull request #\(number)"
                    : "preview of pull request #\(number): its head is fetched, then built")
            }
        })
        let outcome: String
        if event.kind == .ignored {
            outcome = "ignored"
        } else if outcomes.isEmpty {
            outcome = event.kind == .push ? "unmatched" : "ignored"
        } else {
            let deploys = outcomes.contains { if case .deploy = $0 { true } else if case .preview = $0 { true } else { false } }
            let waits = outcomes.contains { if case .awaitChangedPaths = $0 { true } else { false } }
            outcome = deploys ? "queued" : waits ? "matching" : "skipped"
        }
        return (outcome, detail)
    }
}
