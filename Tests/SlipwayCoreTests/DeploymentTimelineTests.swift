import Foundation
import SlipwayCore
import Testing

/// A deployment's timeline from what was recorded, and what it gives the stage histograms.
struct DeploymentTimelineTests {
    static let t0 = Date(timeIntervalSince1970: 1_765_000_000)
    static func at(_ seconds: Double) -> Date { t0.addingTimeInterval(seconds) }

    /// A push that went live and stayed up: webhook, queue, claim, fetch, detect, build, push, live, steady.
    static let steady = DeploymentTimeline.Facts(createdAt: at(0.02), receivedAt: at(0), events: [
        ("state", nil, "building", at(0.5)),
        ("stage", "fetched", "fetched abc", at(1.5)),
        ("detect", "detect", "node 22 (package.json)", at(1.7)),
        ("state", nil, "pushing", at(11.7)),
        ("stage", "pushed", "pushed r/web:abc", at(13.7)),
        ("state", nil, "rolling_out", at(14.0)),
        ("state", nil, "watching", at(16.0)),
        ("step", "1:1:done", "#1 done", at(5)),   // not a mark
        ("state", nil, "succeeded: no crash in 60s", at(76.0)),
    ])

    /// A revision that crashed and was rolled back.
    static let rolledBack = DeploymentTimeline.Facts(createdAt: at(0), receivedAt: nil, events: [
        ("state", nil, "building", at(1)),
        ("stage", "fetched", "fetched", at(2)),
        ("state", nil, "pushing", at(10)),
        ("stage", "pushed", "pushed", at(12)),
        ("state", nil, "rolling_out", at(12.5)),
        ("state", nil, "watching", at(14)),
        ("crash", "c1", "exited with code 3", at(20)),
        ("crash", "c2", "exited with code 3", at(22)),
        ("rollback", nil, "rollback started", at(20.4)),
        ("state", nil, "rolled_back: 2 crashes", at(29)),
    ])

    @Test func aPushThatStaysUp() {
        let stages = DeploymentTimeline.stages(Self.steady)
        #expect(stages.map(\.stage) == ["received", "queued", "claimed", "fetched", "detected", "built", "pushed", "live", "steady"])
        #expect(stages.first?.seconds == nil)
        #expect(abs((stages[5].seconds ?? 0) - 10.0) < 1e-6, "built 10 s after detected")
        let live = DeploymentTimeline.observations(stages, upToLive: true)
        #expect(live.stages.keys.sorted() == ["build", "claim", "detect", "fetch", "push", "rollout"])
        #expect(abs(live.stages["claim"]! - 0.48) < 1e-6 && abs(live.stages["rollout"]! - 2.3) < 1e-6)
        #expect(abs(live.pushToLive! - 16.0) < 1e-6, "from the webhook's arrival")
        let end = DeploymentTimeline.observationsAtEnd(stages, liveObserved: true)
        #expect(end.stages == ["steady": 60.0] && end.pushToLive == nil)
        // Never observed at live (it went live and ended between two looks): all of it at the end.
        #expect(DeploymentTimeline.observationsAtEnd(stages, liveObserved: false).stages.count == 7)
    }

    @Test func aCrashRolledBack() {
        let stages = DeploymentTimeline.stages(Self.rolledBack)
        #expect(stages.map(\.stage) == ["queued", "claimed", "fetched", "built", "pushed", "live", "crashed", "rollback_started", "rolled_back"])
        let end = DeploymentTimeline.observationsAtEnd(stages, liveObserved: true)
        #expect(abs(end.crashToRollbackStarted! - 0.4) < 1e-6 && abs(end.crashToRollbackFinished! - 9.0) < 1e-6)
        #expect(end.stages.isEmpty, "it never became steady; build is timed from the fetch: \(end.stages)")
        #expect(abs(DeploymentTimeline.observations(stages, upToLive: true).stages["build"]! - 8.0) < 1e-6)
        #expect(DeploymentTimeline.observations(stages, upToLive: true).pushToLive == 14.0, "from the queue without a webhook")
    }

    @Test func aBuildThatFailedAndMarksAtTheSameInstant() {
        let facts = DeploymentTimeline.Facts(createdAt: Self.at(0), receivedAt: Self.at(0), events: [
            ("state", nil, "building", Self.at(0)),
            ("state", nil, "failed: build failed: exit code: 2", Self.at(4)),
            ("state", nil, "failed", Self.at(5)),   // a second record of the end counts once
        ])
        let stages = DeploymentTimeline.stages(facts)
        #expect(stages.map(\.stage) == ["received", "queued", "claimed", "failed"])
        #expect(stages.map(\.seconds) == [nil, 0, 0, 4])
        let actions = DeploymentMetrics.actions(.end, .init(service: "web", state: .failed, trigger: .push, liveObserved: false, rolloutFailed: false),
                                                timeline: stages)
        #expect(actions == [.observe(MetricCatalog.stage, ["web", "claim"], seconds: 0), .count(MetricCatalog.deployments, ["web", "failed"])])
    }

    @Test(arguments: [
        (DeploymentState.rolledBack, DeploymentTrigger.push, false, Optional("crash")),
        (.rolledBack, .push, true, "rollout_failed"),
        (.succeeded, .rollback, false, "requested"),
        (.succeeded, .push, false, nil),
    ])
    func rollbacksAreCountedWithTheirReason(_ state: DeploymentState, _ trigger: DeploymentTrigger, _ rolloutFailed: Bool, _ reason: String?) {
        let actions = DeploymentMetrics.actions(.end, .init(service: "api", state: state, trigger: trigger, liveObserved: true, rolloutFailed: rolloutFailed),
                                                timeline: DeploymentTimeline.stages(Self.rolledBack))
        let counted = actions.compactMap { if case .count(MetricCatalog.rollbacks, let labels) = $0 { labels[1] } else { nil } }
        #expect(counted == (reason.map { [$0] } ?? []))
        #expect(actions.contains(.count(MetricCatalog.deployments, ["api", state.rawValue])))
    }

    @Test func atLiveOnlyWhatIsKnownThen() {
        let actions = DeploymentMetrics.actions(.live, .init(service: "web", state: .watching, trigger: .push, liveObserved: false, rolloutFailed: false),
                                                timeline: DeploymentTimeline.stages(Self.steady))
        #expect(!actions.contains { if case .count = $0 { true } else { false } }, "no outcome before the end")
        #expect(actions.contains(.observe(MetricCatalog.pushToLive, ["web"], seconds: 16.0)))
        #expect(!actions.contains { if case .observe(MetricCatalog.stage, let labels, _) = $0 { labels[1] == "steady" } else { false } })
    }
}
