import Foundation
import SlipwayCore
import SlipwayTelemetry
import Testing

/// Metric names and labels keep Prometheus's conventions, and the exposition says what was
/// counted, timed and read.
struct TelemetryTests {
    @Test func everyMetricKeepsTheConventions() {
        for metric in MetricCatalog.all { #expect(MetricCatalog.problem(metric) == nil) }
        #expect(Set(MetricCatalog.all.map(\.name)).count == MetricCatalog.all.count, "one entry per name")
    }

    @Test(arguments: [
        ("webhooks_total", MetricCatalog.Kind.counter, [String](), "not slipway_snake_case"),
        ("slipway_Webhooks_total", .counter, [], "not slipway_snake_case"),
        ("slipway_webhooks", .counter, [], "_total is for counters"),
        ("slipway_queue_depth_total", .gauge, [], "_total is for counters"),
        ("slipway_build_ms", .histogram, [], "is in _seconds"),
        ("slipway_deploys_total", .counter, ["service", "sha"], "label sha has no bound"),
        ("slipway_stage_seconds", .histogram, ["deployment_id"], "label deployment_id has no bound"),
    ])
    func aBrokenConventionIsNamed(_ name: String, _ kind: MetricCatalog.Kind, _ labels: [String], _ problem: String) {
        let metric = MetricCatalog.Metric(name, kind, labels, "help")
        #expect(MetricCatalog.problem(metric)?.contains(problem) == true, "\(String(describing: MetricCatalog.problem(metric)))")
    }

    static func lines(_ telemetry: Telemetry) -> Set<String> {
        Set(String(decoding: telemetry.exposition(), as: UTF8.self).split(separator: "\n").map(String.init))
    }

    @Test func countsTimesAndHelp() {
        let telemetry = Telemetry()
        telemetry.count(MetricCatalog.webhooks, ["github", "accepted"])
        telemetry.count(MetricCatalog.webhooks, ["github", "accepted"])
        telemetry.count(MetricCatalog.webhooks, ["gitlab", "unauthorized"])
        telemetry.observe(MetricCatalog.webhookDurable, ["github"], seconds: 0.03)
        let lines = Self.lines(telemetry)
        #expect(lines.contains(#"slipway_webhooks_total{provider="github",outcome="accepted"} 2"#))
        #expect(lines.contains(#"slipway_webhooks_total{provider="gitlab",outcome="unauthorized"} 1"#))
        #expect(lines.contains("# HELP slipway_webhooks_total \(MetricCatalog.webhooks.help)"))
        #expect(lines.contains("# TYPE slipway_webhook_durable_seconds histogram"))
        #expect(lines.contains(#"slipway_webhook_durable_seconds_bucket{provider="github",le="0.025"} 0"#), "\(lines.sorted())")
        #expect(lines.contains(#"slipway_webhook_durable_seconds_bucket{provider="github",le="0.05"} 1"#), "\(lines.sorted())")
        #expect(lines.contains(#"slipway_webhook_durable_seconds_count{provider="github"} 1"#))
    }

    @Test func aGaugeMissingFromTheNextScrapeReadsZero() {
        let telemetry = Telemetry()
        func snapshot(_ waiting: [GaugeSnapshot.Waiting], rejected: Bool) -> GaugeSnapshot {
            GaugeSnapshot(jobs: waiting.map { ($0.kind, "queued", $0.count) }, deployments: [("web", "queued", 1)], waiting: waiting,
                          openPreviews: 2, policySetInForce: 7, newestRejected: rejected)
        }
        var first = snapshot([.init(kind: "build", count: 3, oldestSeconds: 42.5)], rejected: true)
        first.leases = [("reconciler", true), ("previews", false)]
        telemetry.record(first.readings())
        var lines = Self.lines(telemetry)
        #expect(lines.contains(#"slipway_queue_depth{kind="build"} 3.0"#))
        #expect(lines.contains(#"slipway_queue_oldest_seconds{kind="build"} 42.5"#))
        #expect(lines.contains(#"slipway_jobs{kind="build",state="queued"} 3.0"#))
        #expect(lines.contains("slipway_previews_open 2.0") && lines.contains("slipway_policy_set_generation 7.0"))
        #expect(lines.contains("slipway_policy_set_rejected 1.0"))
        #expect(lines.contains(#"slipway_leader{lease="reconciler"} 1.0"#) && lines.contains(#"slipway_leader{lease="previews"} 0.0"#))
        // The build queue drained; a notify job waits now.
        telemetry.record(snapshot([.init(kind: "notify", count: 1, oldestSeconds: 0.5)], rejected: false).readings())
        lines = Self.lines(telemetry)
        #expect(lines.contains(#"slipway_queue_depth{kind="build"} 0.0"#), "\(lines.sorted())")
        #expect(lines.contains(#"slipway_queue_oldest_seconds{kind="build"} 0.0"#))
        #expect(lines.contains(#"slipway_jobs{kind="build",state="queued"} 0.0"#))
        #expect(lines.contains(#"slipway_queue_depth{kind="notify"} 1.0"#))
        #expect(lines.contains("slipway_policy_set_rejected 0.0"))
    }
}
