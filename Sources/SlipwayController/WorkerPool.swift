import Foundation
import Logging
import ServiceLifecycle
import SlipwayCore
import SlipwayStore
import Synchronization

/// Claims jobs of `kinds` in batches into `concurrency` slots and runs each with a
/// heartbeat that keeps its lease, a deadline, and an ear for stop requests; then
/// writes the outcome. Idle, it sleeps until a NOTIFY, a free slot or the poll interval.
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
    let stops: StopSignals
    let logger: Logger
    let owner: String
    let random: @Sendable () -> Double
    let completions: Completions
    private let inFlight = Mutex(0)
    private let slotFreed: WakeSignal

    public init(settings: Settings, queue: JobQueue, handlers: [any JobHandler], wake: WakeSignal,
                stops: StopSignals = StopSignals(), logger: Logger,
                random: @escaping @Sendable () -> Double = { Double.random(in: 0..<1) }) {
        self.settings = settings
        self.queue = queue
        self.handlers = Dictionary(handlers.map { ($0.kind, $0) }) { first, _ in first }
        self.wake = wake
        self.stops = stops
        self.logger = logger
        self.random = random
        self.owner = "\(ProcessInfo.processInfo.hostName):\(getpid()):\(settings.name)"
        let slotFreed = WakeSignal()
        self.slotFreed = slotFreed
        // A finished job holds its place under the limits until its success is written.
        self.completions = Completions(queue: queue, batch: max(settings.batch, 1), linger: .milliseconds(2), logger: logger,
                                       afterFlush: { await slotFreed.signal() })
    }

    public func run() async throws {
        logger.info("workers started", metadata: [
            "worker.pool": "\(settings.name)", "worker.slots": "\(settings.concurrency)",
            "worker.kinds": "\(settings.kinds.map(\.rawValue).joined(separator: ","))",
        ])
        await cancelWhenGracefulShutdown {
            await withDiscardingTaskGroup { group in
                await self.dispatch(into: &group)
            }
        }
        await completions.flush()
    }

    /// Claims while slots are free and hands each job to a child task.
    private func dispatch(into group: inout DiscardingTaskGroup) async {
        while !Task.isCancelled {
            let slotGeneration = await slotFreed.generation
            let free = settings.concurrency - inFlight.withLock { $0 }
            if free <= 0 {
                await slotFreed.wait(since: slotGeneration, timeout: settings.pollInterval.duration)
                continue
            }
            let workGeneration = await wake.generation
            let jobs: [ClaimedJob]
            do {
                jobs = try await claim(upTo: free)
            } catch {
                if Task.isCancelled { return }
                logger.error("claiming jobs failed; retrying", metadata: ["error": "\(String(reflecting: error))"])
                try? await Task.sleep(for: settings.pollInterval.duration)
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
                    await self.slotFreed.signal()
                }
            }
        }
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
            _ = try? await queue.apply(.end(.dead, reason: "no handler for job kind \(job.kind)", deploymentState: .failed), to: job)
            return
        }
        log.debug("job started")
        let started = ContinuousClock.now
        await stops.register(job.id)
        let outcome = await run(job, handler: handler, logger: log)
        await stops.forget(job.id)
        let resolution = JobTransitions.resolve(outcome, kind: job.kind, attempts: job.attempts,
                                                maxAttempts: job.maxAttempts, jitter: random())
        let elapsed = ContinuousClock.now - started
        log.log(level: outcome == .succeeded ? .debug : .warning, "job ended", metadata: [
            "job.outcome": "\(outcome)", "job.resolution": "\(resolution)", "job.elapsed": "\(elapsed)",
        ])
        if case .complete = resolution {
            await completions.add(job)
            return
        }
        do {
            try await queue.apply(resolution, to: job)
        } catch {
            log.error("recording the job outcome failed; its lease will expire and it will run again", metadata: ["error": "\(String(reflecting: error))"])
        }
    }

    /// The first of: the handler returns, the lease is lost, a stop is requested, the deadline passes.
    private func run(_ job: ClaimedJob, handler: any JobHandler, logger: Logger) async -> JobOutcome {
        let lease = settings.lease
        return await withTaskGroup(of: JobOutcome?.self) { group in
            group.addTask {
                do {
                    try await handler.run(job, logger: logger)
                    return .succeeded
                } catch is CancellationError where Task.isCancelled {
                    return nil   // another child decided why it stopped
                } catch let error as PermanentJobError {
                    return .failed(message: error.message, retryable: false)
                } catch {
                    return .failed(message: "\(error)", retryable: true)
                }
            }
            group.addTask {
                while !Task.isCancelled {
                    try? await Task.sleep(for: .milliseconds(lease.milliseconds / 3))
                    if Task.isCancelled { return nil }
                    switch try? await self.queue.heartbeat(job, lease: lease) {
                    case .lost: return .leaseLost
                    case .stopRequested(let reason): return .stopped(reason)
                    case .kept, nil: continue
                    }
                }
                return nil
            }
            group.addTask {
                await self.stops.wait(job.id).map(JobOutcome.stopped)
            }
            group.addTask {
                do { try await Task.sleep(for: job.timeout.duration) } catch { return nil }
                return .timedOut(after: job.timeout)
            }
            var outcome = JobOutcome.failed(message: "the job stopped without an outcome", retryable: true)
            for await next in group {
                if let next {
                    outcome = next
                    break
                }
            }
            group.cancelAll()
            return outcome
        }
    }
}
