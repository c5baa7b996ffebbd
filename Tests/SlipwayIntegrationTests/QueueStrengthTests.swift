import Foundation
import Logging
import PostgresNIO
import SlipwayController
import SlipwayCore
import SlipwayStore
import SlipwayTestSupport
import Testing

/// A handler that runs until cancelled (a long build), recording when it started and stopped.
final class BlockingHandler: JobHandler, @unchecked Sendable {
    let kind: JobKind
    private let lock = NSLock()
    private var _started: [Int64] = []
    private var _stopped: [Int64: ContinuousClock.Instant] = [:]
    var started: [Int64] { lock.withLock { _started } }
    func stoppedAt(_ id: Int64) -> ContinuousClock.Instant? { lock.withLock { _stopped[id] } }

    init(kind: JobKind) { self.kind = kind }

    func run(_ job: ClaimedJob, logger: Logger) async throws {
        lock.withLock { _started.append(job.id) }
        defer { lock.withLock { _stopped[job.id] = .now } }
        try await Task.sleep(for: .seconds(600))
    }
}

/// Fails with a retryable error every time.
struct FlakyHandler: JobHandler {
    let kind: JobKind
    func run(_ job: ClaimedJob, logger: Logger) async throws {
        throw URLError(.cannotConnectToHost)
    }
}

@Suite(.enabled(if: TestStack.enabled))
struct QueueStrengthTests {
    static let web = Policy(service: "web", source: .init(repo: "https://github.com/a/b.git"), image: "r.example.com/a/web")
    static let api = Policy(service: "api", source: .init(repo: "https://github.com/a/b.git"), image: "r.example.com/a/api")

    func job(_ store: Store, _ id: Int64) async throws -> (state: String, attempts: Int, error: String?, cancel: String?) {
        let row = try #require(try await store.client.query(
            "SELECT state, attempts, last_error, cancel_reason FROM jobs WHERE id = \(id)").collect().first).makeRandomAccess()
        return (try row["state"].decode(String.self), try row["attempts"].decode(Int.self),
                try row["last_error"].decode(String?.self), try row["cancel_reason"].decode(String?.self))
    }

    func buildJob(_ store: Store, deployment: Int64) async throws -> Int64 {
        try await store.client.query("SELECT id FROM jobs WHERE deployment_id = \(deployment) AND kind = 'build'")
            .collect()[0].decode(Int64.self)
    }

    func pool(_ store: Store, _ handlers: [any JobHandler], kinds: [JobKind] = [.build], stops: StopSignals = StopSignals(),
              wake: WakeSignal = WakeSignal(), lease: TimeSpan = .seconds(3), concurrency: Int = 4,
              clock: ServiceClock = .continuous) -> WorkerPool {
        WorkerPool(settings: .init(name: "t", kinds: kinds, concurrency: concurrency, batch: 4, lease: lease,
                                   pollInterval: .milliseconds(100)),
                   queue: store.queue, handlers: handlers, wake: wake, stops: stops, logger: TestStack.logger, clock: clock,
                   random: { 0.5 })
    }

    @Test func retryableFailuresBackOffThenGoDeadAndFailTheDeployment() async throws {
        try await TestStack.withStore { store, _ in
            try await store.syncServices([(Self.web, "web.yaml")])
            let deployment = try await store.createDeployment(service: "web", trigger: .manual, sha: nil, image: nil, firstJob: .build)
            let id = try await buildJob(store, deployment: deployment)
            try await store.client.query("UPDATE jobs SET max_attempts = 2 WHERE id = \(id)")
            let workers = pool(store, [FlakyHandler(kind: .build)])

            let first = try await store.queue.claim(kinds: [.build], limit: 1, owner: "w", lease: .seconds(5))[0]
            await workers.execute(first)
            var state = try await job(store, id)
            #expect(state.state == "queued" && state.attempts == 1)
            #expect(state.error?.contains("cannotConnectToHost") == true || state.error?.contains("URLError") == true)
            // Measured from when the failure was recorded, not from now: a loaded machine reads it later.
            let delay = try await store.client.query("SELECT extract(epoch FROM run_at - updated_at)::float8 FROM jobs WHERE id = \(id)")
                .collect()[0].decode(Double.self)
            #expect((1.0...2.0).contains(delay))      // attempt 1, jitter 0.5: 1.5 s

            try await store.client.query("UPDATE jobs SET run_at = now() WHERE id = \(id)")
            let second = try await store.queue.claim(kinds: [.build], limit: 1, owner: "w", lease: .seconds(5))[0]
            await workers.execute(second)
            state = try await job(store, id)
            #expect(state.state == "dead" && state.attempts == 2)
            let row = try await store.deployment(deployment)
            #expect(row.record.state == .failed)
            #expect(row.record.reason?.hasPrefix("the build job gave up after 2 attempts") == true)
        }
    }

    @Test func newerCommitSupersedesQueuedBuildsAndStopsTheRunningOne() async throws {
        try await TestStack.withStore { store, url in
            try await store.syncServices([(Self.web, "web.yaml"), (Self.api, "api.yaml")])
            let stops = StopSignals()
            let listener = QueueListener(configuration: Database.connectionConfiguration(url), wake: WakeSignal(), stops: stops,
                                         logger: TestStack.logger)
            let handler = BlockingHandler(kind: .build)
            let workers = pool(store, [handler], stops: stops)
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await listener.run() }
                try await Task.sleep(for: .milliseconds(300))
                let first = try await store.createDeployment(service: "web", trigger: .push, sha: "a1", image: nil, firstJob: .build)
                let running = try await store.queue.claim(kinds: [.build], limit: 1, owner: "w", lease: .seconds(30))[0]
                group.addTask { await workers.execute(running) }
                let second = try await store.createDeployment(service: "web", trigger: .push, sha: "b2", image: nil, firstJob: .build)
                let other = try await store.createDeployment(service: "api", trigger: .push, sha: "c3", image: nil, firstJob: .build)
                let asked = ContinuousClock.now
                let third = try await store.createDeployment(service: "web", trigger: .push, sha: "d4", image: nil, firstJob: .build)

                // The queued one ended at once; the running one stops within seconds.
                #expect(try await store.deployment(second).record.state == .superseded)
                #expect(try await store.deployment(second).record.reason == "superseded by deployment \(third) (d4)")
                let deadline = ContinuousClock.now + .seconds(5)
                while try await store.deployment(first).record.state != .superseded && ContinuousClock.now < deadline {
                    try await Task.sleep(for: .milliseconds(20))
                }
                #expect(try await store.deployment(first).record.state == .superseded)
                #expect(try await job(store, running.id).state == "superseded")
                #expect(try await store.deployment(first).record.reason == "superseded by deployment \(second) (b2)")
                let stopped = try #require(handler.stoppedAt(running.id))
                #expect(stopped - asked < .seconds(15), "stopped after \(stopped - asked), as if the 30 s lease had run out")
                #expect(try await store.deployment(third).record.state == .queued)
                #expect(try await store.deployment(other).record.state == .queued)   // another service: untouched
                group.cancelAll()
            }
        }
    }

    @Test func cancellingAQueuedOrRunningBuildAndRefusingALiveOne() async throws {
        try await TestStack.withStore { store, url in
            try await store.syncServices([(Self.web, "web.yaml")])
            let stops = StopSignals()
            let listener = QueueListener(configuration: Database.connectionConfiguration(url), wake: WakeSignal(), stops: stops,
                                         logger: TestStack.logger)
            let handler = BlockingHandler(kind: .build)
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await listener.run() }
                try await Task.sleep(for: .milliseconds(300))
                let queued = try await store.createDeployment(service: "web", trigger: .manual, sha: nil, image: nil, firstJob: .build)
                #expect(try await store.queue.cancel(deploymentID: queued) == ([try await buildJob(store, deployment: queued)], []))
                #expect(try await store.deployment(queued).record.state == .cancelled)

                let running = try await store.createDeployment(service: "web", trigger: .manual, sha: nil, image: nil, firstJob: .build)
                let claimed = try await store.queue.claim(kinds: [.build], limit: 1, owner: "w", lease: .seconds(30))[0]
                group.addTask { await self.pool(store, [handler], stops: stops).execute(claimed) }
                while handler.started.isEmpty { try await Task.sleep(for: .milliseconds(10)) }
                let asked = ContinuousClock.now
                #expect(try await store.queue.cancel(deploymentID: running) == ([], [claimed.id]))
                while try await store.deployment(running).record.state != .cancelled && ContinuousClock.now - asked < .seconds(5) {
                    try await Task.sleep(for: .milliseconds(20))
                }
                #expect(try await store.deployment(running).record.state == .cancelled)
                #expect(try await job(store, claimed.id).state == "cancelled")
                // Stopped by the cancel's NOTIFY, not freed by its 30 s lease (a loaded machine adds seconds, not tens).
                #expect(ContinuousClock.now - asked < .seconds(15))

                try await store.client.query("UPDATE deployments SET state = 'watching' WHERE id = \(running)")
                await #expect(throws: CancelRefused.self) { try await store.queue.cancel(deploymentID: running) }
                await #expect(throws: StoreError.self) { try await store.queue.cancel(deploymentID: 99_999) }
                group.cancelAll()
            }
        }
    }

    @Test func buildLimitsHoldAcrossClaimers() async throws {
        try await TestStack.withStore { store, _ in
            try await store.syncServices([(Self.web, "web.yaml"), (Self.api, "api.yaml")])
            // Manual deploys of both services (enqueued directly: latest-wins would supersede same-service builds).
            for service in ["web", "web", "api", "api"] {
                try await store.queue.enqueue(NewJob(kind: .build, service: service))
            }
            let limits = KindLimits(global: 2, perService: 1)
            async let a = store.queue.claim(kind: .build, limits: limits, owner: "a", lease: .seconds(30))
            async let b = store.queue.claim(kind: .build, limits: limits, owner: "b", lease: .seconds(30))
            async let c = store.queue.claim(kind: .build, limits: limits, owner: "c", lease: .seconds(30))
            let claimed = try await [a, b, c].compactMap { $0 }
            #expect(claimed.count == 2)
            #expect(Set(claimed.compactMap(\.service)) == ["web", "api"])
            #expect(try await store.queue.claim(kind: .build, limits: limits, owner: "d", lease: .seconds(30)) == nil)
            _ = try await store.queue.complete(claimed[0])
            let next = try await store.queue.claim(kind: .build, limits: limits, owner: "d", lease: .seconds(30))
            #expect(next?.service == claimed[0].service)
        }
    }

    @Test func oneRolloutPerTargetAtATime() async throws {
        try await TestStack.withStore { store, _ in
            // Two rollouts of web's main environment, one of its preview for PR 7.
            for environment in ["main", "main", "pr-7"] {
                try await store.queue.enqueue(NewJob(kind: .rollout, service: "web", environment: environment))
            }
            let limits = KindLimits(perTarget: 1)
            var claimed: [ClaimedJob] = []
            while let job = try await store.queue.claim(kind: .rollout, limits: limits, owner: "w", lease: .seconds(30)) {
                claimed.append(job)
            }
            // The preview's rollout does not wait for main's; main's second waits for its first.
            #expect(claimed.count == 2)
            let environments = try await store.client.query("""
                SELECT environment FROM jobs WHERE id = ANY(\(claimed.map(\.id))) ORDER BY environment
                """).collect().map { try $0.decode(String.self) }
            #expect(environments == ["main", "pr-7"])
            _ = try await store.queue.complete(claimed[0])
            #expect(try await store.queue.claim(kind: .rollout, limits: limits, owner: "w", lease: .seconds(30)) != nil)
        }
    }

    @Test func jobsPastTheirDeadlineStop() async throws {
        try await TestStack.withStore { store, _ in
            // A worker pool stops a job at its own deadline, on the pool's clock: half an hour passes at once.
            let id = try #require(try await store.queue.enqueue(NewJob(kind: .build, timeout: .minutes(30))))
            let handler = BlockingHandler(kind: .build)
            let clock = TestClock()
            let workers = pool(store, [handler], clock: ServiceClock(clock))
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await workers.run() }
                while handler.started.isEmpty { try await Task.sleep(for: .milliseconds(10)) }
                await clock.waitForSleepers()       // the supervisor waits for its next look
                clock.advance(by: Duration.seconds(1800) - Duration.milliseconds(1))
                await clock.waitForSleepers()
                #expect(try await job(store, id).state == "running", "a millisecond before its deadline it still runs")
                clock.advance(by: Duration.milliseconds(250))
                while try await job(store, id).state != "dead" { try await Task.sleep(for: .milliseconds(20)) }
                group.cancelAll()
            }
            var state = try await job(store, id)
            #expect(state.state == "dead" && state.error == "the build job timed out after 30m")

            // A stuck worker that never stops: asked, then declared dead after the grace period.
            let stuck = try #require(try await store.queue.enqueue(NewJob(kind: .build, timeout: .milliseconds(100))))
            _ = try await store.queue.claim(kinds: [.build], limit: 1, owner: "stuck", lease: .seconds(30))
            try await Task.sleep(for: .milliseconds(200))
            // Graces far from the elapsed times, so a loaded machine's pauses cannot blur asked and declared dead.
            #expect(try await store.queue.enforceDeadlines(grace: .seconds(60)) == (1, 0))
            #expect(try await job(store, stuck).cancel == "timeout")
            try await Task.sleep(for: .milliseconds(300))
            #expect(try await store.queue.enforceDeadlines(grace: .milliseconds(200)) == (0, 1))
            state = try await job(store, stuck)
            #expect(state.state == "dead")
        }
    }

    @Test func pruningRemovesOnlyOldFinishedJobs() async throws {
        try await TestStack.withStore { store, _ in
            let ids = try await store.queue.enqueueBatch(kind: JobKind("test.noop"), count: 4)
            try await store.client.query("""
                UPDATE jobs SET state = 'succeeded', finished_at = now() - interval '8 days' WHERE id = ANY(\(Array(ids.prefix(2))))
                """)
            try await store.client.query("UPDATE jobs SET state = 'dead', finished_at = now() WHERE id = \(ids[2])")
            #expect(try await store.queue.prune(olderThan: .seconds(7 * 86_400)) == 2)
            let left = try await store.client.query("SELECT id FROM jobs ORDER BY id").collect().map { try $0.decode(Int64.self) }
            #expect(left == Array(ids.suffix(2)))
        }
    }

    /// Decided by the database's clock, not by sleeping: the lease is made to have run out by
    /// moving its expiry into the past, so a loaded machine cannot turn seconds into a failure.
    @Test func oneLeaderAtATimeAndFailoverAfterTheLeaseExpires() async throws {
        try await TestStack.withStore { store, _ in
            let lease = LeaderLease(pool: store.pool, name: "maintenance", logger: TestStack.logger)
            #expect(try await lease.acquire(holder: "a", ttl: .seconds(60)))
            #expect(try await lease.acquire(holder: "b", ttl: .seconds(60)) == false)
            #expect(try await lease.acquire(holder: "a", ttl: .seconds(60)))    // renewal
            #expect(try await lease.holder() == "a")
            // "a" dies: no renewal. While its lease runs, "b" waits…
            #expect(try await lease.acquire(holder: "b", ttl: .seconds(60)) == false)
            #expect(try await lease.holder() == "a")
            // …once it has run out, nobody holds it, and "b" takes over.
            try await store.client.query("UPDATE leader_leases SET expires_at = now() - interval '1 millisecond' WHERE name = 'maintenance'")
            #expect(try await lease.holder() == nil)
            #expect(try await lease.acquire(holder: "b", ttl: .seconds(60)))
            #expect(try await lease.holder() == "b")
            #expect(try await lease.acquire(holder: "a", ttl: .seconds(60)) == false)
            try await lease.release(holder: "b")
            #expect(try await lease.acquire(holder: "a", ttl: .seconds(60)))
        }
    }

    @Test func twoMaintenanceReplicasShareTheWork() async throws {
        try await TestStack.withStore { store, _ in
            // A TTL with room for a busy machine: the leader renews every 100 ms.
            let settings = Maintenance.Settings(tick: .milliseconds(100), leaderTTL: .seconds(3))
            let lease = LeaderLease(pool: store.pool, name: "maintenance", logger: TestStack.logger)
            let a = Maintenance(queue: store.queue, lease: lease, holder: "a", settings: settings, logger: TestStack.logger)
            let b = Maintenance(queue: store.queue, lease: lease, holder: "b", settings: settings, logger: TestStack.logger)
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await a.run() }
                for _ in 0..<60 where try await lease.holder() != "a" { try await Task.sleep(for: .milliseconds(50)) }
                group.addTask { try await b.run() }
                try await Task.sleep(for: .milliseconds(500))
                #expect(try await lease.holder() == "a")
                // A job whose worker died is rescued by the leader.
                let id = try #require(try await store.queue.enqueue(NewJob(kind: .build)))
                _ = try await store.queue.claim(kinds: [.build], limit: 1, owner: "dead", lease: .milliseconds(200))
                for _ in 0..<60 where try await job(store, id).state != "queued" { try await Task.sleep(for: .milliseconds(50)) }
                #expect(try await job(store, id).state == "queued")
                group.cancelAll()
            }
        }
    }
}
