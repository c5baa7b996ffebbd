import Foundation
import Logging
import ServiceLifecycle
import SlipwayCore
import SlipwayStore

/// Queue housekeeping done by one replica at a time: rescue expired leases, stop jobs
/// past their deadline, prune old jobs. Leadership is a lease row renewed every tick;
/// when the leader dies another replica takes over once the lease expires.
public struct Maintenance: Service {
    public struct Settings: Sendable {
        public var tick: Duration
        public var leaderTTL: TimeSpan
        public var deadlineGrace: TimeSpan
        public var retention: TimeSpan
        /// How long webhook deliveries are kept: GitHub redelivers up to 3 days back.
        public var deliveryRetention: TimeSpan
        /// Log lines and events of deployments that finished longer ago are deleted (SLIPWAY_LOG_RETENTION)…
        public var logRetention: TimeSpan
        /// …except for each target's newest `logKeep` deployments and its live one.
        public var logKeep: Int
        public var pruneEvery: Duration
        /// Deployments whose logs one prune run deletes at most: the loop's other work waits meanwhile.
        public var logPruneBatches: Int

        public init(tick: Duration = .seconds(1), leaderTTL: TimeSpan = .seconds(10), deadlineGrace: TimeSpan = .seconds(30),
                    retention: TimeSpan = .seconds(7 * 86_400), deliveryRetention: TimeSpan = .seconds(30 * 86_400),
                    logRetention: TimeSpan = .seconds(30 * 86_400), logKeep: Int = 20,
                    pruneEvery: Duration = .seconds(600), logPruneBatches: Int = 20) {
            self.tick = tick
            self.leaderTTL = leaderTTL
            self.deadlineGrace = deadlineGrace
            self.retention = retention
            self.deliveryRetention = deliveryRetention
            self.logRetention = logRetention
            self.logKeep = logKeep
            self.pruneEvery = pruneEvery
            self.logPruneBatches = logPruneBatches
        }
    }

    let queue: JobQueue
    let lease: any Lease
    let holder: String
    let settings: Settings
    let clock: ServiceClock
    let logger: Logger

    public init(queue: JobQueue, lease: any Lease, holder: String = "\(ProcessInfo.processInfo.hostName):\(getpid())",
                settings: Settings = Settings(), clock: ServiceClock = .continuous, logger: Logger) {
        self.queue = queue
        self.lease = lease
        self.holder = holder
        self.settings = settings
        self.clock = clock
        self.logger = logger
    }

    public func run() async throws {
        let schedule = Schedule(clock: clock)
        try await LeasedLoop(lease: lease, holder: holder, settings: .init(interval: settings.tick, ttl: settings.leaderTTL),
                             clock: clock, logger: logger) {
            // Pruning's period starts again only once a prune went through.
            let prune = schedule.isDue("prune", period: settings.pruneEvery)
            try await work(prune: prune)
            if prune { schedule.mark("prune") }
        }.run()
    }

    func work(prune: Bool) async throws {
        let rescued = try await queue.rescueExpired()
        if rescued > 0 { logger.warning("requeued jobs whose worker stopped", metadata: ["jobs.count": "\(rescued)"]) }
        let (asked, killed) = try await queue.enforceDeadlines(grace: settings.deadlineGrace)
        if asked + killed > 0 {
            logger.warning("jobs past their deadline", metadata: ["jobs.asked_to_stop": "\(asked)", "jobs.declared_dead": "\(killed)"])
        }
        if prune {
            let pruned = try await queue.prune(olderThan: settings.retention)
            if pruned > 0 { logger.info("pruned finished jobs", metadata: ["jobs.count": "\(pruned)"]) }
            let deliveries = try await queue.pruneDeliveries(olderThan: settings.deliveryRetention)
            if deliveries > 0 { logger.info("pruned webhook deliveries", metadata: ["deliveries.count": "\(deliveries)"]) }
            let told = try await queue.pruneNotifications(olderThan: settings.logRetention)
            if told > 0 { logger.info("pruned notifications", metadata: ["notifications.count": "\(told)"]) }
            var logs = JobQueue.LogPrune()
            for _ in 0..<settings.logPruneBatches {
                let batch = try await queue.pruneDeploymentLogs(olderThan: settings.logRetention, keep: settings.logKeep)
                logs.deployments += batch.deployments
                logs.lines += batch.lines
                logs.events += batch.events
                if batch.deployments < JobQueue.logPruneBatch { break }
            }
            if logs.deployments > 0 {
                logger.info("pruned old deployments' logs", metadata: [
                    "deployments.count": "\(logs.deployments)", "lines.count": "\(logs.lines)", "events.count": "\(logs.events)",
                ])
            }
        }
    }
}
