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

    init(queue: JobQueue, batch: Int, linger: Duration, logger: Logger, afterFlush: @escaping @Sendable () async -> Void) {
        self.afterFlush = afterFlush
        self.queue = queue
        self.batch = max(1, batch)
        self.linger = linger
        self.logger = logger
    }

    func add(_ job: ClaimedJob) async {
        pending.append(job)
        if pending.count >= batch {
            await flush()
        } else if !timerRunning {
            timerRunning = true
            Task {
                try? await Task.sleep(for: linger)
                await self.timerFired()
            }
        }
    }

    private func timerFired() async {
        timerRunning = false
        await flush()
    }

    func flush() async {
        guard !pending.isEmpty else { return }
        let jobs = pending
        pending.removeAll(keepingCapacity: true)
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
