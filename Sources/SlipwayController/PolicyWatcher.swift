import Foundation
import Logging
import ServiceLifecycle
import SlipwayCore
import SlipwayStore

/// Refreshes the policy set at an interval and at once when a push to the policies
/// repository arrives (on the replica that took the webhook, when it leads). One replica
/// applies, chosen by a lease: replicas whose folders differ for a while (a rolling
/// upgrade) must not take turns applying their own versions.
public struct PolicyWatcher: Service {
    public let sync: PolicySync
    let interval: Duration
    let wake: WakeSignal
    let lease: any Lease
    let holder: String
    let clock: ServiceClock
    let logger: Logger

    public init(sync: PolicySync, interval: Duration, wake: WakeSignal, lease: any Lease,
                holder: String = "\(ProcessInfo.processInfo.hostName):\(getpid())", clock: ServiceClock = .continuous, logger: Logger) {
        self.clock = clock
        self.sync = sync
        self.interval = interval
        self.wake = wake
        self.lease = lease
        self.holder = holder
        self.logger = logger
    }

    /// Outlives the time between two refreshes.
    var leaseTTL: TimeSpan { TimeSpan(milliseconds: Int64(interval.components.seconds) * 2000 + 10_000) }

    /// Applies the source now if this replica leads; what `serve` does before it starts serving.
    public func refreshIfLeading() async throws -> PolicySync.Outcome? {
        guard try await lease.acquire(holder: holder, ttl: leaseTTL) else { return nil }
        return try await sync.refresh()
    }

    public func run() async throws {
        try await LeasedLoop(lease: lease, holder: holder, settings: .init(interval: interval, ttl: leaseTTL), clock: clock,
                             wake: wake, logger: logger) {
            do {
                _ = try await sync.refresh()
            } catch where !(error is CancellationError) {
                logger.error("policies not refreshed; the set in force stays, trying again", metadata: [
                    "policies.source": "\(sync.spec)", "error": "\(error)",
                ])
            }
        }.run()
    }

    /// Whether a webhook event is a push to the branch the policies come from.
    public static func concerns(_ event: NormalizedEvent, spec: PolicySourceSpec) -> Bool {
        guard case .git(let repo, let branch, _) = spec, event.kind == .push, event.branch == branch,
              let key = try? RepoURL(repo).key else { return false }
        return [event.repository?.cloneURL].compactMap { $0 }.contains { (try? RepoURL($0).key) == key }
    }
}
