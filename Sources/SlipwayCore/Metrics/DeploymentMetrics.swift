import Foundation

/// What one deployment adds to the metrics, decided from its timeline: at live, the spans
/// up to it and push → live; at its end, the rest, its outcome and any rollback.
public enum DeploymentMetrics {
    public enum Phase: String, Sendable { case live, end }

    public enum Action: Sendable, Hashable {
        case count(MetricCatalog.Metric, [String])
        case observe(MetricCatalog.Metric, [String], seconds: Double)
    }

    public struct Subject: Sendable {
        public var service: String
        public var state: DeploymentState
        public var trigger: DeploymentTrigger
        /// At the end: whether its live phase was observed already.
        public var liveObserved: Bool
        /// Whether the runtime gave up on the revision (a `rollout-failed` event).
        public var rolloutFailed: Bool

        public init(service: String, state: DeploymentState, trigger: DeploymentTrigger, liveObserved: Bool, rolloutFailed: Bool) {
            self.service = service
            self.state = state
            self.trigger = trigger
            self.liveObserved = liveObserved
            self.rolloutFailed = rolloutFailed
        }
    }

    public static func actions(_ phase: Phase, _ subject: Subject, timeline: [DeploymentTimeline.Stage]) -> [Action] {
        let observed = phase == .live ? DeploymentTimeline.observations(timeline, upToLive: true)
            : DeploymentTimeline.observationsAtEnd(timeline, liveObserved: subject.liveObserved)
        var out: [Action] = DeploymentTimeline.stageLabels.compactMap { label in
            observed.stages[label].map { .observe(MetricCatalog.stage, [subject.service, label], seconds: $0) }
        }
        if let seconds = observed.pushToLive { out.append(.observe(MetricCatalog.pushToLive, [subject.service], seconds: seconds)) }
        guard phase == .end else { return out }
        if let seconds = observed.crashToRollbackStarted {
            out.append(.observe(MetricCatalog.crashToRollback, [subject.service, "started"], seconds: seconds))
        }
        if let seconds = observed.crashToRollbackFinished {
            out.append(.observe(MetricCatalog.crashToRollback, [subject.service, "finished"], seconds: seconds))
        }
        out.append(.count(MetricCatalog.deployments, [subject.service, subject.state.rawValue]))
        if subject.state == .rolledBack {
            out.append(.count(MetricCatalog.rollbacks, [subject.service, subject.rolloutFailed ? "rollout_failed" : "crash"]))
        } else if subject.trigger == .rollback {
            out.append(.count(MetricCatalog.rollbacks, [subject.service, "requested"]))
        }
        return out
    }

    /// The counter series of a service, to be exported at 0 before its first event: Prometheus
    /// sees no increase in a series whose first sample is already 1, so without them a service's
    /// first rollback would be missing from `increase()` and the alerts built on it.
    public static func zeroSeries(service: String) -> [(MetricCatalog.Metric, [String])] {
        [DeploymentState.succeeded, .failed, .rolledBack, .cancelled, .superseded].map { (MetricCatalog.deployments, [service, $0.rawValue]) }
            + ["crash", "rollout_failed", "requested"].map { (MetricCatalog.rollbacks, [service, $0]) }
    }
}
