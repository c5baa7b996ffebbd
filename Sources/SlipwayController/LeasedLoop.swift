import Foundation
import Logging
import ServiceLifecycle
import SlipwayCore
import SlipwayStore

/// What a leased loop needs of a lease. `LeaderLease` (a Postgres row) is the real one.
public protocol Lease: Sendable {
    var name: String { get }
    /// Takes or renews the lease for `holder`; true when `holder` holds it for the next `ttl`.
    func acquire(holder: String, ttl: TimeSpan) async throws -> Bool
    func release(holder: String) async throws
}

extension LeaderLease: Lease {}

/// A body run at an interval on one replica at a time, chosen by a lease: the one loop
/// behind queue maintenance, polling, reconciling, policy refreshes and image retention.
/// While the body runs, the lease is renewed every third of its TTL, so a long pass (a
/// first fetch of a big repository, a reconcile of a thousand services) keeps it; if a
/// renewal finds the lease lost, the body is cancelled, since another replica now acts.
public struct LeasedLoop: Service {
    public struct Settings: Sendable {
        /// Time between the end of one pass and the next try.
        public var interval: Duration
        public var ttl: TimeSpan
        /// Wait one interval before the first pass.
        public var waitFirst: Bool
        /// Give the lease up after each pass (hourly work need not hold it in between).
        public var releaseAfterPass: Bool

        public init(interval: Duration, ttl: TimeSpan, waitFirst: Bool = false, releaseAfterPass: Bool = false) {
            self.interval = interval
            self.ttl = ttl
            self.waitFirst = waitFirst
            self.releaseAfterPass = releaseAfterPass
        }

        var renewEvery: Duration { .milliseconds(max(ttl.milliseconds / 3, 1)) }
    }

    let lease: any Lease
    let holder: String
    let settings: Settings
    let clock: ServiceClock
    /// Cuts the wait between passes short (a policies push arrived).
    let wake: WakeSignal?
    let logger: Logger
    let body: @Sendable () async throws -> Void

    public init(lease: any Lease, holder: String, settings: Settings, clock: ServiceClock = .continuous, wake: WakeSignal? = nil,
                logger: Logger, body: @escaping @Sendable () async throws -> Void) {
        self.lease = lease
        self.holder = holder
        self.settings = settings
        self.clock = clock
        self.wake = wake
        self.logger = logger
        self.body = body
    }

    public func run() async throws {
        let leading = await cancelWhenGracefulShutdown { await self.loop() }
        // Hand over at once rather than after the lease expires.
        if leading { try? await lease.release(holder: holder) }
    }

    /// Passes until cancelled; returns whether this replica led at the end.
    func loop() async -> Bool {
        var leading = false
        var first = true
        // Read before each pass: a wake that comes during the pass cuts the next pause short.
        var generation = wake?.generation
        while !Task.isCancelled {
            if !first || settings.waitFirst {
                await pause(since: generation)
                if Task.isCancelled { break }
            }
            first = false
            do {
                let now = try await lease.acquire(holder: holder, ttl: settings.ttl)
                if now != leading && !settings.releaseAfterPass {
                    logger.notice(now ? "leading" : "no longer leading", metadata: ["lease.name": "\(lease.name)", "lease.holder": "\(holder)"])
                }
                leading = now
                generation = wake?.generation
                guard leading else { continue }
                leading = try await passHoldingLease()
                if !leading { logger.warning("lease lost during a pass; stopped it", metadata: ["lease.name": "\(lease.name)"]) }
                if settings.releaseAfterPass && leading {
                    try? await lease.release(holder: holder)
                    leading = false
                }
            } catch {
                if Task.isCancelled { break }
                logger.error("pass failed; trying again", metadata: ["lease.name": "\(lease.name)", "error": "\(String(reflecting: error))"])
            }
        }
        return leading
    }

    /// Runs the body while renewing the lease; false when a renewal found it lost. A renewal
    /// that fails (the database did not answer) is tried again: the lease holds until its
    /// TTL, so only a TTL without a renewal, or another holder, ends the pass.
    func passHoldingLease() async throws -> Bool {
        try await withThrowingTaskGroup(of: Bool.self) { group in
            group.addTask {
                try await body()
                return true
            }
            group.addTask {
                var renewed = clock.elapsed()
                while true {
                    try await clock.sleep(settings.renewEvery)
                    do {
                        guard try await lease.acquire(holder: holder, ttl: settings.ttl) else { return false }
                        renewed = clock.elapsed()
                    } catch is CancellationError {
                        throw CancellationError()
                    } catch {
                        logger.warning("lease not renewed; trying again", metadata: ["lease.name": "\(lease.name)", "error": "\(error)"])
                        if clock.elapsed() - renewed >= settings.ttl.duration { return false }
                    }
                }
            }
            defer { group.cancelAll() }
            return try await group.next() ?? false
        }
    }

    private func pause(since generation: Int?) async {
        if let wake {
            // Either the wake or the interval on the loop's clock, whichever is first.
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await wake.wait(since: generation, timeout: .seconds(86_400 * 365)) }
                group.addTask { try? await clock.sleep(settings.interval) }
                await group.next()
                group.cancelAll()
            }
        } else {
            try? await clock.sleep(settings.interval)
        }
    }
}
