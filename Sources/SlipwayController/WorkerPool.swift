import Foundation
import Logging
import ServiceLifecycle
import SlipwayCore
import SlipwayStore
import Synchronization

/// Claims jobs of `kinds` in batches into `concurrency` slots and runs each; one
/// supervisor per pool extends every running job's lease in a single statement, stops
/// jobs past their deadline, and passes on stop requests; then the outcome is written.
/// Idle, the pool sleeps until a NOTIFY, a free slot or the poll interval.
public final class WorkerPool: Service, Sendable {
    public struct Settings: Sendable {
        public var name: String
        public var kinds: [JobKind]
        /// Kinds with limits are claimed one at a time, under those limits.
        public var limits: [JobKind: KindLimits]
        public var concurrency: Int
        /// How many jobs one claim may take (kinds without limits).
        public var batch: Int
        public var lease: TimeSpan
        public var pollInterval: TimeSpan

        public init(name: String, kinds: [JobKind], limits: [JobKind: KindLimits] = [:], concurrency: Int,
                    batch: Int = 1, lease: TimeSpan, pollInterval: TimeSpan) {
            self.name = name
            self.kinds = kinds
            self.limits = limits
            self.concurrency = concurrency
            self.batch = batch
            self.lease = lease
            self.pollInterval = pollInterval
        }
    }

    let settings: Settings
    let queue: JobQueue
    let handlers: [JobKind: any JobHandler]
    let wake: WakeSignal
    let logger: Logger
    let owner: String
    let random: @Sendable () -> Double
    /// Job deadlines, heartbeats and retries of a failed claim run on it.
    let clock: ServiceClock
    let completions: Completions
    let running = RunningJobs()
    /// Claimed and not yet finished (claimed jobs are counted before they start).
    private let inFlight = Mutex(0)
    private let slotFreed: WakeSignal
    /// Counts retries and jobs that gave up, by kind.
    let count: MetricCounter?

    public init(settings: Settings, queue: JobQueue, handlers: [any JobHandler], wake: WakeSignal,
                stops: StopSignals = StopSignals(), logger: Logger, clock: ServiceClock = .continuous,
                random: @escaping @Sendable () -> Double = { Double.random(in: 0..<1) }, count: MetricCounter? = nil) {
        self.count = count
        self.clock = clock
        self.settings = settings
        self.queue = queue
        self.handlers = Dictionary(handlers.map { ($0.kind, $0) }) { first, _ in first }
        self.wake = wake
        self.logger = logger
        self.random = random
        self.owner = "\(ProcessInfo.processInfo.hostName):\(getpid()):\(settings.name)"
        let slotFreed = WakeSignal()
        self.slotFreed = slotFreed
        // A finished job holds its place under the limits until its success is written.
        self.completions = Completions(queue: queue, batch: max(settings.batch, 1), linger: .milliseconds(2), logger: logger,
                                       afterFlush: { slotFreed.signal() })
        let running = self.running
        stops.subscribe { id, reason in running.stop(id, because: .stopped(reason)) }
    }

    public func run() async throws {
        logger.info("workers started", metadata: [
            "worker.pool": "\(settings.name)", "worker.slots": "\(settings.concurrency)",
            "worker.kinds": "\(settings.kinds.map(\.rawValue).joined(separator: ","))",
        ])
        await withDiscardingTaskGroup { group in
            group.addTask { await self.supervise() }
            await cancelWhenGracefulShutdown {
                await withDiscardingTaskGroup { jobs in
                    await self.dispatch(into: &jobs)
                }
            }
            group.cancelAll()
        }
        await completions.flush()
    }

    /// Claims while slots are free and runs each job in a child task.
    private func dispatch(into group: inout DiscardingTaskGroup) async {
        while !Task.isCancelled {
            let slotGeneration = slotFreed.generation
            let busy = inFlight.withLock { $0 }
            let free = settings.concurrency - busy
            // Claim whole batches: a claim per freed slot would cost a round trip per job.
            if free <= 0 || (busy > 0 && free < min(settings.batch, settings.concurrency)) {
                await slotFreed.wait(since: slotGeneration, timeout: settings.pollInterval.duration)
                continue
            }
            let workGeneration = wake.generation
            let jobs: [ClaimedJob]
            do {
                jobs = try await claim(upTo: free)
            } catch {
                if Task.isCancelled { return }
                logger.error("claiming jobs failed; retrying", metadata: ["error": "\(String(reflecting: error))"])
                try? await clock.sleep(settings.pollInterval.duration)
                continue
            }
            if jobs.isEmpty {
                await wake.wait(since: workGeneration, timeout: settings.pollInterval.duration)
                continue
            }
            inFlight.withLock { $0 += jobs.count }
            for job in jobs {
                group.addTask {
                    await self.execute(job)
                    self.inFlight.withLock { $0 -= 1 }
                    self.slotFreed.signal()
                }
            }
        }
        // Shutting down: what still runs goes back to the queue through its outcome.
        running.stopAll(because: .failed(message: "the worker shut down while the job ran", retryable: true))
    }

    private func claim(upTo free: Int) async throws -> [ClaimedJob] {
        let unlimited = settings.kinds.filter { settings.limits[$0] == nil }
        var jobs: [ClaimedJob] = []
        if !unlimited.isEmpty {
            jobs = try await queue.claim(kinds: unlimited, limit: min(settings.batch, free), owner: owner, lease: settings.lease)
        }
        for kind in settings.kinds where jobs.count < free {
            guard let limits = settings.limits[kind] else { continue }
            if let job = try await queue.claim(kind: kind, limits: limits, owner: owner, lease: settings.lease) {
                jobs.append(job)
            }
        }
        return jobs
    }

    /// Heartbeats for every running job at a third of the lease; deadlines checked more often.
    private func supervise() async {
        let beatEvery = Duration.milliseconds(settings.lease.milliseconds / 3)
        var lastBeat = clock.elapsed()
        while !Task.isCancelled {
            try? await clock.sleep(min(.milliseconds(250), beatEvery))
            let now = clock.elapsed()
            for job in running.overdue(at: now) { running.stop(job.id, because: .timedOut(after: job.timeout)) }
            guard now - lastBeat >= beatEvery else { continue }
            lastBeat = now
            let jobs = running.jobs()
            guard let beats = try? await queue.heartbeat(jobs, lease: settings.lease) else { continue }
            for (id, beat) in beats {
                switch beat {
                case .kept: continue
                case .lost: running.stop(id, because: .leaseLost)
                case .stopRequested(let reason): running.stop(id, because: .stopped(reason))
                }
            }
        }
    }

    /// Runs one claimed job to an outcome and records it. Exposed for tests that drive a single job.
    public func execute(_ job: ClaimedJob) async {
        var log = logger
        log[metadataKey: "job.id"] = "\(job.id)"
        log[metadataKey: "job.kind"] = "\(job.kind)"
        log[metadataKey: "job.attempt"] = "\(job.attempts)"
        if let id = job.deploymentID { log[metadataKey: "deployment.id"] = "\(id)" }
        if let service = job.service { log[metadataKey: "service.name"] = "\(service)" }
        guard let handler = handlers[job.kind] else {
            log.error("no handler for this job kind")
            count?(MetricCatalog.jobsDead, [job.kind.rawValue])
            _ = try? await queue.apply(.end(.dead, reason: "no handler for job kind \(job.kind)", deploymentState: .failed), to: job)
            return
        }
        let started = clock.elapsed()
        let jobLogger = log
        let work = Task { try await handler.run(job, logger: jobLogger) }
        running.start(job, deadline: started + job.timeout.duration, cancel: { work.cancel() })
        let result = await withTaskCancellationHandler {
            await work.result
        } onCancel: {
            work.cancel()
        }
        let stop = running.finish(job.id)
        let outcome: JobOutcome
        switch (stop, result) {
        case (let stop?, _): outcome = stop
        case (nil, .success): outcome = .succeeded
        case (nil, .failure(let error as PermanentJobError)): outcome = .failed(message: error.message, retryable: false)
        case (nil, .failure(let error)): outcome = .failed(message: "\(error)", retryable: true)
        }
        var notBefore: TimeSpan?
        if case .failure(let error as RetryLater) = result { notBefore = error.after }
        // Randomness only where a retry needs it (it costs a system call).
        let resolution = JobTransitions.resolve(outcome, kind: job.kind, attempts: job.attempts, maxAttempts: job.maxAttempts,
                                                jitter: outcome == .succeeded ? 0 : random(), notBefore: notBefore)
        if case .complete = resolution {
            await completions.add(job)
            return
        }
        switch resolution {
        case .retry: count?(MetricCatalog.jobRetries, [job.kind.rawValue])
        case .end(.dead, _, _): count?(MetricCatalog.jobsDead, [job.kind.rawValue])
        default: break
        }
        log.warning("job ended without success", metadata: [
            "job.outcome": "\(outcome)", "job.resolution": "\(resolution)", "job.elapsed": "\(clock.elapsed() - started)",
        ])
        do {
            try await queue.apply(resolution, to: job)
        } catch {
            log.error("recording the job outcome failed; its lease will expire and it will run again",
                      metadata: ["error": "\(String(reflecting: error))"])
        }
    }
}
