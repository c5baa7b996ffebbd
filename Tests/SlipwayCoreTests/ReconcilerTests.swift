import Foundation
import SlipwayCore
import Testing

/// `Reconciler.plan`: desired vs observed vs history → status, differences, actions.
@Suite struct ReconcilerTests {
    static let shaA = String(repeating: "a", count: 40)
    static let shaB = String(repeating: "b", count: 40)
    static let shaC = String(repeating: "c", count: 40)
    static let now = Date(timeIntervalSince1970: 1_800_000_000)

    static func policy(count: Int = 1, env: [String: String] = [:], args: [String: String] = [:],
                       selfHeal: Bool = false, prune: Bool = false) -> Policy {
        Policy(service: "web", source: .init(repo: "https://github.com/acme/shop.git"),
               build: .init(dockerfile: "Dockerfile", args: args), image: "registry.example.com/acme/web",
               deploy: .init(count: count, env: env), sync: .init(selfHeal: selfHeal, prune: prune))
    }

    /// A deployment record; `made` is the policy it was made from (default: the plain one).
    static func record(_ id: Int64, _ sha: String?, _ state: DeploymentState, trigger: DeploymentTrigger = .push,
                       built: Bool = true, made: Policy = policy(), reason: String? = nil) -> DeploymentRecord {
        DeploymentRecord(id: id, service: "web", trigger: trigger, state: state, sha: sha,
                         image: built ? "registry.example.com/acme/web@sha256:\(id)" : nil,
                         digest: built ? "sha256:\(id)" : nil, reason: reason,
                         createdAt: now.addingTimeInterval(Double(id)), policy: made)
    }

    static func running(_ id: Int64, _ count: Int = 1, fields: [String: String] = [:]) -> ObservedUnit {
        ObservedUnit(deploymentID: id, sha: nil, image: "registry.example.com/acme/web@sha256:\(id)", running: count, fields: fields)
    }

    func plan(_ history: [DeploymentRecord], live: Int64?, observed: [ObservedUnit]? = nil,
              registry: [String: ImagePresence] = [:]) -> ServicePlan {
        plan(Self.policy(), history, live: live, observed: observed, registry: registry)
    }

    func plan(_ policy: Policy, _ history: [DeploymentRecord], live: Int64?, observed: [ObservedUnit]? = nil,
              registry: [String: ImagePresence] = [:]) -> ServicePlan {
        Reconciler.plan(ReconcileInput(policy: policy, history: history.sorted { $0.id > $1.id }, liveID: live,
                                       observed: observed, registry: registry))
    }

    @Test func nothingSeenYetIsBlockedWithWhatToDo() {
        let p = plan([], live: nil)
        #expect(p.status == .blocked)
        #expect(p.reason?.contains("slipway deploy web --sha SHA") == true)
        #expect(p.actions.map(\.kind) == [.nothing])
    }

    @Test func aNewCommitNeedsABuild() {
        let p = plan([Self.record(1, Self.shaA, .succeeded), Self.record(2, Self.shaB, .superseded, built: false)],
                     live: 1, registry: [Self.shaB: .missing])
        #expect(p.status == .needsBuild)
        #expect(p.actions == [PlanAction(.build, reason: "bbbbbbbbbbbb is the newest commit of `main`", sha: Self.shaB)])
        #expect(p.differences.map(\.description) == ["image registry.example.com/acme/web:aaaaaaaaaaaa → registry.example.com/acme/web:bbbbbbbbbbbb"])
    }

    @Test func inSyncWhenTheRuntimeRunsTheLiveRevision() {
        let p = plan([Self.record(1, Self.shaA, .succeeded)], live: 1, observed: [Self.running(1)])
        #expect(p.status == .inSync)
        #expect(p.differences.isEmpty)
        #expect(p.actions.map(\.kind) == [.nothing])
    }

    @Test func aNewSpecWithTheSameCommitRollsOutWithoutARebuild() {
        let p = plan(Self.policy(count: 3, env: ["LOG": "debug"]), [Self.record(1, Self.shaA, .succeeded)], live: 1,
                     observed: [Self.running(1)])
        #expect(p.status == .needsRollout)
        #expect(p.differences.map(\.description) == ["deploy.count 1 → 3", "deploy.env.LOG (none) → debug"])
        #expect(p.actions.map(\.kind) == [.rollout])
        #expect(p.actions.first?.image == "registry.example.com/acme/web@sha256:1")
    }

    @Test func anImageThatExistsIsNotRebuilt() {
        let p = plan([Self.record(1, Self.shaA, .succeeded), Self.record(2, Self.shaB, .superseded, built: false)],
                     live: 1, registry: [Self.shaB: .present(digest: "sha256:feed")])
        #expect(p.status == .needsRollout)
        #expect(p.actions == [PlanAction(.rollout, reason: "the image of bbbbbbbbbbbb exists", sha: Self.shaB,
                                         image: "registry.example.com/acme/web@sha256:feed")])
    }

    @Test func changedBuildSettingsRebuildTheSameCommit() {
        let p = plan(Self.policy(args: ["NODE_ENV": "production"]), [Self.record(1, Self.shaA, .succeeded)], live: 1,
                     registry: [Self.shaA: .present(digest: "sha256:1")])
        #expect(p.status == .needsBuild)
        #expect(p.differences.map(\.description) == ["build.args.NODE_ENV (none) → production"])
        #expect(p.actions == [PlanAction(.build, reason: "the build settings changed", sha: Self.shaA)])
        let q = plan(Self.policy(count: 2, args: ["NODE_ENV": "production"]), [Self.record(1, Self.shaA, .succeeded)], live: 1,
                     registry: [Self.shaA: .present(digest: "sha256:1")])
        #expect(q.status == .needsBuild)
        #expect(q.differences.map(\.description).contains("build.args.NODE_ENV (none) → production"))
        #expect(q.actions.map(\.kind) == [.build])
    }

    @Test(arguments: [(DeploymentState.failed, "failed: exit 1"), (.rolledBack, "was rolled back: exit 1"), (.cancelled, "was cancelled: exit 1")])
    func aFailedAttemptIsNotRetriedUntilSomethingChanges(state: DeploymentState, words: String) {
        let history = [Self.record(1, Self.shaA, .succeeded), Self.record(2, Self.shaB, state, reason: "exit 1\nlog tail")]
        let p = plan(history, live: 1, observed: [Self.running(1)], registry: [Self.shaB: .present(digest: "sha256:2")])
        #expect(p.status == .blocked)
        #expect(p.reason?.hasPrefix("deployment 2 of bbbbbbbbbbbb \(words)") == true)
        #expect(p.actions.map(\.kind) == [.nothing])
        // A policy change is a new attempt.
        let q = plan(Self.policy(count: 2), history, live: 1, observed: [Self.running(1)], registry: [Self.shaB: .present(digest: "sha256:2")])
        #expect(q.status == .needsRollout)
        #expect(q.actions.map(\.kind) == [.rollout])
        // So is a new commit.
        let r = plan(history + [Self.record(3, Self.shaC, .superseded, built: false)], live: 1, registry: [Self.shaC: .missing])
        #expect(r.status == .needsBuild)
        #expect(r.actions.first?.sha == Self.shaC)
    }

    /// A push superseded before anyone checked it (or one the repository refused) might name any
    /// commit: the newest commit is the newest push the fetched repository confirmed.
    @Test func onlyConfirmedPushesNameTheNewestCommit() {
        var replayed = Self.record(2, Self.shaB, .superseded, built: false)
        replayed.pushVerified = false
        var refused = Self.record(3, Self.shaC, .failed, built: false)
        refused.pushVerified = false
        let result = plan([Self.record(1, Self.shaA, .succeeded), replayed, refused], live: 1, observed: [Self.running(1)])
        #expect(result.desiredSHA == Self.shaA)
        #expect(result.status == .inSync, "\(result)")
        // Confirmed, the same push is what the branch wants.
        var confirmed = replayed
        confirmed.pushVerified = true
        #expect(plan([Self.record(1, Self.shaA, .succeeded), confirmed], live: 1, observed: [Self.running(1)]).desiredSHA == Self.shaB)
    }

    @Test func somethingUnderWayIsWaitedFor() {
        let p = plan([Self.record(1, Self.shaA, .succeeded), Self.record(2, Self.shaB, .building, built: false)], live: 1)
        #expect(p.status == .needsBuild)
        #expect(p.actions == [PlanAction(.wait, reason: "deployment 2 (bbbbbbbbbbbb) is building", sha: Self.shaB, deploymentID: 2)])
        let q = plan([Self.record(1, Self.shaA, .succeeded), Self.record(2, Self.shaB, .rollingOut)], live: 1)
        #expect(q.status == .needsRollout)
        #expect(q.actions.map(\.kind) == [.wait])
    }

    @Test func anOperatorsRollbackHoldsUntilTheNextCommit() {
        let history = [Self.record(1, Self.shaA, .succeeded), Self.record(2, Self.shaB, .succeeded),
                       Self.record(3, Self.shaA, .succeeded, trigger: .rollback)]
        let p = plan(history, live: 3, observed: [Self.running(3)])
        #expect(p.status == .inSync)
        #expect(p.desiredSHA == Self.shaA)
        let q = plan(history + [Self.record(4, Self.shaC, .superseded, built: false)], live: 3, observed: [Self.running(3)],
                     registry: [Self.shaC: .missing])
        #expect(q.status == .needsBuild)
        #expect(q.desiredSHA == Self.shaC)
    }

    @Test func driftIsReportedAndRepairedOnlyWhenAskedTo() {
        let history = [Self.record(1, Self.shaA, .succeeded, made: Self.policy(count: 2))]
        let off = plan(Self.policy(count: 2), history, live: 1, observed: [Self.running(1, 1)])
        #expect(off.status == .drifted)
        #expect(off.differences.map(\.description) == ["changed outside Slipway: running 2 → 1"])
        #expect(off.actions.map(\.kind) == [.nothing])
        #expect(off.actions.first?.reason.contains("sync.selfHeal: true") == true)
        let on = plan(Self.policy(count: 2, selfHeal: true), [Self.record(1, Self.shaA, .succeeded, made: Self.policy(count: 2, selfHeal: true))],
                      live: 1, observed: [Self.running(1, 1)])
        #expect(on.status == .drifted)
        #expect(on.actions == [PlanAction(.selfHeal, reason: "the runtime no longer matches deployment 1", sha: Self.shaA,
                                          image: "registry.example.com/acme/web@sha256:1", deploymentID: 1)])
    }

    @Test func ecsFieldsChangedByHandAreDrift() {
        let p = plan(Self.policy(count: 2), [Self.record(1, Self.shaA, .succeeded, made: Self.policy(count: 2))], live: 1,
                     observed: [Self.running(1, 2, fields: ["deploy.count": "5"])])
        #expect(p.status == .drifted)
        #expect(p.differences.map(\.description) == ["changed outside Slipway: deploy.count 2 → 5"])
    }

    @Test func oldRevisionsArePrunedOnlyWhenAskedTo() {
        let history = [Self.record(1, Self.shaA, .succeeded), Self.record(2, Self.shaB, .succeeded)]
        let off = plan(history, live: 2, observed: [Self.running(1), Self.running(2)])
        #expect(off.status == .drifted)
        #expect(off.differences.map(\.description) == ["changed outside Slipway: deployment 1 absent → 1 running"])
        #expect(off.actions.map(\.kind) == [.nothing])
        let made = Self.policy(prune: true)
        let on = plan(made, [Self.record(1, Self.shaA, .succeeded, made: made), Self.record(2, Self.shaB, .succeeded, made: made)],
                      live: 2, observed: [Self.running(1), Self.running(2)])
        #expect(on.actions.map(\.kind) == [.prune])
        #expect(on.actions.first?.deployments == [1])
    }

    @Test func aFailedRevisionStillRunningIsRolledBack() {
        let history = [Self.record(1, Self.shaA, .succeeded), Self.record(2, Self.shaA, .rolledBack, trigger: .manual)]
        let p = plan(history, live: 1, observed: [Self.running(1), Self.running(2)])
        #expect(p.status == .drifted)
        #expect(p.actions.map(\.kind) == [.rollback])
        #expect(p.actions.first?.deployments == [2])
        #expect(p.actions.first?.deploymentID == 1)
    }

    @Test func theRollbackWindowIsWaitedOut() {
        let p = plan([Self.record(1, Self.shaA, .watching)], live: 1, observed: [Self.running(1)])
        #expect(p.status == .inSync)
        #expect(p.actions.map(\.kind) == [.wait])
    }

    @Test func orphansArePrunedOnlyWhenTheirLastPolicySaidSo() {
        let kept = Reconciler.orphan(service: "old", lastPolicy: Self.policy(), observed: [Self.running(7, 2)])
        #expect(kept.status == .orphaned)
        #expect(kept.actions.map(\.kind) == [.nothing])
        #expect(kept.differences.map(\.description) == ["changed outside Slipway: deployment 7 absent → 2 running"])
        let pruned = Reconciler.orphan(service: "old", lastPolicy: Self.policy(prune: true), observed: [Self.running(7, 2)])
        #expect(pruned.actions.map(\.kind) == [.prune])
        #expect(pruned.actions.first?.deployments == [7])
    }

    @Test func specFieldsCoverTheECSTarget() {
        var policy = Self.policy()
        policy.deploy.target = .ecs
        policy.deploy.ecs = Policy.ECS(cluster: "prod", cpu: 512, memory: 1024, secrets: ["DB": "arn:aws:ssm:us-east-1:123456789012:parameter/db"],
                                       subnets: ["subnet-0123abcd"])
        var bigger = policy
        bigger.deploy.ecs?.memory = 2048
        #expect(SpecFields.differences(from: SpecFields.deploy(policy), to: SpecFields.deploy(bigger)).map(\.description)
                == ["deploy.memory 1024 → 2048"])
        #expect(SpecFields.deploy(policy)["deploy.service"] == "web")
        #expect(SpecFields.deploy(policy)["deploy.secrets.DB"] == "arn:aws:ssm:us-east-1:123456789012:parameter/db")
    }
}

@Suite struct PolicySourceSpecTests {
    @Test(arguments: [
        ("policies", PolicySourceSpec.folder("policies")),
        ("/etc/slipway/policies", .folder("/etc/slipway/policies")),
        ("https://github.com/acme/deploys.git#main:prod", .git(repo: "https://github.com/acme/deploys.git", branch: "main", path: "prod")),
        ("https://github.com/acme/deploys.git", .git(repo: "https://github.com/acme/deploys.git", branch: "main", path: ".")),
        ("git@github.com:acme/deploys.git#release", .git(repo: "git@github.com:acme/deploys.git", branch: "release", path: ".")),
        ("file:///srv/deploys.git#main:./prod/eu/", .git(repo: "file:///srv/deploys.git", branch: "main", path: "prod/eu")),
    ])
    func parses(text: String, spec: PolicySourceSpec) throws {
        #expect(try PolicySourceSpec(parsing: text) == spec)
    }

    @Test(arguments: ["https://github.com/acme/deploys.git#main:../etc", "ext::sh -c x#main", "https://github.com/acme/deploys.git#main:/abs"])
    func refuses(text: String) {
        #expect(throws: PolicySourceSpec.Invalid.self) { try PolicySourceSpec(parsing: text) }
    }
}

@Suite struct PlanJSONTests {
    @Test func everyKeyIsWrittenWithNullForNoValue() throws {
        let plan = ServicePlan(service: "web", status: .needsBuild, desiredSHA: "abc",
                               differences: [PlanDifference(field: "image", from: nil, to: "r/web:abc")],
                               actions: [PlanAction(.build, reason: "new commit", sha: "abc")])
        let object = try #require(try JSONSerialization.jsonObject(with: JSONEncoder().encode(plan)) as? [String: Any])
        #expect(Set(object.keys) == ["service", "status", "reason", "desiredSHA", "liveSHA", "liveDeployment", "differences", "actions"])
        #expect(object["status"] as? String == "needs-build")
        #expect(object["liveSHA"] is NSNull)
        let difference = try #require((object["differences"] as? [[String: Any]])?.first)
        #expect(difference["from"] is NSNull)
        let action = try #require((object["actions"] as? [[String: Any]])?.first)
        #expect(action["kind"] as? String == "build")
        #expect(action["deployments"] is NSNull)
    }
}

/// Cases found in review: pins that survive the loop's own rollouts, failures that must
/// not repeat, branches, build settings.
@Suite struct ReconcilerReviewTests {
    typealias R = ReconcilerTests
    func plan(_ policy: Policy, _ history: [DeploymentRecord], live: Int64?, observed: [ObservedUnit]? = nil,
              registry: [String: ImagePresence] = [:]) -> ServicePlan {
        Reconciler.plan(ReconcileInput(policy: policy, history: history.sorted { $0.id > $1.id }, liveID: live,
                                       observed: observed, registry: registry))
    }

    func wentLive(_ record: DeploymentRecord) -> DeploymentRecord {
        var record = record
        record.liveAt = record.createdAt
        return record
    }

    @Test func aRollbackStaysPinnedAfterTheLoopRollsItOutAgain() {
        // 3 rolled back to A; the loop then healed it (4, trigger reconcile, same image).
        var heal = wentLive(R.record(4, R.shaA, .succeeded, trigger: .reconcile))
        heal.image = "registry.example.com/acme/web@sha256:3"
        let history = [wentLive(R.record(1, R.shaA, .succeeded)), R.record(2, R.shaB, .succeeded),
                       wentLive(R.record(3, R.shaA, .succeeded, trigger: .rollback)), heal]
        let p = plan(R.policy(), history, live: 4, observed: [ObservedUnit(deploymentID: 4, sha: R.shaA, image: heal.image!, running: 1)])
        #expect(p.desiredSHA == R.shaA)
        #expect(p.status == .inSync)
    }

    @Test func aFailedSelfHealIsNotRepeated() {
        let made = R.policy(selfHeal: true)
        var heal = R.record(2, R.shaA, .failed, trigger: .reconcile, made: made, reason: "image gone")
        heal.image = "registry.example.com/acme/web@sha256:1"
        let p = plan(made, [wentLive(R.record(1, R.shaA, .succeeded, made: made)), heal], live: 1,
                     observed: [R.running(1, 0)])
        #expect(p.status == .blocked)
        #expect(p.reason?.hasPrefix("self-heal deployment 2 failed: image gone") == true)
        #expect(p.actions.map(\.kind) == [.nothing])
    }

    @Test func aFixedBuildSettingRetriesTheFailedCommit() {
        let broken = R.policy(args: ["V": "1"])
        let history = [R.record(1, R.shaA, .succeeded, made: broken), R.record(2, R.shaB, .failed, built: false, made: broken)]
        #expect(plan(broken, history, live: 1).status == .blocked)
        let fixed = plan(R.policy(args: ["V": "2"]), history, live: 1, registry: [R.shaB: .missing])
        #expect(fixed.status == .needsBuild)
        #expect(fixed.actions.first?.sha == R.shaB)
    }

    @Test func onlyTheTrackedBranchsCommitsAreWanted() {
        var other = R.record(2, R.shaB, .superseded, built: false)
        other.branch = "main"
        var mine = R.record(1, R.shaA, .succeeded)
        mine.branch = "release"
        var policy = R.policy()
        policy.source.branch = "release"
        let p = plan(policy, [mine, other], live: 1, observed: [R.running(1)])
        #expect(p.desiredSHA == R.shaA)
        #expect(p.status == .inSync)
    }

    @Test func aPinnedImageIsNeverRebuiltAndItsFailedRolloutNotRepeated() {
        let image = "registry.example.com/acme/other:1.4.2"
        var pin = wentLive(R.record(1, nil, .succeeded, trigger: .image))
        pin.image = image
        var failed = R.record(2, nil, .rolledBack, trigger: .reconcile, made: R.policy(count: 2), reason: "exit 1")
        failed.image = image
        // Build settings changed: nothing to rebuild for a prebuilt image.
        #expect(plan(R.policy(args: ["X": "1"]), [pin], live: 1, observed: [ObservedUnit(deploymentID: 1, sha: nil, image: image, running: 1)]).status == .inSync)
        let p = plan(R.policy(count: 2), [pin, failed], live: 1)
        #expect(p.status == .blocked)
        #expect(p.reason?.contains("--image \(image)") == true)
    }
}
