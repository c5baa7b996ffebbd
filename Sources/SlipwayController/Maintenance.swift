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
        public var pruneEvery: Duration

        public init(tick: Duration = .seconds(1), leaderTTL: TimeSpan = .seconds(10), deadlineGrace: TimeSpan = .seconds(30),
                    retention: TimeSpan = .seconds(7 * 86_400), deliveryRetention: TimeSpan = .seconds(30 * 86_400),
                    pruneEvery: Duration = .seconds(600)) {
            self.tick = tick
            self.leaderTTL = leaderTTL
            self.deadlineGrace = deadlineGrace
            self.retention = retention
            self.deliveryRetention = deliveryRetention
            self.pruneEvery = pruneEvery
        }
    }

    let queue: JobQueue
    let lease: LeaderLease
    let holder: String
    let settings: Settings
    let logger: Logger

    public init(queue: JobQueue, lease: LeaderLease, holder: String = "\(ProcessInfo.processInfo.hostName):\(getpid())",
                settings: Settings = Settings(), logger: Logger) {
        self.queue = queue
        self.lease = lease
        self.holder = holder
        self.settings = settings
        self.logger = logger
    }

    public func run() async throws {
        let leading = await cancelWhenGracefulShutdown { await self.loop() }
        // Hand over at once rather than after the lease expires.
        if leading { try? await lease.release(holder: holder) }
    }

    /// Ticks until cancelled; returns whether this replica led at the end.
    private func loop() async -> Bool {
        var leading = false
        var lastPrune = ContinuousClock.now - settings.pruneEvery
        while !Task.isCancelled {
            do {
                let now = try await lease.acquire(holder: holder, ttl: settings.leaderTTL)
                if now != leading {
                    leading = now
                    logger.notice(now ? "leading queue maintenance" : "no longer leading queue maintenance",
                                  metadata: ["leader.holder": "\(holder)"])
                }
                if leading {
                    let pruneDue = ContinuousClock.now - lastPrune >= settings.pruneEvery
                    try await work(prune: pruneDue)
                    if pruneDue { lastPrune = .now }
                }
            } catch {
                if Task.isCancelled { break }
                logger.error("queue maintenance failed; trying again", metadata: ["error": "\(String(reflecting: error))"])
            }
            try? await Task.sleep(for: settings.tick)
        }
        return leading
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
        }
    }
}
