import CoreMetrics
import Foundation
import Prometheus
import SlipwayCore
import Synchronization

/// One process's metrics: swift-metrics instruments made over a Prometheus
/// registry of its own (no global bootstrap: a test may run several servers in one process),
/// and the exposition `/metrics` serves. Every metric is one of `MetricCatalog`'s.
public final class Telemetry: Sendable {
    public let registry: PrometheusCollectorRegistry
    let factory: CatalogMetricsFactory

    public init() {
        registry = PrometheusCollectorRegistry()
        factory = CatalogMetricsFactory(registry: registry, buckets: MetricCatalog.secondsBuckets.map { .nanoseconds(Int64($0 * 1e9)) })
    }

    static func dimensions(_ metric: MetricCatalog.Metric, _ values: [String]) -> [(String, String)] {
        precondition(values.count == metric.labels.count, "\(metric.name) takes \(metric.labels), given \(values)")
        return Array(zip(metric.labels, values))
    }

    public func count(_ metric: MetricCatalog.Metric, _ labels: [String] = [], by amount: Int64 = 1) {
        precondition(metric.kind == .counter)
        Counter(label: metric.name, dimensions: Self.dimensions(metric, labels), factory: factory).increment(by: amount)
    }

    /// `count` as the parts that count are given it.
    public var counter: MetricCounter { { [self] metric, labels in count(metric, labels) } }

    public func observe(_ metric: MetricCatalog.Metric, _ labels: [String] = [], seconds: Double) {
        precondition(metric.kind == .histogram)
        CoreMetrics.Timer(label: metric.name, dimensions: Self.dimensions(metric, labels), factory: factory)
            .recordNanoseconds(Int64(max(0, seconds) * 1e9))
    }

    public func set(_ metric: MetricCatalog.Metric, _ labels: [String] = [], to value: Double) {
        precondition(metric.kind == .gauge)
        Gauge(label: metric.name, dimensions: Self.dimensions(metric, labels), factory: factory).record(value)
    }

    /// Counter series already exported (at 0 or more).
    private let prepared = Mutex<Set<[String]>>([])

    /// Exports each counter series at 0 unless it exists already (it keeps counting from there).
    public func prepare(_ series: [(MetricCatalog.Metric, [String])]) {
        let fresh = prepared.withLock { known in
            series.filter { known.insert([$0.0.name] + $0.1).inserted }
        }
        for (metric, labels) in fresh where metric.kind == .counter { count(metric, labels, by: 0) }
    }

    /// Label sets each gauge was given: one missing from the next readings goes to 0 (a job
    /// kind whose queue drained must not keep its last depth).
    private let gaugeLabels = Mutex<[MetricCatalog.Metric: Set<[String]>]>([:])

    /// Sets the gauges to a scrape's readings.
    public func record(_ readings: [GaugeSnapshot.Reading]) {
        var now: [MetricCatalog.Metric: Set<[String]>] = [:]
        for reading in readings {
            set(reading.metric, reading.labels, to: reading.value)
            now[reading.metric, default: []].insert(reading.labels)
        }
        let vanished = gaugeLabels.withLock { known -> [(MetricCatalog.Metric, [String])] in
            var vanished: [(MetricCatalog.Metric, [String])] = []
            for (metric, labels) in known { for set in labels.subtracting(now[metric] ?? []) { vanished.append((metric, set)) } }
            for (metric, labels) in now { known[metric, default: []].formUnion(labels) }
            return vanished
        }
        for (metric, labels) in vanished { set(metric, labels, to: 0) }
    }

    /// The Prometheus text exposition of everything recorded so far.
    public func exposition() -> [UInt8] { registry.emitToBuffer() }
}
