import Foundation
import Logging
import PostgresNIO
@testable import SlipwayController
import SlipwayCore
import SlipwayFakes
import SlipwayRuntime
import SlipwayStore
import SlipwayTestSupport
import Synchronization
import Testing

/// The job handlers' logic on in-memory seams (git, builder, registry, runtime) and the real
/// store: every branch of build → rollout → watch → rollback → retire, with time moved by the
/// test — the watch window passes on a test clock, not on the machine's.
@Suite(.enabled(if: TestStack.enabled))
struct JobHandlerTests {
    /// Wall time for what is compared with the database's stamps (`live_at` is the
    /// database's own now): real time, moved on by what the test clock advanced since the
    /// current watch began.
    final class Wall: Sendable {
        let clock = TestClock()
        private let baseline = Mutex(Duration.zero)

        var advanced: Duration { TestClock.Instant(offset: .zero).duration(to: clock.now) }

        func watchBegins() { baseline.withLock { $0 = advanced } }

        var now: Date {
            let ahead = advanced - baseline.withLock { $0 }
            return Date().addingTimeInterval(Double(ahead.components.seconds) + Double(ahead.components.attoseconds) / 1e18)
        }
    }

    struct Rig {
        let store: Store
        let git = FakeGit()
        let registry = FakeRegistry()
        let runtime: FakeRuntime
        let builder: FakeBuilder
        let wall: Wall
        let pipeline: Pipeline
        let policy: Policy

        init(store: Store, window: TimeSpan = .seconds(30)) throws {
            self.store = store
            let wall = Wall()
            self.wall = wall
            runtime = FakeRuntime(now: { wall.now })
            builder = FakeBuilder(registry: registry)
            var policy = Policy(service: "web", source: .init(repo: "https://git.example.com/acme/web.git"), image: "r.example.com/acme/web")
            policy.rollback.window = window
            policy.rollback.crashes = 1
            policy.build.dockerfile = "Dockerfile"
            self.policy = policy
            pipeline = Pipeline(store: store, git: git, builder: builder, runtime: runtime,
                                workDirectory: try TestStack.temporaryDirectory("handlers"), dockerNetwork: nil,
                                watchInterval: .seconds(1), registry: registry, now: { wall.now }, clock: ServiceClock(wall.clock))
        }

        func handler(_ kind: JobKind) -> any JobHandler { pipeline.handlers.first { $0.kind == kind }! }

        /// Claims the deployment's queued job of `kind` and runs its handler to the end.
        func run(_ kind: JobKind, _ deployment: Int64) async throws {
            let job = try await claim(kind, deployment)
            try await handler(kind).run(job, logger: TestStack.logger)
            _ = try await store.queue.complete(job)
        }

        func claim(_ kind: JobKind, _ deployment: Int64) async throws -> ClaimedJob {
            let jobs = try await store.queue.claim(kinds: [kind], limit: 10, owner: "test", lease: .seconds(60))
            let mine = try #require(jobs.first { $0.deploymentID == deployment }, "no \(kind) job queued for deployment \(deployment)")
            for other in jobs where other.id != mine.id { _ = try await store.queue.complete(other) }
            return mine
        }

        /// Runs a watch to its end while the test moves time on: one watch interval per step.
        func watch(_ deployment: Int64, during: @Sendable () async throws -> Void = {}) async throws {
            let job = try await claim(.watch, deployment)
            wall.watchBegins()
            let ended = Flag()
            let clock = wall.clock
            let watching = Task {
                defer {
                    ended.set()
                    clock.wakeWaiters()
                }
                try await handler(.watch).run(job, logger: TestStack.logger)
            }
            // Until the watch sleeps for its next look, or has ended (woken, never polled).
            await clock.waitForSleepers(unless: { ended.isSet })
            try await during()
            while !ended.isSet {
                clock.advance(by: .seconds(1))
                await clock.waitForSleepers(unless: { ended.isSet })
            }
            try await watching.value
            _ = try await store.queue.complete(job)
        }

        /// A deployment of a new commit taken all the way to live and watched.
        func deployLive(_ files: [String: String] = ["Dockerfile": "FROM scratch"]) async throws -> Int64 {
            let sha = git.commit(files)
            let id = try await store.createDeployment(service: "web", trigger: .manual, sha: sha, image: nil, firstJob: .build)
            try await run(.build, id)
            try await run(.rollout, id)
            return id
        }

        func state(_ id: Int64) async throws -> DeploymentRecord { try await store.deployment(id).record }
        func jobs(_ id: Int64) async throws -> [String] {
            try await store.client.query("SELECT kind || ':' || state FROM jobs WHERE deployment_id = \(id) ORDER BY id").collect()
                .map { try $0.decode(String.self) }
        }
    }

    static func withRig(window: TimeSpan = .seconds(30), _ body: @Sendable (Rig) async throws -> Void) async throws {
        try await TestStack.withStore { store, _ in
            let rig = try Rig(store: store, window: window)
            try await store.syncServices([(rig.policy, "web.yaml")])
            try await body(rig)
        }
    }

    @Test func aBuildRollsOutGoesLiveIsWatchedAndSucceeds() async throws {
        try await Self.withRig { rig in
            let id = try await rig.deployLive()
            #expect(try await rig.state(id).state == .watching)
            #expect(rig.builder.built.count == 1 && rig.runtime.running == [id])
            // Going live queued its watch and the retirement of what it replaced, together.
            #expect(try await rig.jobs(id) == ["build:succeeded", "rollout:succeeded", "watch:queued", "retire:queued"])
            try await rig.watch(id)
            let done = try await rig.state(id)
            #expect(done.state == .succeeded && done.reason == nil)
            #expect(rig.runtime.calls.contains(.settle(id)))
        }
    }

    @Test func aCrashInTheWindowRollsBackToTheLastGoodRevisionWithoutWaitingForItsRetirement() async throws {
        try await Self.withRig { rig in
            let good = try await rig.deployLive()
            try await rig.watch(good)
            let bad = try await rig.deployLive(["Dockerfile": "FROM scratch\nCMD [\"crash\"]"])
            // The retire job of `bad` has not run: the old revision still runs beside it (stopping, as far as anyone knows).
            #expect(rig.runtime.running == [good, bad])
            rig.runtime.setLogLines(["fatal: cannot reach the database"])
            try await rig.watch(bad) { rig.runtime.crash(bad, exitCode: 3) }
            let failed = try await rig.state(bad)
            #expect(failed.state == .rolledBack)
            #expect(failed.reason?.contains("exited with code 3") == true)
            #expect(failed.reason?.contains("fatal: cannot reach the database") == true)
            let goodSHA = try #require(try await rig.state(good).sha)
            #expect(failed.reason?.hasSuffix("Rolled back to deployment \(good) (\(goodSHA.prefix(12))).") == true)
            #expect(try await rig.store.liveDeploymentID(of: .main("web")) == good)
            // The earlier revision was started again; the failing one goes by the queued retire job.
            #expect(rig.runtime.calls.filter { $0 == .start(good) }.count == 2)
            #expect(try await rig.jobs(good).last == "retire:queued")
            try await rig.run(.retire, good)
            #expect(rig.runtime.running == [good])
            #expect(rig.runtime.all.allSatisfy { $0.deploymentID == good })
        }
    }

    @Test func theRetireJobOfARevisionThatIsNoLongerLiveStopsNothing() async throws {
        try await Self.withRig { rig in
            let good = try await rig.deployLive()
            try await rig.watch(good)
            let bad = try await rig.deployLive()
            try await rig.watch(bad) { rig.runtime.crash(bad, exitCode: 1) }
            // bad's retire job runs late, after the rollback made `good` live again: it must not stop `good`.
            try await rig.run(.retire, bad)
            #expect(rig.runtime.running == [good])
            #expect(!rig.runtime.calls.contains(.retire(rig.runtime.all.filter { $0.deploymentID == good }.map(\.id))))
        }
    }

    @Test func aRetireJobThatFailsLeavesTheLiveDeploymentWatched() async throws {
        try await Self.withRig { rig in
            let good = try await rig.deployLive()
            try await rig.watch(good)
            let next = try await rig.deployLive()
            // Its retire job gives up (the engine would not stop the old containers) ...
            let retire = try await rig.claim(.retire, next)
            #expect(try await rig.store.queue.apply(.end(.dead, reason: "docker stop failed", deploymentState: .failed), to: retire))
            // ... and a second one is found dead by maintenance: neither says anything about the deployment.
            try await rig.store.queue.enqueue(JobTimeouts.job(.retire, deploymentID: next, service: "web", policy: rig.policy))
            try await rig.store.client.query("""
                UPDATE jobs SET state = 'running', lease_token = gen_random_uuid(), lease_owner = 'gone',
                    lease_expires_at = now() - interval '1 second', attempts = max_attempts
                WHERE deployment_id = \(next) AND kind = 'retire' AND state = 'queued'
                """)
            #expect(try await rig.store.queue.rescueExpired() == 0, "out of attempts: dead, not requeued")
            #expect(try await rig.jobs(next).suffix(2) == ["retire:dead", "retire:dead"])
            #expect(try await rig.state(next).state == .watching)
            try await rig.watch(next)
            #expect(try await rig.state(next).state == .succeeded)
        }
    }

    @Test func aRolloutRunAgainAfterItWentLiveLeavesTheLiveRevisionAlone() async throws {
        try await Self.withRig { rig in
            let live = try await rig.deployLive()
            let before = rig.runtime.calls
            // The rollout job's lease expired as it completed: it runs a second time.
            try await rig.store.queue.enqueue(JobTimeouts.job(.rollout, deploymentID: live, service: "web", policy: rig.policy))
            try await rig.run(.rollout, live)
            #expect(rig.runtime.calls == before, "nothing started or removed")
            #expect(try await rig.state(live).state == .watching)
        }
    }

    @Test func aCrashWithNoEarlierGoodRevisionStopsTheService() async throws {
        try await Self.withRig { rig in
            let first = try await rig.deployLive()
            try await rig.watch(first) { rig.runtime.crash(first, exitCode: 2) }
            let failed = try await rig.state(first)
            #expect(failed.state == .failed)
            #expect(failed.reason?.hasSuffix("No earlier good deployment to roll back to; the service is stopped.") == true)
            #expect(try await rig.store.liveDeploymentID(of: .main("web")) == nil)
            #expect(rig.runtime.calls.contains(.remove(first)) && rig.runtime.running.isEmpty)
        }
    }

    @Test func whenTheEarlierRevisionFailsToStartTooTheFailingOneStays() async throws {
        try await Self.withRig { rig in
            let good = try await rig.deployLive()
            try await rig.watch(good)
            let bad = try await rig.deployLive()
            rig.runtime.failStart(of: good, "image r.example.com/acme/web is not available: manifest unknown")
            try await rig.watch(bad) { rig.runtime.crash(bad, exitCode: 3) }
            let failed = try await rig.state(bad)
            #expect(failed.state == .failed)
            #expect(failed.reason?.hasSuffix("Rolling back to deployment \(good) failed too: image r.example.com/acme/web is not available: manifest unknown") == true)
            #expect(try await rig.store.liveDeploymentID(of: .main("web")) == bad, "half a service beats none: the live pointer stays")
        }
    }

    @Test func aRevisionThatCrashesAsItStartsIsRolledBackBeforeGoingLive() async throws {
        try await Self.withRig { rig in
            let good = try await rig.deployLive()
            try await rig.watch(good)
            let sha = rig.git.commit(["Dockerfile": "FROM scratch"])
            let bad = try await rig.store.createDeployment(service: "web", trigger: .manual, sha: sha, image: nil, firstJob: .build)
            try await rig.run(.build, bad)
            // The runtime reports its instances already stopped as start returns.
            let crashing = CrashingOnStart(inner: rig.runtime, deploymentID: bad)
            let pipeline = Pipeline(store: rig.store, git: rig.git, builder: rig.builder, runtime: crashing,
                                    workDirectory: rig.pipeline.workDirectory, dockerNetwork: nil, now: { rig.wall.now })
            let job = try await rig.claim(.rollout, bad)
            try await RolloutHandler(pipeline: pipeline).run(job, logger: TestStack.logger)
            let ended = try await rig.state(bad)
            #expect(ended.state == .rolledBack)
            #expect(ended.reason?.hasSuffix("The previous revision kept running.") == true)
            #expect(try await rig.store.liveDeploymentID(of: .main("web")) == good)
            #expect(rig.runtime.running == [good])
        }
    }

    @Test func aBuildFailureLeavesTheLiveRevisionAlone() async throws {
        try await Self.withRig { rig in
            let good = try await rig.deployLive()
            let sha = rig.git.commit(["Dockerfile": "FROM scratch"])
            let bad = try await rig.store.createDeployment(service: "web", trigger: .manual, sha: sha, image: nil, firstJob: .build)
            rig.builder.failNext(.init(stage: .build, message: "RUN make: exit code 2", transient: false))
            try await rig.run(.build, bad)
            let failed = try await rig.state(bad)
            #expect(failed.state == .failed && failed.reason?.contains("RUN make: exit code 2") == true)
            #expect(try await rig.store.liveDeploymentID(of: .main("web")) == good && rig.runtime.running == [good])
            #expect(try await rig.jobs(bad) == ["build:succeeded"])
        }
    }
}

final class Flag: Sendable {
    private let value = Mutex(false)
    func set() { value.withLock { $0 = true } }
    var isSet: Bool { value.withLock { $0 } }
}

/// Starts through the fake, then reports the new revision's instances as exited.
struct CrashingOnStart: Runtime {
    let inner: FakeRuntime
    let deploymentID: Int64
    func start(_ revision: Revision) async throws -> Started {
        let started = try await inner.start(revision)
        guard revision.deploymentID == deploymentID else { return started }
        inner.crash(deploymentID, exitCode: 127)
        return Started(ref: started.ref, instances: try await inner.instances(of: revision))
    }
    func current(_ revision: Revision) async throws -> RunningRevision? { nil }
    func instances(of revision: Revision) async throws -> [Instance] { try await inner.instances(of: revision) }
    func retirees(except revision: Revision) async throws -> [String] { try await inner.retirees(except: revision) }
    func retire(_ instances: [String], of revision: Revision) async throws { try await inner.retire(instances, of: revision) }
    func remove(_ revision: Revision) async throws { try await inner.remove(revision) }
    func restart(_ revision: Revision, instances: [String]) async throws { try await inner.restart(revision, instances: instances) }
    func settle(_ revision: Revision) async throws { try await inner.settle(revision) }
    func logTail(_ revision: Revision, instance: String, lines: Int) async throws -> [String] { [] }
    func progress(_ revision: Revision) async throws -> RolloutProgress { .done }
    func observe(_ policies: [Policy], knownImages: [String: String]) async throws -> [String: [ObservedUnit]] { [:] }
    func imagePresence(repository: String, tag: String) async -> ImagePresence { .unknown }
    func tearDown(_ target: DeploymentTarget, policy: Policy?, images: [String]) async throws {
        try await inner.tearDown(target, policy: policy, images: images)
    }
    func previewTargets(_ policies: [Policy]) async throws -> Set<DeploymentTarget> { try await inner.previewTargets(policies) }
}
