/// A kind of work in the one job queue. A new kind is one value here (or in the module
/// that owns it) plus one handler.
public struct JobKind: RawRepresentable, Sendable, Hashable, Codable, CustomStringConvertible {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public init(_ rawValue: String) { self.rawValue = rawValue }
    public var description: String { rawValue }

    /// Fetch, build and push the image of a deployment.
    public static let build = JobKind("build")
    /// Start the new revision and retire the old one.
    public static let rollout = JobKind("rollout")
    /// Watch a new revision through its rollback window.
    public static let watch = JobKind("watch")
    /// Stop and remove what a live revision replaced: queued as it goes live, so a slow
    /// shutdown of the old revision holds up neither the watch nor a rollback.
    public static let retire = JobKind("retire")
    /// Whether how the job ends decides its deployment's state. A retire job works for a
    /// deployment that is already live: failing to stop the old revision says nothing about it.
    public var endsItsDeployment: Bool { self != .retire && self != .teardown && self != .notify && self != .notification }

    /// Compute a push's changed files with git, then decide which services it deploys.
    public static let paths = JobKind("paths")
    /// Fetch a pull request's head and open, update or close its services' previews.
    public static let preview = JobKind("preview")
    /// Remove everything a closed preview runs: instances, runtime resources, images.
    public static let teardown = JobKind("teardown")
    /// Tell the source host: a commit status, or a pull request's comment. Queued by the
    /// database as the state it reports changes; never holds up a deployment.
    public static let notify = JobKind("notify")
    /// Tell people: a Slack message or a signed webhook per `notify:` channel. Queued by the
    /// database as a deployment goes live, fails or rolls back, or a preview is torn down.
    public static let notification = JobKind("notification")

    /// Every kind Slipway queues.
    public static let all: [JobKind] = [.build, .rollout, .watch, .retire, .paths, .preview, .teardown, .notify, .notification]
}

/// A job to put on the queue.
public struct NewJob: Sendable, Hashable {
    public var kind: JobKind
    public var deploymentID: Int64?
    public var service: String?
    /// The environment of its deployment's target: latest-wins is per service and environment.
    public var environment: String?
    public var priority: Int
    public var maxAttempts: Int
    /// While a job with this key is queued or running, another is not added.
    public var dedupeKey: String?
    public var delay: TimeSpan?
    /// How long one attempt may run before it is stopped as timed out.
    public var timeout: TimeSpan
    /// What the handler needs beyond the deployment (e.g. the delivery a `paths` job decides).
    public var payload: [String: String]

    public init(kind: JobKind, deploymentID: Int64? = nil, service: String? = nil, environment: String? = nil,
                priority: Int = 0, maxAttempts: Int = 5, dedupeKey: String? = nil, delay: TimeSpan? = nil,
                timeout: TimeSpan = .minutes(60), payload: [String: String] = [:]) {
        self.kind = kind
        self.deploymentID = deploymentID
        self.service = service
        self.environment = environment
        self.priority = priority
        self.maxAttempts = maxAttempts
        self.dedupeKey = dedupeKey
        self.delay = delay
        self.timeout = timeout
        self.payload = payload
    }
}

/// Retry spacing: exponential from `base`, capped, with jitter from an injected
/// fraction in 0..<1 so tests are exact. Half the delay is fixed and half random:
/// never zero, never in lockstep with other retries.
public enum Backoff {
    public static func delay(attempt: Int, base: TimeSpan = .seconds(2), cap: TimeSpan = .minutes(5),
                             jitter: Double) -> TimeSpan {
        let exponent = min(max(attempt - 1, 0), 30)
        let ceiling = min(Double(base.milliseconds) * Double(1 << exponent), Double(cap.milliseconds))
        let ms = ceiling / 2 + ceiling / 2 * min(max(jitter, 0), 1)
        return TimeSpan(milliseconds: Int64(ms))
    }
}
