import SlipwayCore
import Testing

@Suite struct EventMatchingTests {
    let routes = [
        EventMatching.Route(service: "web", repo: try! RepoURL("https://github.com/acme/shop.git"), branch: "main"),
        EventMatching.Route(service: "worker", repo: try! RepoURL("git@github.com:acme/shop.git"), branch: "release"),
        EventMatching.Route(service: "blog", repo: try! RepoURL("https://github.com/acme/blog.git"), branch: "main"),
    ]
    let sha = String(repeating: "a", count: 40)

    func push(_ branch: String, url: String = "https://github.com/acme/shop.git", deleted: Bool = false) -> NormalizedEvent {
        NormalizedEvent(provider: .github, kind: .push, event: "push",
                        repository: .init(fullName: "acme/shop", cloneURL: url), ref: "refs/heads/\(branch)",
                        branch: branch, after: deleted ? String(repeating: "0", count: 40) : sha, deleted: deleted)
    }

    @Test func pushDeploysTheServicesTrackingThatBranchAndSaysWhyNotTheOthers() {
        let outcomes = EventMatching.outcomes(for: push("main"), routes: routes)
        #expect(outcomes == [
            .deploy(service: "web", sha: sha),
            .skip(service: "worker", reason: "push to branch main; the policy tracks release"),
        ])
    }

    /// `Team/App` and `team/app` may be two repositories: a policy differing only in case is told why it did not deploy.
    @Test func pathsAreComparedExactlyAndACaseOnlyDifferenceIsNamed() {
        let outcomes = EventMatching.outcomes(for: push("main", url: "https://github.com/Acme/Shop.git"), routes: routes)
        #expect(!outcomes.contains { if case .deploy = $0 { true } else { false } })
        #expect(outcomes.count == 2)
        #expect(outcomes.allSatisfy { if case .skip(_, let reason) = $0 { reason.contains("only in letter case") } else { false } })
    }

    @Test func sshAndHttpsFormsMatch() {
        let outcomes = EventMatching.outcomes(for: push("release", url: "git@github.com:acme/shop.git"), routes: routes)
        #expect(outcomes.contains(.deploy(service: "worker", sha: sha)))
    }

    @Test func deletedBranchDeploysNothing() {
        let outcomes = EventMatching.outcomes(for: push("main", deleted: true), routes: routes)
        #expect(outcomes == [
            .skip(service: "web", reason: "branch main was deleted"),
            .skip(service: "worker", reason: "push to branch main; the policy tracks release"),
        ])
    }

    @Test func otherRepositoriesAreUnrelated() {
        #expect(EventMatching.outcomes(for: push("main", url: "https://github.com/acme/other.git"), routes: routes).isEmpty)
    }

    @Test func tagsAreRecordedNotDeployed() {
        var tag = push("main")
        tag.kind = .tag
        tag.branch = nil
        tag.tag = "v1.0"
        let outcomes = EventMatching.outcomes(for: tag, routes: routes)
        #expect(outcomes.allSatisfy { if case .skip = $0 { true } else { false } })
        #expect(outcomes.count == 2)
    }

    @Test func summaries() {
        let event = push("main")
        let outcomes = EventMatching.outcomes(for: event, routes: routes)
        let summary = EventMatching.summary(for: event, outcomes: outcomes)
        #expect(summary.outcome == "queued")
        #expect(summary.detail == ["web": "deploy \(sha)", "worker": "skipped because push to branch main; the policy tracks release"])
        #expect(EventMatching.summary(for: push("dev"), outcomes: EventMatching.outcomes(for: push("dev"), routes: routes)).outcome == "skipped")
        #expect(EventMatching.summary(for: push("main", url: "https://example.com/x.git"), outcomes: []).outcome == "unmatched")
        var ignored = event
        ignored.kind = .ignored
        #expect(EventMatching.summary(for: ignored, outcomes: []).outcome == "ignored")
    }
}
