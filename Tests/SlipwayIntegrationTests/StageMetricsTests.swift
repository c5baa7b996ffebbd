import Foundation
import SlipwayApp
import SlipwayCore
import SlipwayStore
import SlipwayTelemetry
import Testing

/// Stage histograms and outcomes from the database: each deployment observed once at live
/// and once at its end, however many replicas look; its timeline in the API.
@Suite(.enabled(if: TestStack.enabled))
struct StageMetricsTests {
    static func series(_ telemetries: [Telemetry], _ prefix: String) -> Double {
        telemetries.map { telemetry in
            String(decoding: telemetry.exposition(), as: UTF8.self).split(separator: "\n")
                .filter { $0.hasPrefix(prefix + " ") }.compactMap { Double($0.split(separator: " ").last!) }.reduce(0, +)
        }.reduce(0, +)
    }

    @Test func eachDeploymentIsObservedOnceAtLiveAndOnceAtItsEnd() async throws {
        try await TestStack.withStore { store, _ in
            let policy = Policy(service: "web", source: .init(repo: "https://github.com/acme/shop.git"), image: "r.example.com/web")
            let other = Policy(service: "api", source: .init(repo: "https://github.com/acme/shop.git"), image: "r.example.com/api")
            try await store.syncServices([(policy, "a.yaml"), (other, "a.yaml")])
            // One goes live and stays up; one (of another service: a newer one would supersede it) fails its build.
            let up = try await store.createDeployment(service: "web", trigger: .manual, sha: String(repeating: "a", count: 40), image: nil, firstJob: .build)
            let broken = try await store.createDeployment(service: "api", trigger: .manual, sha: String(repeating: "b", count: 40), image: nil, firstJob: .build)
            for id in [up, broken] { try await store.transition(id, to: .building) }
            try await store.addEvent(up, kind: "stage", key: "fetched", message: "fetched")
            try await store.transition(up, to: .pushing)
            try await store.addEvent(up, kind: "stage", key: "pushed", message: "pushed")
            try await store.transition(up, to: .rollingOut)
            #expect(try await store.goLive(up, target: .main("web"), policy: policy))
            try await store.transition(broken, to: .failed, reason: "build failed: exit code: 2")

            // Two web replicas look at once: between them, each deployment is seen once per phase.
            let a = Telemetry(), b = Telemetry()
            let first = StageMetrics(store: store, telemetry: a, logger: TestStack.logger)
            let second = StageMetrics(store: store, telemetry: b, logger: TestStack.logger)
            async let seenA = first.pass()
            async let seenB = second.pass()
            #expect(try await seenA + seenB == 2, "the live phase of one, the end of the other")
            #expect(Self.series([a, b], #"slipway_push_to_live_seconds_count{service="web"}"#) == 1)
            #expect(Self.series([a, b], #"slipway_stage_seconds_count{service="web",stage="claim"}"#) == 1)
            #expect(Self.series([a, b], #"slipway_stage_seconds_count{service="api",stage="claim"}"#) == 1)
            #expect(Self.series([a, b], #"slipway_stage_seconds_count{service="web",stage="fetch"}"#) == 1)
            #expect(Self.series([a, b], #"slipway_stage_seconds_count{service="web",stage="rollout"}"#) == 1)
            #expect(Self.series([a, b], #"slipway_deployments_total{service="api",outcome="failed"}"#) == 1)
            #expect(try await first.pass() + second.pass() == 0, "nothing twice")

            // Its watch ends: the end adds the steady span and the outcome, not the spans before live again.
            try await store.transition(up, to: .succeeded, reason: "no crash in the window")
            #expect(try await first.pass() == 1)
            #expect(Self.series([a, b], #"slipway_stage_seconds_count{service="web",stage="steady"}"#) == 1)
            #expect(Self.series([a, b], #"slipway_stage_seconds_count{service="web",stage="claim"}"#) == 1)
            #expect(Self.series([a, b], #"slipway_deployments_total{service="web",outcome="succeeded"}"#) == 1)

            // A rollback rolls out an image it does not build: queued, live, steady.
            let back = try await store.createDeployment(service: "web", trigger: .rollback, sha: String(repeating: "a", count: 40),
                                                        image: "r.example.com/web:a", firstJob: .rollout)
            try await store.transition(back, to: .rollingOut)
            #expect(try await store.goLive(back, target: .main("web"), policy: policy))
            try await store.transition(back, to: .succeeded, reason: "no crash in the window")
            #expect(try await Operations(store: store).timelines([back])[back]?.map(\.stage) == ["queued", "live", "steady"])

            // The same marks are the deployment's timeline in the API.
            let summary = try await Operations(store: store).deploymentSummary(up)
            #expect(summary.deployment.timeline?.map(\.stage) == ["queued", "claimed", "fetched", "built", "pushed", "live", "steady"])
            let json = String(decoding: try CompactJSON.encode(summary), as: UTF8.self)
            #expect(json.contains(#""timeline":[{"stage":"queued","at":""#) && json.contains(#""seconds":null}"#), "\(json)")
        }
    }
}
