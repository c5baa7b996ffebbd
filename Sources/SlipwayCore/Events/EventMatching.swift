/// Which services a push deploys, and why the others do not. Every service gets an
/// answer, so "why didn't my push deploy?" is never met with silence.
public enum EventMatching {
    public struct Route: Sendable, Hashable {
        public var service: String
        public var repo: RepoURL
        public var branch: String
        public init(service: String, repo: RepoURL, branch: String) {
            self.service = service
            self.repo = repo
            self.branch = branch
        }
    }

    public enum Outcome: Sendable, Hashable {
        case deploy(service: String, sha: String)
        case skip(service: String, reason: String)

        public var service: String {
            switch self {
            case .deploy(let s, _), .skip(let s, _): s
            }
        }
    }

    static let zeroSHA = String(repeating: "0", count: 40)

    /// Outcomes for the services whose repository the event is about; services of
    /// other repositories are not mentioned (they are not "skipped", just unrelated).
    public static func outcomes(for event: NormalizedEvent, routes: [Route]) -> [Outcome] {
        guard let url = event.repository?.cloneURL, let repo = try? RepoURL(url) else { return [] }
        let related = routes.filter { $0.repo.key == repo.key }.sorted { $0.service < $1.service }
        return related.map { route in
            switch event.kind {
            case .push:
                guard event.branch == route.branch else {
                    return .skip(service: route.service,
                                 reason: "push to branch \(event.branch ?? "?"); the policy tracks \(route.branch)")
                }
                if event.deleted == true || event.after == nil || event.after == zeroSHA {
                    return .skip(service: route.service, reason: "branch \(route.branch) was deleted")
                }
                return .deploy(service: route.service, sha: event.after!)
            case .tag:
                return .skip(service: route.service, reason: "tag \(event.tag ?? "?") pushed; tags do not deploy")
            case .pullRequest:
                return .skip(service: route.service, reason: "pull request events do not deploy (previews are off)")
            case .ping, .ignored:
                return .skip(service: route.service, reason: "\(event.event) events do not deploy")
            }
        }
    }

    /// One word for what became of a delivery, and a line per related service.
    public static func summary(for event: NormalizedEvent, outcomes: [Outcome]) -> (outcome: String, detail: [String: String]) {
        let detail = Dictionary(uniqueKeysWithValues: outcomes.map { outcome -> (String, String) in
            switch outcome {
            case .deploy(let service, let sha): (service, "deploy \(sha)")
            case .skip(let service, let reason): (service, "skipped because \(reason)")
            }
        })
        let outcome: String
        if event.kind == .ignored {
            outcome = "ignored"
        } else if outcomes.isEmpty {
            outcome = event.kind == .push ? "unmatched" : "ignored"
        } else {
            outcome = outcomes.contains { if case .deploy = $0 { true } else { false } } ? "queued" : "skipped"
        }
        return (outcome, detail)
    }
}
