/// Every metric Slipway exports, in one table: its name, kind, help and label keys. Label
/// values come from closed sets (providers, outcomes, stages, job kinds) or from policy
/// names (services), never from SHAs, deployment ids or anything a request makes up.
public enum MetricCatalog {
    public enum Kind: String, Sendable { case counter, gauge, histogram }

    public struct Metric: Sendable, Hashable {
        public let name: String
        public let kind: Kind
        public let help: String
        public let labels: [String]

        public init(_ name: String, _ kind: Kind, _ labels: [String], _ help: String) {
            self.name = name
            self.kind = kind
            self.labels = labels
            self.help = help
        }
    }

    // MARK: Counters

    public static let webhooks = Metric("slipway_webhooks_total", .counter, ["provider", "outcome"],
                                        "Webhook requests answered, by provider and outcome (WebhookOutcome).")

    public static let deployments = Metric("slipway_deployments_total", .counter, ["service", "outcome"],
                                           "Deployments that ended, by outcome (succeeded, failed, rolled_back, cancelled, superseded).")
    public static let rollbacks = Metric("slipway_rollbacks_total", .counter, ["service", "reason"],
                                         "Rollbacks, by reason: crash, rollout_failed (the runtime gave up), requested (slipway rollback).")

    public static let jobRetries = Metric("slipway_job_retries_total", .counter, ["kind"],
                                          "Job attempts that failed and were queued again, by job kind.")
    public static let jobsDead = Metric("slipway_jobs_dead_total", .counter, ["kind"],
                                        "Jobs that gave up (out of attempts, or an error retrying cannot fix), by job kind.")
    public static let commitReports = Metric("slipway_commit_reports_total", .counter, ["provider", "outcome"],
                                             "Commit statuses and pull-request comments sent to source hosts, by outcome (sent, retried, refused, skipped).")
    public static let notifications = Metric("slipway_notifications_total", .counter, ["channel", "outcome"],
                                             "Notification deliveries by channel (slack, webhook) and outcome (sent, retried, refused, gave_up).")
    public static let reconcileActions = Metric("slipway_reconcile_actions_total", .counter, ["action"],
                                                "Actions the reconcile loop took to close a difference, by kind.")

    // MARK: Gauges, read from the database at each scrape

    public static let queueDepth = Metric("slipway_queue_depth", .gauge, ["kind"], "Jobs waiting to be claimed, by kind.")
    public static let queueOldest = Metric("slipway_queue_oldest_seconds", .gauge, ["kind"],
                                           "Age of the oldest job waiting to be claimed, by kind (0 when none waits).")
    public static let jobs = Metric("slipway_jobs", .gauge, ["kind", "state"], "Jobs by kind and state.")
    public static let deploymentsByState = Metric("slipway_deployments", .gauge, ["service", "state"], "Deployments by service and state.")
    public static let previewsOpen = Metric("slipway_previews_open", .gauge, [], "Pull-request previews open now.")
    public static let leader = Metric("slipway_leader", .gauge, ["lease"],
                                      "1 while some replica holds the lease (reconciler, previews, policies, maintenance, poller, …), else 0.")
    public static let policySetGeneration = Metric("slipway_policy_set_generation", .gauge, [],
                                                   "Id of the policy set in force (the newest applied one).")
    public static let policySetRejected = Metric("slipway_policy_set_rejected", .gauge, [],
                                                 "1 when the newest policy set read was rejected (the one in force is older).")

    // MARK: Histograms

    public static let webhookDurable = Metric("slipway_webhook_durable_seconds", .histogram, ["provider"],
                                              "Webhook received → its delivery durable in the database.")
    public static let stage = Metric("slipway_stage_seconds", .histogram, ["service", "stage"],
                                     "Time a deployment spent in each stage: claim, fetch, detect, build, push, rollout, steady.")
    public static let pushToLive = Metric("slipway_push_to_live_seconds", .histogram, ["service"],
                                          "Webhook received (or deployment queued) → the new revision live.")
    public static let crashToRollback = Metric("slipway_crash_to_rollback_seconds", .histogram, ["service", "phase"],
                                               "First crash observed → rollback started / finished.")

    public static let all: [Metric] = [webhooks, deployments, rollbacks, jobRetries, jobsDead, commitReports, notifications, reconcileActions,
                                       queueDepth, queueOldest, jobs, deploymentsByState, previewsOpen, leader,
                                       policySetGeneration, policySetRejected, webhookDurable, stage, pushToLive, crashToRollback]

    /// The counter series every process exports at 0 from its first scrape: a series whose first
    /// sample is already 1 shows no increase, and the alerts on rare events (a dead job, a lost
    /// notification) would miss the first.
    public static let processZeroSeries: [(Metric, [String])] =
        JobKind.all.flatMap { [(jobRetries, [$0.rawValue]), (jobsDead, [$0.rawValue])] }
        + ["slack", "webhook"].flatMap { channel in ["sent", "retried", "refused", "gave_up"].map { (notifications, [channel, $0]) } }
        + CommitStatus.Provider.allCases.flatMap { provider in
            ["sent", "retried", "refused", "skipped"].map { (commitReports, [provider.rawValue, $0]) }
        }
        + ["build", "rollout", "rollback", "self-heal", "prune"].map { (reconcileActions, [$0]) }

    /// Seconds: from a few milliseconds (a webhook made durable) to an hour (a slow build).
    public static let secondsBuckets: [Double] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600]

    /// Why a metric's name breaks Prometheus conventions (nil when it keeps them): the
    /// `slipway_` prefix, snake case, `_total` on counters only, `_seconds` on durations.
    public static func problem(_ metric: Metric) -> String? {
        let allowed = Set("abcdefghijklmnopqrstuvwxyz0123456789_")
        guard metric.name.hasPrefix("slipway_"), metric.name.allSatisfy(allowed.contains) else { return "\(metric.name): not slipway_snake_case" }
        if (metric.kind == .counter) != metric.name.hasSuffix("_total") { return "\(metric.name): _total is for counters, and every counter has it" }
        if metric.kind == .histogram, !metric.name.hasSuffix("_seconds") { return "\(metric.name): a duration histogram is in _seconds" }
        let unbounded: Set = ["sha", "id", "deployment", "deployment_id", "delivery", "commit", "url", "branch", "token"]
        if let label = metric.labels.first(where: unbounded.contains) { return "\(metric.name): label \(label) has no bound" }
        return nil
    }
}

/// Counts one event of a counter; the parts that count are given it (nil in tests that do not look).
public typealias MetricCounter = @Sendable (MetricCatalog.Metric, [String]) -> Void

/// What a webhook request was answered: the `outcome` label of `slipway_webhooks_total`.
public enum WebhookOutcome: String, Sendable, CaseIterable {
    case accepted, duplicate, unauthorized
    case badRequest = "bad_request"
    case unavailable
}
