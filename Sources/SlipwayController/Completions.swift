import Logging
import SlipwayCore
import SlipwayStore

/// Successes waiting to be written, flushed in one statement when `batch` have gathered
/// or `linger` has passed. A success lost with the process is a job run again after its
/// lease expires: the queue is at-least-once either way.
actor Completions {
    let queue: JobQueue
    let batch: Int
    let linger: Duration
    let logger: Logger
    let afterFlush: @Sendable () async -> Void
    private var pending: [ClaimedJob] = []
    private var timerRunning = false
    /// Writes under way, awaited by `flush` so shutdown does not cut one off.
    private var writing: [Int: Task<Void, Never>] = [:]
    private var nextWrite = 0

    init(queue: JobQueue, batch: Int, linger: Duration, logger: Logger, afterFlush: @escaping @Sendable () async -> Void) {
        self.afterFlush = afterFlush
        self.queue = queue
        self.batch = max(1, batch)
        self.linger = linger
        self.logger = logger
    }

    /// Takes a success; never waits for the write, so the worker can claim its next batch
    /// while this one is being recorded.
    func add(_ job: ClaimedJob) {
        pending.append(job)
        if pending.count >= batch {
            startWrite(take())
        } else if !timerRunning {
            timerRunning = true
            Task {
                try? await Task.sleep(for: linger)
                self.timerFired()
            }
        }
    }

    private func timerFired() {
        timerRunning = false
        startWrite(take())
    }

    private func startWrite(_ jobs: [ClaimedJob]) {
        guard !jobs.isEmpty else { return }
        let id = nextWrite
        nextWrite += 1
        writing[id] = Task {
            await write(jobs)
            self.finished(id)
        }
    }

    private func finished(_ id: Int) {
        writing[id] = nil
    }

    /// Writes what is pending now and waits for every write under way (at shutdown).
    func flush() async {
        startWrite(take())
        for task in writing.values { await task.value }
    }

    private func take() -> [ClaimedJob] {
        defer { pending.removeAll(keepingCapacity: true) }
        return pending
    }

    private nonisolated func write(_ jobs: [ClaimedJob]) async {
        guard !jobs.isEmpty else { return }
        do {
            let done = try await queue.complete(jobs)
            for job in jobs where !done.contains(job.id) {
                logger.warning("job finished but its lease had passed to another worker; result not recorded",
                               metadata: ["job.id": "\(job.id)", "job.kind": "\(job.kind)"])
            }
        } catch {
            logger.error("recording finished jobs failed; their leases will expire and they will run again",
                         metadata: ["error": "\(String(reflecting: error))", "jobs.count": "\(jobs.count)"])
        }
        await afterFlush()
    }
}
