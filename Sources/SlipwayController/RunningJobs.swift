import SlipwayCore
import SlipwayStore
import Synchronization

/// The jobs a worker pool is running now: what to cancel when one must stop (a stop
/// request, a lost lease, its deadline) and why, so the outcome names the right reason.
final class RunningJobs: Sendable {
    struct Entry {
        var job: ClaimedJob
        /// On the pool's clock (`ServiceClock.elapsed`).
        var deadline: Duration
        var cancel: @Sendable () -> Void
        /// Set once, by whichever reason to stop came first.
        var stop: JobOutcome?
    }

    private let entries = Mutex<[Int64: Entry]>([:])

    func start(_ job: ClaimedJob, deadline: Duration, cancel: @escaping @Sendable () -> Void) {
        entries.withLock { $0[job.id] = Entry(job: job, deadline: deadline, cancel: cancel) }
    }

    /// Removes the job; returns why it was stopped, if it was.
    func finish(_ jobID: Int64) -> JobOutcome? {
        entries.withLock { $0.removeValue(forKey: jobID)?.stop }
    }

    /// Stops a job of this pool (ignored for jobs it does not run). The first reason wins.
    func stop(_ jobID: Int64, because outcome: JobOutcome) {
        let cancel: (@Sendable () -> Void)? = entries.withLock { entries in
            guard var entry = entries[jobID], entry.stop == nil else { return nil }
            entry.stop = outcome
            entries[jobID] = entry
            return entry.cancel
        }
        cancel?()
    }

    func jobs() -> [ClaimedJob] {
        entries.withLock { $0.values.map(\.job) }
    }

    func overdue(at now: Duration) -> [ClaimedJob] {
        entries.withLock { $0.values.filter { $0.stop == nil && $0.deadline <= now }.map(\.job) }
    }

    func stopAll(because outcome: JobOutcome) {
        for job in jobs() { stop(job.id, because: outcome) }
    }
}
