import Foundation
import Logging
import PostgresNIO
import SlipwayController
import SlipwayCore
import SlipwayStore

/// Enqueue → start on an idle queue: one job at a time, timed in this process with the
/// monotonic clock from just before the enqueue to the first line of the handler.
enum Latency {
    static func measure(store: Store, url: DatabaseURL, samples: Int, kind: JobKind, logger: Logger) async throws -> String {
        try await store.client.query("TRUNCATE jobs")
        let (starts, started) = AsyncStream<ContinuousClock.Instant>.makeStream()
        let handler = Signalling(kind: kind, started: started)
        let wake = WakeSignal()
        let pool = WorkerPool(settings: .init(name: "latency", kinds: [kind], concurrency: 4, batch: 4, lease: .seconds(30),
                                              pollInterval: .seconds(5)),
                              queue: store.queue, handlers: [handler], wake: wake, logger: logger)
        let listener = QueueListener(configuration: Database.connectionConfiguration(url), wake: wake, logger: logger)
        var latencies: [Double] = []
        var enqueues: [Double] = []
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await pool.run() }
            group.addTask { try await listener.run() }
            try await Task.sleep(for: .milliseconds(500))   // listening, workers idle
            var iterator = starts.makeAsyncIterator()
            for _ in 0..<samples {
                let before = ContinuousClock.now
                _ = try await store.queue.enqueue(NewJob(kind: kind))
                enqueues.append((ContinuousClock.now - before).seconds * 1000)
                guard let at = await iterator.next() else { break }
                latencies.append((at - before).seconds * 1000)
                try await Task.sleep(for: .milliseconds(2))
            }
            group.cancelAll()
        }
        latencies.sort()
        enqueues.sort()
        func percentile(_ p: Double) -> Double { latencies[min(latencies.count - 1, Int(Double(latencies.count) * p))] }
        return BenchOptions.json([("name", "latency"), ("samples", latencies.count), ("p50_ms", percentile(0.5)),
                                  ("p99_ms", percentile(0.99)), ("max_ms", latencies.last ?? 0),
                                  ("enqueue_p50_ms", enqueues[enqueues.count / 2])])
    }
}

final class Signalling: JobHandler, Sendable {
    let kind: JobKind
    let started: AsyncStream<ContinuousClock.Instant>.Continuation
    init(kind: JobKind, started: AsyncStream<ContinuousClock.Instant>.Continuation) {
        self.kind = kind
        self.started = started
    }
    func run(_ job: ClaimedJob, logger: Logger) async throws {
        started.yield(.now)
    }
}
