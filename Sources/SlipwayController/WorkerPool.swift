import Foundation
import Logging
import ServiceLifecycle
import SlipwayCore
import SlipwayStore

/// `concurrency` slots that claim jobs of `kinds`, run them with a heartbeat that keeps
/// their lease, and record the outcome. Idle slots sleep until a wake-up or the poll interval.
public struct WorkerPool: Service {
    public struct Settings: Sendable {
        public var name: String
        public var kinds: [JobKind]
        public var concurrency: Int
        public var lease: TimeSpan
        public var pollInterval: TimeSpan
        public init(name: String, kinds: [JobKind], concurrency: Int, lease: TimeSpan, pollInterval: TimeSpan) {
            self.name = name
            self.kinds = kinds
            self.concurrency = concurrency
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

    public init(settings: Settings, queue: JobQueue, handlers: [any JobHandler], wake: WakeSignal, logger: Logger,
                random: @escaping @Sendable () -> Double = { Double.random(in: 0..<1) }) {
        self.settings = settings
        self.queue = queue
        self.handlers = Dictionary(uniqueKeysWithValues: handlers.map { ($0.kind, $0) })
        self.wake = wake
        self.logger = logger
        self.random = random
        self.owner = "\(ProcessInfo.processInfo.hostName):\(getpid()):\(settings.name)"
    }

    public func run() async throws {
        logger.info("workers started", metadata: [
            "worker.pool": "\(settings.name)", "worker.slots": "\(settings.concurrency)",
            "worker.kinds": "\(settings.kinds.map(\.rawValue).joined(separator: ","))",
        ])
        await cancelWhenGracefulShutdown {
            await withDiscardingTaskGroup { group in
                for slot in 0..<settings.concurrency {
                    group.addTask { await self.slotLoop(slot) }
                }
            }
        }
    }

    func slotLoop(_ slot: Int) async {
        while !Task.isCancelled {
            do {
                let jobs = try await queue.claim(kinds: settings.kinds, limit: 1, owner: "\(owner)#\(slot)", lease: settings.lease)
                guard let job = jobs.first else {
                    await wake.wait(timeout: settings.pollInterval.duration)
                    continue
                }
                await execute(job)
            } catch {
                if Task.isCancelled { return }
                logger.error("claiming jobs failed; retrying", metadata: ["error": "\(error)"])
                try? await Task.sleep(for: settings.pollInterval.duration)
            }
        }
    }

    enum Outcome: Sendable {
        case finished
        case failed(any Error)
        case leaseLost
    }

    /// Runs one claimed job to an outcome. Exposed for tests that drive a single job.
    public func execute(_ job: ClaimedJob) async {
        var log = logger
        log[metadataKey: "job.id"] = "\(job.id)"
        log[metadataKey: "job.kind"] = "\(job.kind.rawValue)"
        log[metadataKey: "job.attempt"] = "\(job.attempts)"
        if let id = job.deploymentID { log[metadataKey: "deployment.id"] = "\(id)" }
        if let service = job.service { log[metadataKey: "service.name"] = "\(service)" }
        guard let handler = handlers[job.kind] else {
            log.error("no handler for this job kind")
            _ = try? await queue.fail(job, error: "no handler for job kind \(job.kind.rawValue)", retryIn: nil)
            return
        }
        log.info("job started")
        let started = ContinuousClock.now
        let lease = settings.lease
        let jobLogger = log
        let outcome: Outcome = await withTaskGroup(of: Outcome?.self) { group in
            group.addTask {
                do {
                    try await handler.run(job, logger: jobLogger)
                    return .finished
                } catch {
                    return .failed(error)
                }
            }
            group.addTask {
                // Extend the lease at a third of its length; stop the job if it was lost.
                while !Task.isCancelled {
                    try? await Task.sleep(for: .milliseconds(lease.milliseconds / 3))
                    if Task.isCancelled { return nil }
                    if let kept = try? await queue.heartbeat(job, lease: lease), !kept { return .leaseLost }
                }
                return nil
            }
            var result: Outcome = .finished
            for await next in group {
                if let next { result = next; break }
            }
            group.cancelAll()
            return result
        }
        let elapsed = ContinuousClock.now - started
        await record(outcome, job: job, elapsed: elapsed, logger: log)
    }

    private func record(_ outcome: Outcome, job: ClaimedJob, elapsed: Duration, logger log: Logger) async {
        let seconds = String(format: "%.2f", Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
        do {
            switch outcome {
            case .finished:
                if try await queue.complete(job) {
                    log.info("job finished", metadata: ["job.seconds": "\(seconds)"])
                } else {
                    log.warning("job finished but its lease had passed to another worker; result not recorded")
                }
            case .leaseLost:
                log.warning("lease lost while running; stopped the job (another worker owns it now)")
            case .failed(let error):
                let permanent = error is PermanentJobError
                let delay = permanent ? nil : Backoff.delay(attempt: job.attempts, jitter: random())
                _ = try await queue.fail(job, error: "\(error)", retryIn: delay)
                if permanent || job.attempts >= job.maxAttempts {
                    log.error("job failed for good", metadata: ["error": "\(error)"])
                    try await queue.settleDead()
                } else {
                    log.warning("job failed; will retry", metadata: ["error": "\(error)", "job.retry_in": "\(delay!)"])
                }
            }
        } catch {
            log.error("recording the job outcome failed; its lease will expire and it will run again", metadata: ["error": "\(error)"])
        }
    }
}
