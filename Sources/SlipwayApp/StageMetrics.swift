import Foundation
import Logging
import ServiceLifecycle
import SlipwayCore
import SlipwayStore
import SlipwayTelemetry

/// The stage histograms and outcome counters, from the database: every `interval`, claims
/// the deployments that went live or ended since (each once, across replicas), makes their
/// timelines and records what `DeploymentMetrics` says. A web replica runs it, so what it
/// records is in the `/metrics` it serves; Prometheus sums the replicas.
public struct StageMetrics: Service {
    let store: Store
    let telemetry: Telemetry
    let interval: Duration
    let clock: ServiceClock
    let logger: Logger

    /// Deployments claimed per phase and look.
    static let batch = 200

    public init(store: Store, telemetry: Telemetry, interval: Duration = .seconds(2), clock: ServiceClock = .continuous, logger: Logger) {
        self.store = store
        self.telemetry = telemetry
        self.interval = interval
        self.clock = clock
        self.logger = logger
    }

    public func run() async throws {
        // SIGTERM ends the loop at once: nothing here is half-done between two looks.
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    // A full batch means more may wait: look again at once.
                    while try await pass() >= Self.batch {}
                } catch is CancellationError {
                    return
                } catch {
                    logger.warning("stage metrics: the database did not answer; trying again", metadata: ["error": "\(error)"])
                }
                try? await clock.sleep(interval)
            }
        }
    }

    /// One look; how many deployments it recorded.
    @discardableResult
    public func pass() async throws -> Int {
        let due = try await store.claimMetricsDue(limit: Self.batch)
        guard !due.isEmpty else { return 0 }
        let timelines = try await store.timelineFacts(due.map(\.id)).mapValues(DeploymentTimeline.stages)
        for item in due {
            for action in DeploymentMetrics.actions(item.phase, item.subject, timeline: timelines[item.id] ?? []) {
                switch action {
                case .count(let metric, let labels): telemetry.count(metric, labels)
                case .observe(let metric, let labels, let seconds): telemetry.observe(metric, labels, seconds: seconds)
                }
            }
        }
        return due.count
    }
}
