import Foundation
import SlipwayCore
import Testing

/// The preview rules, table-tested: which events open or close a preview, names and URLs,
/// the policy a preview runs under, and what the sweep closes.
@Suite struct PreviewRulesTests {
    static let repo = "https://github.com/acme/web.git"
    static let sha = String(repeating: "a1", count: 20)

    static func route(enabled: Bool = true, forks: Bool = false) throws -> EventMatching.Route {
        EventMatching.Route(service: "web", repo: try RepoURL(repo), branch: "main",
                            previews: Policy.Previews(enabled: enabled, forks: forks))
    }

    static func event(_ action: NormalizedEvent.PullRequest.Action, number: Int = 7, head: String? = sha,
                      headURL: String? = repo) -> NormalizedEvent {
        var event = NormalizedEvent(provider: .github, kind: .pullRequest, event: "pull_request",
                                    repository: .init(fullName: "acme/web", cloneURL: repo, otherURLs: ["git@github.com:acme/web.git"]))
        event.pullRequest = .init(number: number, action: action, headBranch: "feat", headSHA: head, baseBranch: "main", headCloneURL: headURL)
        return event
    }

    struct Row: Sendable, CustomStringConvertible {
        var name: String
        var event: NormalizedEvent
        var enabled = true
        var forks = false
        /// nil: a preview outcome; else the skip reason's expected fragment.
        var skip: String?
        var description: String { name }
    }

    static let rows: [Row] = [
        Row(name: "opened", event: event(.opened)),
        Row(name: "new commits", event: event(.updated)),
        Row(name: "reopened", event: event(.reopened)),
        Row(name: "closed goes to the job even with previews off", event: event(.closed), enabled: false),
        Row(name: "merged", event: event(.merged)),
        Row(name: "previews off", event: event(.opened), enabled: false, skip: "previews are off for this service (previews.enabled is false)"),
        Row(name: "fork", event: event(.opened, headURL: "https://github.com/mallory/web.git"), skip: "previews.forks is false"),
        Row(name: "fork allowed", event: event(.opened, headURL: "https://github.com/mallory/web.git"), forks: true),
        Row(name: "the ssh address is the same repository", event: event(.opened, headURL: "git@github.com:acme/web.git")),
        Row(name: "a head repository the event does not name is a fork", event: event(.opened, headURL: nil), skip: "previews.forks is false"),
        Row(name: "no head", event: event(.opened, head: nil), skip: "names no head commit"),
        Row(name: "number past 2^31", event: event(.opened, number: Int(Int32.max) + 1), skip: "out of range (1 to 2147483647)"),
        Row(name: "number zero", event: event(.closed, number: 0), skip: "out of range"),
    ]

    @Test(arguments: rows)
    func pullRequestEvents(_ row: Row) throws {
        let outcomes = EventMatching.outcomes(for: row.event, routes: [try Self.route(enabled: row.enabled, forks: row.forks)])
        #expect(outcomes.count == 1)
        switch (outcomes.first, row.skip) {
        case (.preview(let service, let number)?, nil):
            #expect(service == "web" && number == row.event.pullRequest?.number)
        case (.skip(_, let reason)?, let fragment?):
            #expect(reason.contains(fragment), "\(reason)")
        default:
            Issue.record("\(row.name): got \(outcomes)")
        }
    }

    @Test func aPreviewOutcomeIsQueuedOnTheDelivery() throws {
        let opened = Self.event(.opened)
        let outcomes = EventMatching.outcomes(for: opened, routes: [try Self.route()])
        let (word, detail) = EventMatching.summary(for: opened, outcomes: outcomes)
        #expect(word == "queued" && detail["web"] == "preview of pull request #7: its head is fetched, then built")
        let closed = Self.event(.closed)
        #expect(EventMatching.summary(for: closed, outcomes: EventMatching.outcomes(for: closed, routes: [try Self.route()])).detail["web"]
                == "tearing down the preview of pull request #7")
    }

    @Test(arguments: [
        (NormalizedEvent.Provider.github, false, "refs/pull/7/head", nil as String?),
        (.gitlab, false, "refs/merge-requests/7/head", nil),
        (.bitbucketServer, true, "refs/pull-requests/7/from", nil),
        (.bitbucket, false, "refs/heads/feat", nil),
        (.bitbucket, true, "refs/heads/feat", "https://bitbucket.org/mallory/web.git"),
    ])
    func theHeadIsFetchedByTheProvidersRef(_ provider: NormalizedEvent.Provider, _ fork: Bool, _ ref: String, _ url: String?) {
        let head = PreviewRules.headRef(provider: provider, number: 7, branch: "feat", fork: fork,
                                        headCloneURL: "https://bitbucket.org/mallory/web.git")
        #expect(head?.ref == ref && head?.url == url)
        #expect(PreviewRules.branchRef(branch: "feat", fork: true) == nil)
        #expect(PreviewRules.branchRef(branch: "feat", fork: false) == "refs/heads/feat")
    }

    @Test func aShortHashBecomesTheFetchedRefsFullSHA() {
        let full = "3f2a9c1d7e6b5a4c3d2e1f0a9b8c7d6e5f4a3b2c"
        #expect(PreviewRules.fullSHA(eventHead: "3f2a9c1d7e6b", refHead: full) == full)
        #expect(PreviewRules.fullSHA(eventHead: "3F2A9C1D7E6B", refHead: full) == full)
        #expect(PreviewRules.fullSHA(eventHead: "ffffffffffff", refHead: full) == nil)
    }

    @Test func longNamesAreShortenedStablyAndKeepTheirPullRequest() {
        let long = "slipway-" + String(repeating: "a", count: 40) + "-pr-2147483647"
        let short = PreviewRules.shortened(long, limit: 32)
        #expect(short.count == 32 && short.hasSuffix("-pr-2147483647"))
        #expect(short == PreviewRules.shortened(long, limit: 32))
        #expect(short != PreviewRules.shortened("slipway-" + String(repeating: "b", count: 40) + "-pr-2147483647", limit: 32))
        #expect(PreviewRules.shortened("web-pr-7", limit: 32) == "web-pr-7")
        #expect(DeploymentTarget(service: String(repeating: "s", count: 40), environment: .pullRequest(PreviewRules.maxNumber)).runtimeName.count <= 63)
    }

    @Test(arguments: [
        ("feature/login", "feature-login"),
        ("Fix: ünïcode & spaces", "fix-n-code-spaces"),
        ("---", "branch"),
        (String(repeating: "x", count: 300), nil as String?),
    ])
    func branchesBecomeDNSLabels(_ branch: String, _ expected: String?) {
        let slug = PreviewRules.slug(branch)
        #expect(slug.count <= 63 && slug.allSatisfy { $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "-") })
        if let expected { #expect(slug == expected) }
    }

    @Test(arguments: [
        ("https://pr-{number}.{service}.preview.example.com", nil as String?),
        ("https://{branch}.{service}.dev.example.com/", nil),
        ("https://pr-{nubmer}.example.com", "unknown placeholder {nubmer} (did you mean {number}?)"),
        ("https://pr-{number.example.com", "unmatched `{`"),
        ("https://pr-}.example.com", "unmatched `}`"),
        ("pr-{number}.example.com", "not an http(s) URL"),
    ])
    func urlTemplates(_ template: String, _ problem: String?) {
        if let problem {
            #expect(PreviewRules.templateProblem(template)?.contains(problem) == true, "\(String(describing: PreviewRules.templateProblem(template)))")
        } else {
            #expect(PreviewRules.templateProblem(template) == nil)
        }
        #expect(PreviewRules.url(template: "https://pr-{number}.{service}.example.com/{branch}", number: 42, service: "web", branch: "Feat/X")
                == "https://pr-42.web.example.com/feat-x")
    }

    @Test func aPreviewTakesPreviewsEnvAndTheSlipwayVariablesAndAForkNoSecrets() {
        var base = Policy(service: "web", source: .init(repo: Self.repo), image: "r.example.com/web")
        base.deploy.env = ["LOG_LEVEL": "info", "A": "1"]
        base.previews.env = ["LOG_LEVEL": "debug"]
        base.build.args = ["NPM_TOKEN_NAME": "x"]
        base.build.secrets = ["npm": try! SecretReference(parsing: "env:SLIPWAY_SECRET_NPM")]
        let head = PullRequestHead(number: 9, branch: "feat", sha: Self.sha, fork: false)
        let own = PreviewRules.policy(base, head: head)
        #expect(own.deploy.env == ["LOG_LEVEL": "debug", "A": "1", "SLIPWAY_PREVIEW": "1", "SLIPWAY_PR_NUMBER": "9", "SLIPWAY_PR_BRANCH": "feat"])
        #expect(own.build.args == base.build.args && own.build.secrets == base.build.secrets)
        var forkHead = head
        forkHead.fork = true
        let fork = PreviewRules.policy(base, head: forkHead)
        #expect(fork.build.args.isEmpty && fork.build.secrets.isEmpty)
        var onECS = base
        onECS.deploy = .init(target: .ecs, ecs: .init(cluster: "c", secrets: ["DB": "arn:aws:ssm:us-east-1:1:parameter/db"],
                                                      taskRoleArn: "arn:aws:iam::1:role/web"))
        let forkOnECS = PreviewRules.policy(onECS, head: forkHead)
        #expect(forkOnECS.deploy.ecs?.secrets.isEmpty == true && forkOnECS.deploy.ecs?.taskRoleArn == nil)
        #expect(PreviewRules.policy(onECS, head: head).deploy.ecs?.taskRoleArn == "arn:aws:iam::1:role/web")
        base.previews.forkSecrets = true
        #expect(PreviewRules.policy(base, head: forkHead).build.secrets == base.build.secrets)
    }

    @Test func aDeclaredNameThatIsAnotherServicesPreviewIsACollision() {
        #expect(PreviewRules.collision("web-pr-3", previewing: ["web": true]) == "web")
        #expect(PreviewRules.collision("web-pr-3", previewing: ["web": false]) == nil)
        #expect(PreviewRules.collision("web-pr-x", previewing: ["web": true]) == nil)
        #expect(PreviewRules.collision("web-pr-", previewing: ["web": true]) == nil)
        #expect(PreviewRules.collision("api-pr-3", previewing: ["web": true]) == nil)
    }
}

@Suite struct PreviewSweepTests {
    static let now = Date(timeIntervalSince1970: 2_000_000_000)

    static func open(_ number: Int, service: String = "web", openedHoursAgo: Double, idleHours: Double) -> PreviewSweep.Open {
        .init(service: service, number: number, openedAt: now.addingTimeInterval(-openedHoursAgo * 3600),
              updatedAt: now.addingTimeInterval(-idleHours * 3600))
    }

    @Test func idlePreviewsPastTheTTLGoAndOnlyThey() {
        let settings = Policy.Previews(enabled: true, ttl: .seconds(72 * 3600), count: 5)
        let closures = PreviewSweep.closures(open: [Self.open(1, openedHoursAgo: 100, idleHours: 73), Self.open(2, openedHoursAgo: 100, idleHours: 71)],
                                             policies: ["web": settings], now: Self.now)
        #expect(closures.map(\.target.environment) == [.pullRequest(1)])
        #expect(closures[0].reason.hasPrefix("no new commit for 72h (previews.ttl)"))
    }

    @Test func overTheCountTheOldestGoFirst() {
        let settings = Policy.Previews(enabled: true, count: 2)
        let open = [Self.open(5, openedHoursAgo: 1, idleHours: 1), Self.open(3, openedHoursAgo: 5, idleHours: 1),
                    Self.open(4, openedHoursAgo: 3, idleHours: 1), Self.open(9, openedHoursAgo: 9, idleHours: 1)]
        let closures = PreviewSweep.closures(open: open, policies: ["web": settings], now: Self.now)
        #expect(closures.map(\.target.environment) == [.pullRequest(9), .pullRequest(3)])
        #expect(closures.allSatisfy { $0.reason.contains("previews.count (2) reached") && $0.reason.contains("#5") })
    }

    @Test func previewsOfARemovedServiceOrWithPreviewsOffGo() {
        let closures = PreviewSweep.closures(open: [Self.open(1, service: "gone", openedHoursAgo: 1, idleHours: 1),
                                                    Self.open(2, service: "off", openedHoursAgo: 1, idleHours: 1)],
                                             policies: ["off": Policy.Previews(enabled: false)], now: Self.now)
        #expect(closures.map(\.reason) == ["the service gone is no longer declared by a policy", "previews.enabled is false for off"])
    }

    @Test func whatTheRuntimeHoldsWithoutAnOpenPreviewIsALeftover() {
        let a = DeploymentTarget(service: "web", environment: .pullRequest(1)), b = DeploymentTarget(service: "web", environment: .pullRequest(2))
        let orphans = PreviewSweep.orphans(observed: [a, b, .main("web")], open: [a])
        #expect(orphans.map(\.target) == [b])
    }

    @Test(arguments: [
        (true, DeploymentState.building, false, PreviewStatus.State.building),
        (true, .rollingOut, false, .rollingOut),
        (true, .watching, true, .live),
        (true, .succeeded, true, .live),
        (true, .rolledBack, true, .live),
        (true, .rolledBack, false, .failed),
        (true, .failed, false, .failed),
        (false, .succeeded, true, .tornDown),
    ])
    func aPreviewsStateComesFromItsNewestDeployment(_ open: Bool, _ newest: DeploymentState, _ hasLive: Bool, _ state: PreviewStatus.State) {
        #expect(PreviewStatus.State.of(open: open, newest: newest, hasLive: hasLive) == state)
    }

    @Test func thePlanNamesCreatesUpdatesAndTeardowns() {
        var building = PreviewStatus(number: 1, service: "web-pr-1", branch: "a", sha: "1", state: .building, url: nil, updatedAt: Self.now, of: "web")
        building.headSHA = String(repeating: "1", count: 40)
        var behind = PreviewStatus(number: 2, service: "web-pr-2", branch: "b", sha: "2", state: .live, url: nil, updatedAt: Self.now, of: "web")
        behind.headSHA = String(repeating: "3", count: 40)
        behind.liveSHA = String(repeating: "2", count: 40)
        var current = PreviewStatus(number: 3, service: "web-pr-3", branch: "c", sha: "4", state: .live, url: nil, updatedAt: Self.now, of: "web")
        current.headSHA = String(repeating: "4", count: 40)
        current.liveSHA = current.headSHA
        let actions = PreviewPlanAction.actions(previews: [building, behind, current], teardowns: [
            .init(target: DeploymentTarget(service: "web", environment: .pullRequest(3)), reason: "no new commit for 72h (previews.ttl)"),
        ])
        #expect(actions.map(\.action) == [.create, .update, .tearDown])
        #expect(actions.map(\.number) == [1, 2, 3])
        #expect(actions[1].reason.contains("moved to 333333333333"))
    }
}
