import Foundation
import Logging
import PostgresNIO
import SlipwayController
import SlipwayCore
import SlipwayStore
import Synchronization

/// Throughput: enqueue N no-op jobs (not timed), then time draining them.
enum Drain {
    static func prepare(_ store: Store, jobs: Int, kind: JobKind) async throws {
        try await store.client.query("TRUNCATE jobs")
        var left = jobs
        while left > 0 {
            let chunk = min(left, 10_000)
            _ = try await store.queue.enqueueBatch(kind: kind, count: chunk)
            left -= chunk
        }
        try await store.client.query("VACUUM ANALYZE jobs")
    }

    static func lost(_ store: Store) async throws -> Int {
        try await store.client.query("SELECT count(*)::int FROM jobs WHERE state <> 'succeeded'").collect()[0].decode(Int.self)
    }

    static func result(_ name: String, _ options: BenchOptions, _ elapsed: Duration, lost: Int) -> String {
        BenchOptions.json([("name", name), ("jobs", options.jobs), ("workers", options.workers), ("batch", options.batch),
                           ("seconds", elapsed.seconds), ("jobs_per_s", Double(options.jobs) / elapsed.seconds), ("lost", lost)])
    }

    /// The ceiling: the queue's claim and complete statements in a tight loop, each worker
    /// with the same two sessions the queue uses (claims without waiting for the WAL flush,
    /// completions durable).
    static func raw(store: Store, url: DatabaseURL, options: BenchOptions, kind: JobKind, logger: Logger) async throws -> String {
        try await prepare(store, jobs: options.jobs, kind: kind)
        let start = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            for worker in 0..<options.workers {
                group.addTask {
                    let configuration = Database.connectionConfiguration(url)
                    let claims = try await PostgresConnection.connect(configuration: configuration, id: worker * 2, logger: logger)
                    let completions = try await PostgresConnection.connect(configuration: configuration, id: worker * 2 + 1, logger: logger)
                    try await claims.query("SET synchronous_commit = off", logger: logger)
                    defer { Task { try? await claims.close(); try? await completions.close() } }
                    while true {
                        let token = UUID()
                        let rows = try await claims.query(
                            JobQueue.claimQuery(kinds: [kind], limit: options.batch, owner: "raw-\(worker)", lease: .seconds(30), token: token),
                            logger: logger)
                        let jobs = try await JobQueue.claimed(rows, token: token)
                        if jobs.isEmpty { return }
                        _ = try await completions.query(JobQueue.completeQuery(jobs), logger: logger).collect()
                    }
                }
            }
            try await group.waitForAll()
        }
        let elapsed = ContinuousClock.now - start
        return result("raw", options, elapsed, lost: try await lost(store))
    }

    /// The real thing: W worker pools (B slots, claims of B), NOTIFY listener, batched completions.
    static func slipway(store: Store, options: BenchOptions, kind: JobKind, logger: Logger) async throws -> String {
        try await prepare(store, jobs: options.jobs, kind: kind)
        let handler = NoOp(kind: kind)
        let wake = WakeSignal()
        let pools = (0..<options.workers).map { worker in
            WorkerPool(settings: .init(name: "bench-\(worker)", kinds: [kind], concurrency: options.batch, batch: options.batch,
                                       lease: .seconds(30), pollInterval: .milliseconds(100)),
                       queue: store.queue, handlers: [handler], wake: wake, logger: logger)
        }
        let start = ContinuousClock.now
        let elapsed: Duration = try await withThrowingTaskGroup(of: Void.self) { group in
            for pool in pools { group.addTask { try await pool.run() } }
            // Done when every success is written, not just run.
            while handler.count < options.jobs { try await Task.sleep(for: .milliseconds(5)) }
            while try await store.client.query("SELECT count(*)::int FROM jobs WHERE state = 'succeeded'").collect()[0]
                .decode(Int.self) < options.jobs {
                try await Task.sleep(for: .milliseconds(5))
            }
            let elapsed = ContinuousClock.now - start
            group.cancelAll()
            return elapsed
        }
        return result("slipway", options, elapsed, lost: try await lost(store))
    }
}

/// Does nothing, and counts.
final class NoOp: JobHandler, Sendable {
    let kind: JobKind
    private let runs = Atomic<Int>(0)
    var count: Int { runs.load(ordering: .relaxed) }
    init(kind: JobKind) { self.kind = kind }
    func run(_ job: ClaimedJob, logger: Logger) async throws {
        runs.add(1, ordering: .relaxed)
    }
}
