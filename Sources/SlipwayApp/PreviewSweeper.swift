import Foundation
import Logging
import ServiceLifecycle
import SlipwayController
import SlipwayCore
import SlipwayRuntime
import SlipwayStore

/// Teardown, reconciled: at an interval, on one replica (a lease), closes every preview
/// `PreviewSweep` says must go — idle past `previews.ttl`, over `previews.count`, of a
/// service whose policy is gone or has previews off, held by a runtime with no open
/// record, or closed with a teardown that never finished — and queues its teardown. A
/// missed close webhook or a crash half-way through a teardown leaves nothing behind.
public struct PreviewSweeper: Service {
    let store: Store
    let runtime: any Runtime
    let lease: any Lease
    let holder: String
    let interval: Duration
    let clock: ServiceClock
    let now: @Sendable () -> Date
    let logger: Logger

    public init(store: Store, runtime: any Runtime, lease: any Lease, holder: String = "\(ProcessInfo.processInfo.hostName):\(getpid())",
                interval: Duration, clock: ServiceClock = .continuous, now: @escaping @Sendable () -> Date = { Date() }, logger: Logger) {
        self.store = store
        self.runtime = runtime
        self.lease = lease
        self.holder = holder
        self.interval = interval
        self.clock = clock
        self.now = now
        self.logger = logger
    }

    public func run() async throws {
        try await LeasedLoop(lease: lease, holder: holder,
                             settings: .init(interval: interval, ttl: ReconcileLoop.leaseTTL(outliving: interval), waitFirst: false),
                             clock: clock, logger: logger) {
            _ = try await pass()
        }.run()
    }

    /// What must go now, and why.
    public func decide() async throws -> [PreviewSweep.Closure] {
        try await Self.decide(store: store, runtime: runtime, now: now(), logger: logger)
    }

    /// The same, for anyone with a store and a runtime (`slipway plan` shows these as preview teardowns).
    public static func decide(store: Store, runtime: any Runtime, now: Date, logger: Logger) async throws -> [PreviewSweep.Closure] {
        let services = try await store.services()
        let open = try await store.openPreviews()
        var closures = PreviewSweep.closures(open: open, policies: Dictionary(services.map { ($0.name, $0.policy.previews) },
                                                                               uniquingKeysWith: { a, _ in a }), now: now)
        do {
            // Services removed since may have left previews: their last policies say where to look.
            let observed = try await runtime.previewTargets(try await store.everyPolicy())
            closures += PreviewSweep.orphans(observed: observed, open: Set(open.map(\.target)))
        } catch {
            logger.warning("preview sweep: the runtime did not answer; leftovers are looked for next time", metadata: ["error": "\(error)"])
        }
        let decided = Set(closures.map(\.target))
        for target in try await store.previewsAwaitingTeardown() where !decided.contains(target) {
            closures.append(.init(target: target, reason: "its teardown has not finished; queued again"))
        }
        return closures
    }

    /// One sweep: closes (and queues the teardown of) what `decide` returns; returns what it closed.
    @discardableResult
    public func pass() async throws -> [PreviewSweep.Closure] {
        var closed: [PreviewSweep.Closure] = []
        for closure in try await decide() {
            let cause: Store.PreviewClosing = closure.seen.map { .sweep(seen: $0) } ?? .leftover
            // False: reopened or given a commit since the sweep looked, or (a leftover) an open preview accounts for it.
            guard try await store.closePreview(closure.target, reason: closure.reason, cause: cause) else { continue }
            logger.notice("preview closed by the sweep", metadata: ["service.name": "\(closure.target.service)",
                                                                    "preview": "\(closure.target.environment.rawValue)",
                                                                    "reason": "\(closure.reason)"])
            closed.append(closure)
        }
        return closed
    }
}
