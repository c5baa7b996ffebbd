/// What the gauges say, read from the database at a scrape: every replica reports the same
/// shared truth. `readings` turns it into the catalog's gauges.
public struct GaugeSnapshot: Sendable {
    public struct Waiting: Sendable, Hashable {
        public var kind: String
        public var count: Int
        public var oldestSeconds: Double
        public init(kind: String, count: Int, oldestSeconds: Double) {
            self.kind = kind
            self.count = count
            self.oldestSeconds = oldestSeconds
        }
    }

    public var jobs: [(kind: String, state: String, count: Int)]
    public var deployments: [(service: String, state: String, count: Int)]
    /// Jobs queued and due, by kind.
    public var waiting: [Waiting]
    public var openPreviews: Int
    /// Each leader lease ever taken, and whether someone holds it now.
    public var leases: [(name: String, held: Bool)] = []
    /// The newest applied policy set's id, and whether a newer one was rejected.
    public var policySetInForce: Int64?
    public var newestRejected: Bool

    public init(jobs: [(kind: String, state: String, count: Int)], deployments: [(service: String, state: String, count: Int)],
                waiting: [Waiting], openPreviews: Int, policySetInForce: Int64?, newestRejected: Bool) {
        self.jobs = jobs
        self.deployments = deployments
        self.waiting = waiting
        self.openPreviews = openPreviews
        self.policySetInForce = policySetInForce
        self.newestRejected = newestRejected
    }

    public struct Reading: Sendable, Hashable {
        public var metric: MetricCatalog.Metric
        public var labels: [String]
        public var value: Double
    }

    /// One reading per gauge and label set. A job kind with nothing waiting reads 0 depth and
    /// 0 age, so an alert on age clears when the queue drains.
    public func readings() -> [Reading] {
        var out: [Reading] = []
        for job in jobs { out.append(Reading(metric: MetricCatalog.jobs, labels: [job.kind, job.state], value: Double(job.count))) }
        for row in deployments {
            out.append(Reading(metric: MetricCatalog.deploymentsByState, labels: [row.service, row.state], value: Double(row.count)))
        }
        let kinds = Set(jobs.map(\.kind)).union(waiting.map(\.kind)).sorted()
        let byKind = Dictionary(waiting.map { ($0.kind, $0) }, uniquingKeysWith: { a, _ in a })
        for kind in kinds {
            out.append(Reading(metric: MetricCatalog.queueDepth, labels: [kind], value: Double(byKind[kind]?.count ?? 0)))
            out.append(Reading(metric: MetricCatalog.queueOldest, labels: [kind], value: max(0, byKind[kind]?.oldestSeconds ?? 0)))
        }
        out.append(Reading(metric: MetricCatalog.previewsOpen, labels: [], value: Double(openPreviews)))
        for lease in leases { out.append(Reading(metric: MetricCatalog.leader, labels: [lease.name], value: lease.held ? 1 : 0)) }
        out.append(Reading(metric: MetricCatalog.policySetGeneration, labels: [], value: Double(policySetInForce ?? 0)))
        out.append(Reading(metric: MetricCatalog.policySetRejected, labels: [], value: newestRejected ? 1 : 0))
        return out
    }
}
