import Foundation
import Logging
import PostgresNIO
import SlipwayController
import SlipwayCore
import SlipwayStore
import Testing

/// A handler that counts its runs and can block until released, like a long build.
final class CountingHandler: JobHandler, @unchecked Sendable {
    let kind: JobKind
    private let lock = NSLock()
    private var _runs: [Int64] = []
    var runs: [Int64] { lock.withLock { _runs } }
    let failFirst: Bool

    init(kind: JobKind, failFirst: Bool = false) {
        self.kind = kind
        self.failFirst = failFirst
    }

    func run(_ job: ClaimedJob, logger: Logger) async throws {
        let count = lock.withLock { () -> Int in
            _runs.append(job.id)
            return _runs.count
        }
        if failFirst && count == 1 { throw PermanentJobError("first run fails for good") }
    }
}

@Suite(.enabled(if: TestStack.enabled), .serialized)
struct JobQueueTests {
    func jobState(_ store: Store, _ id: Int64) async throws -> (state: String, attempts: Int, lastError: String?) {
        let rows = try await store.client.query("SELECT state, attempts, last_error FROM jobs WHERE id = \(id)").collect()
        let row = try #require(rows.first).makeRandomAccess()
        return (try row["state"].decode(String.self), try row["attempts"].decode(Int.self), try row["last_error"].decode(String?.self))
    }

    @Test func migrationsAreIdempotent() async throws {
        try await TestStack.withStore { store, _ in
            let applied = try await store.migrate()
            #expect(applied == [])
            // Every file in migrations/ is embedded, numbered without gaps.
            let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../migrations").standardized
            let files = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".sql") }
            #expect(Migrator.migrations.map(\.version) == Array(1...files.count))
        }
    }

    @Test func enqueueClaimComplete() async throws {
        try await TestStack.withStore { store, _ in
            let queue = store.queue
            let id = try #require(try await queue.enqueue(NewJob(kind: .build)))
            let claimed = try await queue.claim(kinds: [.build], limit: 10, owner: "w1", lease: .seconds(30))
            #expect(claimed.map(\.id) == [id])
            #expect(claimed.first?.attempts == 1)
            #expect(try await queue.claim(kinds: [.build], limit: 10, owner: "w2", lease: .seconds(30)).isEmpty)
            #expect(try await queue.complete(claimed[0]))
            #expect(try await jobState(store, id).state == "succeeded")
            // A second completion with the same lease changes nothing.
            #expect(try await queue.complete(claimed[0]) == false)
        }
    }

    @Test func claimsSkipLockedRowsAndRespectKindsPriorityAndRunAt() async throws {
        try await TestStack.withStore { store, _ in
            let queue = store.queue
            let low = try #require(try await queue.enqueue(NewJob(kind: .build)))
            let high = try #require(try await queue.enqueue(NewJob(kind: .build, priority: 10)))
            _ = try await queue.enqueue(NewJob(kind: .build, delay: .minutes(10)))
            let watch = try #require(try await queue.enqueue(NewJob(kind: .watch)))
            async let a = queue.claim(kinds: [.build], limit: 1, owner: "a", lease: .seconds(30))
            async let b = queue.claim(kinds: [.build], limit: 1, owner: "b", lease: .seconds(30))
            let claimed = try await (a + b).map(\.id)
            #expect(Set(claimed) == [low, high])
            #expect(try await queue.claim(kinds: [.build], limit: 5, owner: "c", lease: .seconds(30)).isEmpty)
            #expect(try await queue.claim(kinds: [.watch], limit: 5, owner: "c", lease: .seconds(30)).map(\.id) == [watch])
        }
    }

    @Test func dedupeKeysHoldWhilePending() async throws {
        try await TestStack.withStore { store, _ in
            let queue = store.queue
            let first = try await queue.enqueue(NewJob(kind: .rollout, dedupeKey: "rollout:1"))
            #expect(first != nil)
            #expect(try await queue.enqueue(NewJob(kind: .rollout, dedupeKey: "rollout:1")) == nil)
            let job = try await queue.claim(kinds: [.rollout], limit: 1, owner: "w", lease: .seconds(30))[0]
            _ = try await queue.complete(job)
            #expect(try await queue.enqueue(NewJob(kind: .rollout, dedupeKey: "rollout:1")) != nil)
        }
    }

    /// A worker claims a job and dies (no heartbeat, no completion). After its lease
    /// expires the job runs again on another worker and exactly one success is recorded;
    /// the dead worker's late completion is refused.
    @Test func killedWorkersJobRunsAgainAfterItsLeaseExpires() async throws {
        try await TestStack.withStore { store, _ in
            let queue = store.queue
            let id = try #require(try await queue.enqueue(NewJob(kind: .build)))
            let lost = try await queue.claim(kinds: [.build], limit: 1, owner: "killed-worker", lease: .milliseconds(300))[0]

            #expect(try await queue.rescueExpired() == 0)       // lease still valid
            try await Task.sleep(for: .milliseconds(400))
            #expect(try await queue.rescueExpired() == 1)
            #expect(try await jobState(store, id).state == "queued")

            let handler = CountingHandler(kind: .build)
            let pool = WorkerPool(settings: .init(name: "t", kinds: [.build], concurrency: 1, lease: .seconds(5),
                                                  pollInterval: .milliseconds(50)),
                                  queue: queue, handlers: [handler], wake: WakeSignal(), logger: TestStack.logger)
            let again = try await queue.claim(kinds: [.build], limit: 1, owner: "survivor", lease: .seconds(5))[0]
            #expect(again.id == id && again.attempts == 2)
            await pool.execute(again)

            #expect(handler.runs == [id])
            #expect(try await queue.complete(lost) == false)
            // The pool writes completions in the background: wait for it to land.
            var state = try await jobState(store, id)
            for _ in 0..<100 where state.state != "succeeded" {
                try await Task.sleep(for: .milliseconds(50))
                state = try await jobState(store, id)
            }
            #expect(state.state == "succeeded" && state.attempts == 2)
            let successes = try await store.client.query("SELECT count(*) FROM jobs WHERE state = 'succeeded'").collect()
            #expect(try successes[0].decode(Int.self) == 1)
        }
    }

    @Test func workerPoolDrainsJobsWokenByNotify() async throws {
        try await TestStack.withStore { store, url in
            let handler = CountingHandler(kind: .build)
            let wake = WakeSignal()
            let pool = WorkerPool(settings: .init(name: "t", kinds: [.build], concurrency: 2, lease: .seconds(5),
                                                  pollInterval: .seconds(30)),   // long: only NOTIFY can wake it in time
                                  queue: store.queue, handlers: [handler], wake: wake, logger: TestStack.logger)
            let listener = QueueListener(configuration: Database.connectionConfiguration(url), wake: wake, logger: TestStack.logger)
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await listener.run() }
                group.addTask { try await pool.run() }
                try await Task.sleep(for: .milliseconds(500))   // workers idle, listener connected
                var ids: [Int64] = []
                for _ in 0..<5 { ids.append(try #require(try await store.queue.enqueue(NewJob(kind: .build)))) }
                let deadline = ContinuousClock.now + .seconds(10)
                while handler.runs.count < 5 && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
                group.cancelAll()
                #expect(Set(handler.runs) == Set(ids))
            }
        }
    }

    @Test func permanentFailureKillsTheJobAndFailsItsDeployment() async throws {
        try await TestStack.withStore { store, _ in
            try await store.syncServices([(Policy(service: "web", source: .init(repo: "https://github.com/a/b.git"),
                                                  image: "r.example.com/a/web"), "web.yaml")])
            let deployment = try await store.createDeployment(service: "web", trigger: .manual, sha: nil, image: nil, firstJob: .build)
            let handler = CountingHandler(kind: .build, failFirst: true)
            let pool = WorkerPool(settings: .init(name: "t", kinds: [.build], concurrency: 1, lease: .seconds(5),
                                                  pollInterval: .milliseconds(50)),
                                  queue: store.queue, handlers: [handler], wake: WakeSignal(), logger: TestStack.logger)
            let job = try await store.queue.claim(kinds: [.build], limit: 1, owner: "w", lease: .seconds(5))[0]
            await pool.execute(job)
            #expect(try await jobState(store, job.id).state == "dead")
            let row = try await store.deployment(deployment)
            #expect(row.record.state == .failed)
            #expect(row.record.reason?.contains("first run fails for good") == true)
        }
    }
}
