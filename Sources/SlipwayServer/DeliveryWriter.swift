import Foundation
import Logging
import SlipwayCore
import SlipwayStore
import Synchronization

/// Group commit for webhooks: requests that arrive while a batch is being written wait and
/// go together in the next one, one transaction with one statement per step for all of
/// them. Under load that turns hundreds of small transactions into a few large ones; alone,
/// a request is written at once. Every request still gets its 202 only after its own rows
/// are durable. One writer per process also keeps latest-wins exact between pushes that
/// arrive together.
final class DeliveryWriter: Sendable {
    typealias Work = [(event: NormalizedEvent, deliveryID: String, payload: String, proof: EventMatching.Proof)]

    struct Pending: Sendable {
        var work: Work
        var continuation: CheckedContinuation<[DeliveryResult], any Error>
        /// When it arrived, on the writer's clock.
        var since: Duration
    }

    /// Providers give up after 10 s: a request that waited `staleAfter` for its turn is
    /// answered 503 unwritten (the provider redelivers), and a batch gets `writeWithin`,
    /// so no answer comes after 9 s.
    static let staleAfter: Duration = .seconds(5)
    static let writeWithin: Duration = .seconds(4)

    struct Stale: Error, CustomStringConvertible {
        var description: String { "the delivery waited over \(DeliveryWriter.staleAfter) for the database; not written" }
    }

    struct State {
        var queue: [Pending] = []
        var writing = false
    }

    let store: Store
    let logger: Logger
    /// Deliveries per transaction at most: past this, a batch would hold its first
    /// requests too long.
    let maxBatch: Int
    let routes: RoutesCache
    /// Staleness and the wait for an abandoned write run on it.
    let clock: ServiceClock
    private let state = Mutex(State())

    init(store: Store, logger: Logger, maxBatch: Int = 500, routesMaxAge: Duration = .seconds(1), clock: ServiceClock = .continuous) {
        self.clock = clock
        self.store = store
        self.logger = logger
        self.maxBatch = maxBatch
        self.routes = RoutesCache(maxAge: routesMaxAge, clock: clock)
    }

    /// Matches and stores `work` with whatever else is waiting; returns its results in order.
    func write(_ work: Work) async throws -> [DeliveryResult] {
        try await withCheckedThrowingContinuation { continuation in
            let start = state.withLock { state -> Bool in
                state.queue.append(Pending(work: work, continuation: continuation, since: clock.elapsed()))
                guard !state.writing else { return false }
                state.writing = true
                return true
            }
            // High priority: the writer must not queue behind hundreds of requests parsing their bodies.
            if start { Task(priority: .high) { await self.drain() } }
        }
    }

    private func drain() async {
        while let taken = next() {
            let batch = fresh(taken)
            guard !batch.isEmpty else { continue }
            let started = clock.elapsed()
            let (result, abandoned) = await attempt(batch)
            switch result {
            case .success(let results):
                logger.debug("webhook batch written", metadata: [
                    "requests.count": "\(batch.count)", "duration_ms": "\(Self.milliseconds(clock.elapsed() - started))",
                    "waited_ms": "\(Self.milliseconds(started - batch[0].since))",
                ])
                for (pending, result) in zip(batch, results) { pending.continuation.resume(returning: result) }
            case .failure(let error) where batch.count > 1 && !Store.isTimeout(error):
                // One bad request must not fail the others: write them one by one.
                logger.warning("webhook batch failed; writing its deliveries one by one",
                               metadata: ["deliveries.count": "\(batch.count)", "error": "\(String(reflecting: error))"])
                for pending in fresh(batch) {
                    let (result, abandoned) = await attempt([pending])
                    switch result {
                    case .success(let result): pending.continuation.resume(returning: result[0])
                    case .failure(let error): pending.continuation.resume(throwing: error)
                    }
                    if let abandoned { await settle(abandoned) }
                }
            case .failure(let error):
                // The database is slow or gone: every request of the batch is answered 503 (the
                // providers redeliver); trying them one by one would only answer later.
                for pending in batch { pending.continuation.resume(throwing: error) }
                if let abandoned { await settle(abandoned) }
            }
        }
    }

    /// Requests that waited too long are answered 503 unwritten; the rest go on.
    private func fresh(_ batch: [Pending]) -> [Pending] {
        batch.filter { pending in
            guard clock.elapsed() - pending.since > Self.staleAfter else { return true }
            pending.continuation.resume(throwing: Stale())
            return false
        }
    }

    /// Writes `batch` within `writeWithin`. A write given up on keeps running in the database;
    /// it is returned so the writer can let it end before the next batch (two batches never
    /// overlap, so latest-wins stays exact).
    private func attempt(_ batch: [Pending]) async -> (Result<[[DeliveryResult]], any Error>, abandoned: Abandoned?) {
        let abandoned = Abandoned()
        let work = Task(priority: .high) { [store, routes] in
            defer { abandoned.finish() }
            return try await Self.write(batch, store: store, routes: routes)
        }
        do {
            return (.success(try await store.withinDeadline(Self.writeWithin) { try await work.value }), nil)
        } catch {
            guard Store.isTimeout(error) else { return (.failure(error), nil) }
            logger.error("webhook batch not written in time; answering 503 and waiting for the database",
                         metadata: ["deliveries.count": "\(batch.count)"])
            return (.failure(error), abandoned)
        }
    }

    /// Waits (up to 30 s) for a write given up on to end, answering 503 meanwhile to every
    /// request that waits too long, so no answer comes after the providers' 10 s.
    private func settle(_ abandoned: Abandoned) async {
        let until = clock.elapsed() + .seconds(30)
        while !abandoned.isFinished && clock.elapsed() < until {
            try? await clock.sleep(.milliseconds(100))
            let now = clock.elapsed()
            let stale = state.withLock { state -> [Pending] in
                let stale = state.queue.filter { now - $0.since > Self.staleAfter }
                state.queue.removeAll { now - $0.since > Self.staleAfter }
                return stale
            }
            for pending in stale { pending.continuation.resume(throwing: Stale()) }
        }
    }

    final class Abandoned: Sendable {
        private let done = Mutex(false)
        func finish() { done.withLock { $0 = true } }
        var isFinished: Bool { done.withLock { $0 } }
    }

    /// Takes what is waiting, up to `maxBatch` deliveries; nil (and the writer stops) when nothing is.
    private func next() -> [Pending]? {
        state.withLock { state in
            var taken: [Pending] = [], count = 0
            while let first = state.queue.first, taken.isEmpty || count + first.work.count <= maxBatch {
                taken.append(state.queue.removeFirst())
                count += first.work.count
            }
            if taken.isEmpty { state.writing = false }
            return taken.isEmpty ? nil : taken
        }
    }

    static func milliseconds(_ duration: Duration) -> Int64 {
        duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000
    }

    /// Each request's events are matched against the routes (read at most once a second).
    static func write(_ batch: [Pending], store: Store, routes cache: RoutesCache) async throws -> [[DeliveryResult]] {
        let needsRoutes = batch.contains { $0.work.contains { $0.event.kind == .push || $0.event.kind == .pullRequest } }
        let routes = needsRoutes ? try await cache.current(store) : []
        var records: [DeliveryRecord] = []
        for pending in batch {
            for (event, deliveryID, payload, proof) in pending.work {
                records.append(DeliveryRecord(event: event, deliveryID: deliveryID,
                                              outcomes: event.kind == .ignored ? [] : EventMatching.outcomes(for: event, routes: routes, proof: proof),
                                              payload: payload))
            }
        }
        let results = try await store.recordDeliveries(records)
        var split: [[DeliveryResult]] = [], offset = 0
        for pending in batch {
            split.append(Array(results[offset..<offset + pending.work.count]))
            offset += pending.work.count
        }
        return split
    }
}

/// The services' routes, read again when older than `maxAge`: every push needs them and
/// they change only when policies do, so a busy intake does not read them per batch.
final class RoutesCache: Sendable {
    let maxAge: Duration
    let clock: ServiceClock
    private let cached = Mutex<(routes: [EventMatching.Route], at: Duration)?>(nil)

    init(maxAge: Duration, clock: ServiceClock) {
        self.maxAge = maxAge
        self.clock = clock
    }

    func current(_ store: Store) async throws -> [EventMatching.Route] {
        if let (routes, at) = cached.withLock({ $0 }), clock.elapsed() - at < maxAge { return routes }
        let started = clock.elapsed()
        let routes = try await store.routes()
        cached.withLock { $0 = (routes, started) }
        return routes
    }
}
