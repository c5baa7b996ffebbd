import SlipwayCore
import Synchronization

/// The runtime's answer to "what runs" (every service's observed units), kept for `ttl`: status
/// requests arriving together share one listing instead of each asking the engine or ECS.
final class ObservationCache: Sendable {
    typealias Units = [String: [ObservedUnit]]
    let ttl: Duration
    private let last = Mutex<(at: ContinuousClock.Instant, units: Units)?>(nil)

    init(ttl: Duration = .seconds(1)) { self.ttl = ttl }

    /// The kept answer while fresh, else `fetch`'s (nil when the runtime did not answer: not kept).
    func get(now: ContinuousClock.Instant, _ fetch: () async throws -> Units?) async -> Units? {
        if let kept = last.withLock({ $0 }), now - kept.at < ttl { return kept.units }
        guard let units = try? await fetch() else { return nil }
        last.withLock { $0 = (now, units) }
        return units
    }
}
