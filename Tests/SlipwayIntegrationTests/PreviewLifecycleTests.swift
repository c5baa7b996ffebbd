import Foundation
import Logging
import PostgresNIO
import SlipwayApp
@testable import SlipwayController
import SlipwayCore
import SlipwayFakes
import SlipwayGit
import SlipwayRuntime
import SlipwayStore
import SlipwayTestSupport
import Testing

/// A pull request's preview through the real store and the job handlers on in-memory git,
/// builder and runtime: open → live beside main, new commits (latest wins), close →
/// teardown, and everything the sweep closes (TTL, count, previews switched off, leftovers).
@Suite(.enabled(if: TestStack.enabled))
struct PreviewLifecycleTests {
    typealias Rig = JobHandlerTests.Rig
    static let repo = "https://git.example.com/acme/web.git"

    static func withPreviews(count: Int = 5, url: String? = "https://pr-{number}.{service}.preview.example.com", forks: Bool = false,
                             paths: [String] = [], _ body: @Sendable (Rig, Policy) async throws -> Void) async throws {
        try await JobHandlerTests.withRig { rig in
            var policy = rig.policy
            policy.previews = Policy.Previews(enabled: true, count: count, env: ["LOG_LEVEL": "debug"], forks: forks, url: url)
            policy.deploy.env = ["LOG_LEVEL": "info", "GREETING": "hello"]
            policy.build.args = ["TOKEN_ARG": "main-only"]
            policy.source.paths = paths
            try await rig.store.syncServices([(policy, "web.yaml")])
            try await body(rig, policy)
        }
    }

    static func event(_ action: NormalizedEvent.PullRequest.Action, number: Int = 7, sha: String?, branch: String = "feature/x",
                      headURL: String = repo, provider: NormalizedEvent.Provider = .github) -> NormalizedEvent {
        var event = NormalizedEvent(provider: provider, kind: .pullRequest, event: "pull_request", deliveryID: UUID().uuidString,
                                    repository: .init(fullName: "acme/web", cloneURL: repo))
        event.pullRequest = .init(number: number, action: action, headBranch: branch, headSHA: sha, baseBranch: "main", headCloneURL: headURL)
        event.after = sha
        return event
    }

    /// Records the webhook as the intake would, then runs the preview job it queued.
    @discardableResult
    static func deliver(_ event: NormalizedEvent, rig: Rig) async throws -> [String: String] {
        let outcomes = EventMatching.outcomes(for: event, routes: try await rig.store.routes())
        let result = try await rig.store.recordDelivery(event, deliveryID: event.deliveryID!, outcomes: outcomes)
        guard case .recorded(let rowID, _, _) = result else { Issue.record("duplicate"); return [:] }
        let jobs = try await rig.store.queue.claim(kinds: [.preview], limit: 10, owner: "test", lease: .seconds(60))
        for job in jobs {
            try await rig.handler(.preview).run(job, logger: TestStack.logger)
            _ = try await rig.store.queue.complete(job)
        }
        let text = try await rig.store.client.query("SELECT detail::text FROM webhook_deliveries WHERE id = \(rowID)").collect()
        return try JSONDecoder().decode([String: String].self, from: Data(try text[0].decode(String.self).utf8))
    }

    static func previewDeployments(_ rig: Rig, number: Int = 7) async throws -> [DeploymentRow] {
        try await rig.store.history(of: DeploymentTarget(service: "web", environment: .pullRequest(number)))
    }

    static func runTeardowns(_ rig: Rig) async throws {
        for job in try await rig.store.queue.claim(kinds: [.teardown], limit: 10, owner: "test", lease: .seconds(60)) {
            try await rig.handler(.teardown).run(job, logger: TestStack.logger)
            _ = try await rig.store.queue.complete(job)
        }
    }

    @Test func aPullRequestGetsAPreviewBesideMainThatFollowsItsCommitsAndGoesWhenItCloses() async throws {
        try await Self.withPreviews { rig, _ in
            let main = try await rig.deployLive()
            let head = rig.git.commit(["Dockerfile": "FROM scratch\n# pr"], branch: "feature/x")
            rig.git.setRef("refs/pull/7/head", to: head)
            let detail = try await Self.deliver(Self.event(.opened, sha: head), rig: rig)
            #expect(detail["web"]?.hasPrefix("preview deployment") == true, "\(detail)")
            let first = try #require(try await Self.previewDeployments(rig).first)
            #expect(first.record.sha == head && first.record.trigger == .pullRequest)
            // previews.env over deploy.env, and the three SLIPWAY_ variables.
            #expect(first.policy.deploy.env == ["LOG_LEVEL": "debug", "GREETING": "hello", "SLIPWAY_PREVIEW": "1",
                                                "SLIPWAY_PR_NUMBER": "7", "SLIPWAY_PR_BRANCH": "feature/x"])
            #expect(first.policy.build.args == ["TOKEN_ARG": "main-only"])
            try await rig.run(.build, first.record.id)
            #expect(rig.builder.built.last?.hasSuffix(":pr-7-\(head)") == true)
            try await rig.run(.rollout, first.record.id)
            #expect(rig.runtime.running.sorted() == [main, first.record.id])
            let preview = try #require(try await rig.store.previews(service: "web").first)
            #expect(preview.state == .live && preview.sha == head && preview.service == "web-pr-7"
                    && preview.url == "https://pr-7.web.preview.example.com")

            // A new commit: built and rolled out; the main line is untouched.
            let next = rig.git.commit(["Dockerfile": "FROM scratch\n# pr 2"], branch: "feature/x")
            rig.git.setRef("refs/pull/7/head", to: next)
            try await Self.deliver(Self.event(.updated, sha: next), rig: rig)
            let second = try #require(try await Self.previewDeployments(rig).first)
            #expect(second.record.sha == next && second.record.id != first.record.id)
            try await rig.run(.build, second.record.id)
            try await rig.run(.rollout, second.record.id)
            try await rig.run(.retire, second.record.id)
            #expect(rig.runtime.running.sorted() == [main, second.record.id])
            #expect(try await rig.store.liveDeploymentID(of: .main("web")) == main)

            // Closed: the preview's deployments end, its teardown removes it, main keeps running.
            let closed = try await Self.deliver(Self.event(.closed, sha: next), rig: rig)
            #expect(closed["web"]?.contains("tearing it down") == true, "\(closed)")
            try await Self.runTeardowns(rig)
            #expect(rig.runtime.calls.contains(.tearDown("web/pr-7")))
            #expect(rig.runtime.running == [main])
            let gone = try #require(try await rig.store.previews(service: "web").first)
            #expect(gone.state == .tornDown && gone.reason == "pull request #7 was closed")
            #expect(try await rig.store.liveDeploymentID(of: DeploymentTarget(service: "web", environment: .pullRequest(7))) == nil)
            #expect(try await rig.store.liveDeploymentID(of: .main("web")) == main)
        }
    }

    @Test func aCrashingPreviewRollsBackToItsOwnLastGoodCommitOrStopsAndMainIsUntouched() async throws {
        try await Self.withPreviews { rig, _ in
            let main = try await rig.deployLive()
            try await rig.watch(main)
            let good = rig.git.commit(["Dockerfile": "FROM scratch\n# good"], branch: "feature/x")
            rig.git.setRef("refs/pull/7/head", to: good)
            try await Self.deliver(Self.event(.opened, sha: good), rig: rig)
            let first = try #require(try await Self.previewDeployments(rig).first?.record.id)
            try await rig.run(.build, first)
            try await rig.run(.rollout, first)
            try await rig.watch(first)
            let bad = rig.git.commit(["Dockerfile": "FROM scratch\n# bad"], branch: "feature/x")
            rig.git.setRef("refs/pull/7/head", to: bad)
            try await Self.deliver(Self.event(.updated, sha: bad), rig: rig)
            let second = try #require(try await Self.previewDeployments(rig).first?.record.id)
            try await rig.run(.build, second)
            try await rig.run(.rollout, second)
            try await rig.watch(second) { rig.runtime.crash(second, exitCode: 2) }
            let failed = try await rig.state(second)
            #expect(failed.state == .rolledBack && failed.reason?.contains("Rolled back to deployment \(first)") == true, "\(failed)")
            #expect(try await rig.store.liveDeploymentID(of: DeploymentTarget(service: "web", environment: .pullRequest(7))) == first)
            #expect(try await rig.store.liveDeploymentID(of: .main("web")) == main)
            #expect(rig.runtime.running.contains(main))
            let preview = try #require(try await rig.store.previews(service: "web").first)
            #expect(preview.state == .live && preview.sha == good)

            // A preview whose first commit crashes has nothing to go back to: stopped and failed.
            let lone = rig.git.commit(["Dockerfile": "FROM scratch\n# lone"], branch: "z")
            rig.git.setRef("refs/pull/8/head", to: lone)
            try await Self.deliver(Self.event(.opened, number: 8, sha: lone, branch: "z"), rig: rig)
            let only = try #require(try await Self.previewDeployments(rig, number: 8).first?.record.id)
            try await rig.run(.build, only)
            try await rig.run(.rollout, only)
            try await rig.watch(only) { rig.runtime.crash(only, exitCode: 1) }
            #expect(try await rig.store.previews(service: "web").first { $0.number == 8 }?.state == .failed)
            #expect(!rig.runtime.running.contains(only))
            #expect(try await rig.store.liveDeploymentID(of: .main("web")) == main)
        }
    }

    @Test func twoCommitsInQuickSuccessionBuildOnlyTheNewer() async throws {
        try await Self.withPreviews { rig, _ in
            let one = rig.git.commit(["Dockerfile": "FROM scratch\n# 1"], branch: "feature/x")
            rig.git.setRef("refs/pull/7/head", to: one)
            try await Self.deliver(Self.event(.opened, sha: one), rig: rig)
            let two = rig.git.commit(["Dockerfile": "FROM scratch\n# 2"], branch: "feature/x")
            rig.git.setRef("refs/pull/7/head", to: two)
            try await Self.deliver(Self.event(.updated, sha: two), rig: rig)
            let rows = try await Self.previewDeployments(rig)
            #expect(rows.map(\.record.sha) == [two, one])
            #expect(rows[1].record.state == .superseded, "\(rows[1].record)")
            #expect(rows[0].record.state == .queued)
        }
    }

    @Test func anOlderEventArrivingLateChangesNothing() async throws {
        try await Self.withPreviews { rig, _ in
            let head = rig.git.commit(["Dockerfile": "FROM scratch"], branch: "feature/x")
            rig.git.setRef("refs/pull/7/head", to: head)
            try await Self.deliver(Self.event(.opened, sha: head), rig: rig)
            // A close, then a reopen: their jobs run the other way round (the close's job retried late, say).
            let close = Self.event(.closed, sha: head), reopen = Self.event(.reopened, sha: head)
            let routes = try await rig.store.routes()
            for event in [close, reopen] {
                _ = try await rig.store.recordDelivery(event, deliveryID: event.deliveryID!, outcomes: EventMatching.outcomes(for: event, routes: routes))
            }
            let jobs = try await rig.store.queue.claim(kinds: [.preview], limit: 10, owner: "test", lease: .seconds(60))
            #expect(jobs.count == 2)
            for job in jobs.reversed() {
                try await rig.handler(.preview).run(job, logger: TestStack.logger)
                _ = try await rig.store.queue.complete(job)
            }
            let preview = try #require(try await rig.store.previews(service: "web").first)
            #expect(preview.state == .building, "\(preview)")
            // The preview's build still stands and no teardown was queued.
            #expect(try await Self.previewDeployments(rig).first?.record.state == .queued)
            #expect(try await rig.store.queue.claim(kinds: [.teardown], limit: 10, owner: "test", lease: .seconds(60)).isEmpty)
        }
    }

    @Test func aCloseWhoseOpenRunsLateLeavesNoPreview() async throws {
        try await Self.withPreviews { rig, _ in
            let head = rig.git.commit(["Dockerfile": "FROM scratch"], branch: "feature/x")
            rig.git.setRef("refs/pull/7/head", to: head)
            let open = Self.event(.opened, sha: head), close = Self.event(.closed, sha: head)
            let routes = try await rig.store.routes()
            for event in [open, close] {
                _ = try await rig.store.recordDelivery(event, deliveryID: event.deliveryID!, outcomes: EventMatching.outcomes(for: event, routes: routes))
            }
            // The open's job failed once (a fetch) and runs again after the close's.
            for job in try await rig.store.queue.claim(kinds: [.preview], limit: 10, owner: "test", lease: .seconds(60)).reversed() {
                try await rig.handler(.preview).run(job, logger: TestStack.logger)
                _ = try await rig.store.queue.complete(job)
            }
            #expect(try await Self.previewDeployments(rig).isEmpty)
            #expect(try await rig.store.previews(service: "web").isEmpty)
            #expect(try await rig.store.openPreviews().isEmpty)
        }
    }

    @Test func theSweepDoesNotCloseAPreviewThatChangedSinceItLooked() async throws {
        try await Self.withPreviews { rig, _ in
            let head = rig.git.commit(["Dockerfile": "FROM scratch"], branch: "feature/x")
            rig.git.setRef("refs/pull/7/head", to: head)
            try await Self.deliver(Self.event(.opened, sha: head), rig: rig)
            let seen = try #require(try await rig.store.openPreviews().first)
            // A new commit lands after the sweep's snapshot.
            let next = rig.git.commit(["Dockerfile": "FROM scratch\n# 2"], branch: "feature/x")
            rig.git.setRef("refs/pull/7/head", to: next)
            try await Self.deliver(Self.event(.updated, sha: next), rig: rig)
            let target = DeploymentTarget(service: "web", environment: .pullRequest(7))
            #expect(try await rig.store.closePreview(target, reason: "idle", cause: .sweep(seen: seen)) == false)
            #expect(try await rig.store.openPreviews().count == 1)
            #expect(try await Self.previewDeployments(rig).first?.record.state == .queued)
            // A leftover's teardown is not queued over an open preview either.
            #expect(try await rig.store.closePreview(target, reason: "leftover", cause: .leftover) == false)
            #expect(try await rig.store.queue.claim(kinds: [.teardown], limit: 10, owner: "test", lease: .seconds(60)).isEmpty)
        }
    }

    @Test func aForkIsSkippedWithItsReasonUnlessThePolicyAllowsItAndThenWithoutSecrets() async throws {
        try await Self.withPreviews { rig, _ in
            let head = rig.git.commit(["Dockerfile": "FROM scratch"], branch: "evil")
            rig.git.setRef("refs/pull/9/head", to: head)
            let detail = try await Self.deliver(Self.event(.opened, number: 9, sha: head, branch: "evil",
                                                           headURL: "https://git.example.com/mallory/web.git"), rig: rig)
            #expect(detail["web"]?.contains("comes from another repository") == true, "\(detail)")
            #expect(detail["web"]?.contains("previews.forks is false") == true)
            #expect(try await Self.previewDeployments(rig, number: 9).isEmpty)
        }
        try await Self.withPreviews(forks: true) { rig, _ in
            let head = rig.git.commit(["Dockerfile": "FROM scratch"], branch: "evil")
            rig.git.setRef("refs/pull/9/head", to: head)
            try await Self.deliver(Self.event(.opened, number: 9, sha: head, branch: "evil",
                                              headURL: "https://git.example.com/mallory/web.git"), rig: rig)
            let row = try #require(try await Self.previewDeployments(rig, number: 9).first)
            #expect(row.policy.build.args.isEmpty && row.policy.build.secrets.isEmpty)
        }
    }

    @Test func aHeadThatCannotBeFetchedOrAPullRequestOutsideThePathsIsSkippedWithItsReason() async throws {
        try await Self.withPreviews { rig, _ in
            let detail = try await Self.deliver(Self.event(.opened, number: 11, sha: String(repeating: "ab", count: 20)), rig: rig)
            #expect(detail["web"]?.contains("could not be fetched") == true, "\(detail)")
            let huge = try await Self.deliver(Self.event(.opened, number: Int(Int32.max) + 1, sha: String(repeating: "cd", count: 20)), rig: rig)
            #expect(huge["web"]?.contains("out of range") == true, "\(huge)")
            #expect(try await rig.store.previews(service: "web").isEmpty)
        }
    }

    @Test func aLongUnicodeBranchGetsItsPreviewWithASafeURLAndItsNameInTheEnvironment() async throws {
        try await Self.withPreviews(url: "https://{branch}.{service}.preview.example.com") { rig, _ in
            let branch = "fëature/" + String(repeating: "ü", count: 150) + "-" + String(repeating: "x", count: 140)
            let head = rig.git.commit(["Dockerfile": "FROM scratch"], branch: "long")
            rig.git.setRef("refs/pull/12/head", to: head)
            try await Self.deliver(Self.event(.opened, number: 12, sha: head, branch: branch), rig: rig)
            let row = try #require(try await Self.previewDeployments(rig, number: 12).first)
            #expect(row.policy.deploy.env["SLIPWAY_PR_BRANCH"] == branch)
            let url = try #require(try await rig.store.previews(service: "web").first?.url)
            let label = try #require(URL(string: url)?.host?.split(separator: ".").first)
            #expect(label.count <= 63 && label.allSatisfy { $0.isASCII }, "\(url)")
        }
    }

    @Test func aRepositoryThatCannotBeFetchedIsTriedAgainAndOnTheLastAttemptTheDeliverySaysWhy() async throws {
        try await Self.withPreviews { rig, _ in
            rig.git.failFetches("connection refused")
            let event = Self.event(.opened, sha: String(repeating: "ab", count: 20))
            let outcomes = EventMatching.outcomes(for: event, routes: try await rig.store.routes())
            guard case .recorded(let rowID, _, _) = try await rig.store.recordDelivery(event, deliveryID: event.deliveryID!, outcomes: outcomes)
            else { Issue.record("duplicate"); return }
            var job = try #require(try await rig.store.queue.claim(kinds: [.preview], limit: 1, owner: "test", lease: .seconds(60)).first)
            await #expect(throws: GitError.self) { try await rig.handler(.preview).run(job, logger: TestStack.logger) }
            job.attempts = job.maxAttempts
            try await rig.handler(.preview).run(job, logger: TestStack.logger)
            let text = try await rig.store.client.query("SELECT outcome || ' ' || (detail->>'web') FROM webhook_deliveries WHERE id = \(rowID)")
                .collect()[0].decode(String.self)
            #expect(text.hasPrefix("skipped ") && text.contains("could not be fetched (connection refused)"), "\(text)")
        }
    }

    @Test func passingPreviewsCountClosesTheOldestPreviewWithTheReason() async throws {
        try await Self.withPreviews(count: 2) { rig, _ in
            for number in [1, 2, 3] {
                let head = rig.git.commit(["Dockerfile": "FROM scratch\n# \(number)"], branch: "b\(number)")
                rig.git.setRef("refs/pull/\(number)/head", to: head)
                try await Self.deliver(Self.event(.opened, number: number, sha: head, branch: "b\(number)"), rig: rig)
            }
            let previews = try await rig.store.previews(service: "web")
            #expect(previews.map(\.number) == [3, 2, 1])
            #expect(previews.last?.state == .tornDown)
            #expect(previews.last?.reason?.contains("previews.count (2) reached") == true, "\(String(describing: previews.last?.reason))")
            // Its build was queued and is now cancelled; the teardown is queued.
            #expect(try await Self.previewDeployments(rig, number: 1).first?.record.state == .cancelled)
            try await Self.runTeardowns(rig)
            #expect(rig.runtime.calls.contains(.tearDown("web/pr-1")))
        }
    }

    @Test func theSweepTearsDownIdlePreviewsThoseOfServicesWithPreviewsOffAndRuntimeLeftovers() async throws {
        try await Self.withPreviews { rig, policy in
            let head = rig.git.commit(["Dockerfile": "FROM scratch"], branch: "feature/x")
            rig.git.setRef("refs/pull/7/head", to: head)
            try await Self.deliver(Self.event(.opened, sha: head), rig: rig)
            let id = try #require(try await Self.previewDeployments(rig).first?.record.id)
            try await rig.run(.build, id)
            try await rig.run(.rollout, id)
            let sweeper = { (now: Date) in
                PreviewSweeper(store: rig.store, runtime: rig.runtime, lease: NoLease(), interval: .seconds(30), now: { now },
                               logger: TestStack.logger)
            }
            // Within the TTL nothing goes; 72 h without a commit later, it does.
            #expect(try await sweeper(Date()).pass().isEmpty)
            let later = Date().addingTimeInterval(72 * 3600 + 60)
            let closed = try await sweeper(later).pass()
            #expect(closed.map(\.target) == [DeploymentTarget(service: "web", environment: .pullRequest(7))])
            #expect(closed.first?.reason.contains("previews.ttl") == true)
            try await Self.runTeardowns(rig)
            #expect(rig.runtime.running.isEmpty)
            #expect(try await rig.store.previews(service: "web").first?.state == .tornDown)

            // A container the runtime holds with no open record (a lost row, a crash mid-way): removed too.
            let revision = Revision(service: "web", deploymentID: 999_999, image: "r.example.com/acme/web:x", sha: nil, count: 1, env: [:])
            var orphan = revision
            orphan.environment = .pullRequest(42)
            _ = try await rig.runtime.start(orphan)
            let swept = try await sweeper(Date()).pass()
            #expect(swept.map(\.target) == [DeploymentTarget(service: "web", environment: .pullRequest(42))])
            try await Self.runTeardowns(rig)
            #expect(rig.runtime.all.isEmpty)

            // Previews switched off: the open ones go.
            let other = rig.git.commit(["Dockerfile": "FROM scratch\n# 8"], branch: "y")
            rig.git.setRef("refs/pull/8/head", to: other)
            try await Self.deliver(Self.event(.opened, number: 8, sha: other, branch: "y"), rig: rig)
            var off = policy
            off.previews.enabled = false
            try await rig.store.syncServices([(off, "web.yaml")])
            let disabled = try await sweeper(Date()).pass()
            #expect(disabled.first?.reason == "previews.enabled is false for web")
        }
    }
}

/// A lease always held: the sweeper's pass is called directly.
struct NoLease: Lease {
    var name: String { "previews" }
    func acquire(holder: String, ttl: TimeSpan) async throws -> Bool { true }
    func release(holder: String) async throws {}
}
