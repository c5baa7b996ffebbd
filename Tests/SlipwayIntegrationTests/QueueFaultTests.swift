import Foundation
import Logging
import PostgresNIO
import SlipwayController
import SlipwayCore
import SlipwayStore
import SlipwayTestSupport
import Testing

/// The queue under database faults: everything enqueued is done in the end, nothing stuck.
@Suite(.enabled(if: TestStack.enabled))
struct QueueFaultTests {
    static let kind = JobKind("test.noop")

    /// Runs a pool, a listener and maintenance against `url` until every job is done or the deadline passes.
    /// `fault` must finish before the jobs do (each takes `jobTime`), so it lands mid-run.
    func drain(_ store: Store, url: DatabaseURL, jobs: Int, jobTime: Duration,
               fault: @escaping @Sendable () async throws -> Void) async throws -> (done: Int, left: Int, faultedMidRun: Bool) {
        let ids = try await store.queue.enqueueBatch(kind: Self.kind, count: jobs)
        let handler = SlowCountingHandler(kind: Self.kind, jobTime: jobTime)
        let faultDone = FaultFlag()
        let wake = WakeSignal()
        let stops = StopSignals()
        let pool = WorkerPool(settings: .init(name: "fault", kinds: [Self.kind], concurrency: 8, batch: 8, lease: .seconds(2),
                                              pollInterval: .milliseconds(100)),
                              queue: store.queue, handlers: [handler], wake: wake, stops: stops, logger: TestStack.logger)
        let listener = QueueListener(configuration: Database.connectionConfiguration(url), wake: wake, stops: stops, logger: TestStack.logger)
        let maintenance = Maintenance(queue: store.queue, lease: LeaderLease(pool: store.pool, name: "maintenance", logger: TestStack.logger),
                                      settings: .init(tick: .milliseconds(200), leaderTTL: .seconds(2)), logger: TestStack.logger)
        let running = Running()
        // A part that does not stop once cancelled would hang the test: name it.
        let watchdog = Task {
            try await Task.sleep(for: .seconds(110))
            while true {
                print("QueueFaultTests: still running: \(running.names)")
                try await Task.sleep(for: .seconds(10))
            }
        }
        defer { watchdog.cancel() }
        return try await withThrowingTaskGroup(of: Void.self) { group in
            func add(_ name: String, _ body: @escaping @Sendable () async throws -> Void) {
                running.start(name)
                group.addTask {
                    defer { running.end(name) }
                    try await body()
                }
            }
            add("pool") { try await pool.run() }
            add("listener") { try await listener.run() }
            add("maintenance") { try await maintenance.run() }
            add("fault") {
                try await fault()
                // Counted in memory: a database query here could itself be caught by the fault.
                faultDone.set(Set(handler.runs).count < ids.count)
            }
            let deadline = ContinuousClock.now + .seconds(90)
            var done = 0
            // The test's own queries are bounded too: a call whose connection the fault killed may never return.
            func count(_ sql: String) async throws -> Int {
                try await store.withinDeadline(.seconds(5)) {
                    try await store.client.query(PostgresQuery(unsafeSQL: sql)).collect()[0].decode(Int.self)
                }
            }
            while ContinuousClock.now < deadline {
                if let succeeded = try? await count("SELECT count(*)::int FROM jobs WHERE state = 'succeeded'") {
                    done = succeeded
                    if done == ids.count { break }
                }
                try await Task.sleep(for: .milliseconds(200))
            }
            group.cancelAll()
            var left = -1
            for _ in 0..<5 where left < 0 { left = (try? await count("SELECT count(*)::int FROM jobs WHERE state <> 'succeeded'")) ?? -1 }
            #expect(Set(handler.runs).isSuperset(of: ids))
            return (done, left, faultDone.value)
        }
    }

    @Test func postgresRestartsMidRun() async throws {
        let scripts = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../deploy/local").standardized.path
        let dir = try Scratch.directory("pg-restart")
        _ = chmod(dir, 0o755)
        let text = try Command.run("/bin/bash", ["\(scripts)/postgres.sh", "start", "\(dir)/pg"], environment: ["PG_FAST": "1"]).output
        defer { _ = try? Command.run("/bin/bash", ["\(scripts)/postgres.sh", "stop", "\(dir)/pg"]) }
        let url = try DatabaseURL(parsing: text)
        try await Store.open(url, logger: TestStack.logger, migrate: true) { store in
            let result = try await drain(store, url: url, jobs: 800, jobTime: .milliseconds(25)) {
                try await Task.sleep(for: .milliseconds(700))
                try await offPool { try Command.run("/bin/bash", ["\(scripts)/postgres.sh", "stop", "\(dir)/pg"]) }
                try await Task.sleep(for: .milliseconds(500))
                try await offPool { try Command.run("/bin/bash", ["\(scripts)/postgres.sh", "start", "\(dir)/pg"], environment: ["PG_FAST": "1"]) }
            }
            #expect(result.faultedMidRun)
            #expect(result.done == 800 && result.left == 0, "done \(result.done), left \(result.left)")
        }
    }

    @Test func workerConnectionsKilledRepeatedly() async throws {
        try await TestStack.withStore { store, url in
            let database = url.database
            let admin = try DatabaseURL(parsing: try TestStack.databaseURL)
            let result = try await drain(store, url: url, jobs: 2000, jobTime: .milliseconds(25)) {
                try await Store.open(admin, logger: TestStack.logger) { killer in
                    for _ in 0..<8 {
                        try await Task.sleep(for: .milliseconds(250))
                        _ = try? await killer.client.query("""
                            SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                            WHERE datname = \(database) AND pid <> pg_backend_pid()
                            """).collect()
                    }
                }
            }
            #expect(result.faultedMidRun)
            #expect(result.done == 2000 && result.left == 0, "done \(result.done), left \(result.left)")
        }
    }
}

/// Counts runs; each takes a few milliseconds, so faults land while jobs are in flight.
final class SlowCountingHandler: JobHandler, @unchecked Sendable {
    let kind: JobKind
    private let lock = NSLock()
    private var _runs: [Int64] = []
    var runs: [Int64] { lock.withLock { _runs } }

    let jobTime: Duration

    init(kind: JobKind, jobTime: Duration) {
        self.kind = kind
        self.jobTime = jobTime
    }

    func run(_ job: ClaimedJob, logger: Logger) async throws {
        try await Task.sleep(for: jobTime)
        lock.withLock { _runs.append(job.id) }
    }
}

/// The parts of a drain still running.
final class Running: @unchecked Sendable {
    private let lock = NSLock()
    private var _names: Set<String> = []
    var names: [String] { lock.withLock { _names.sorted() } }
    func start(_ name: String) { _ = lock.withLock { _names.insert(name) } }
    func end(_ name: String) { _ = lock.withLock { _names.remove(name) } }
}

final class FaultFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var _value = false
    var value: Bool { lock.withLock { _value } }
    func set(_ value: Bool) { lock.withLock { _value = value } }
}

/// Runs blocking work on its own thread, keeping the concurrency pool free.
func offPool<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread { continuation.resume(with: Result { try work() }) }.start()
    }
}
