/// The kinds of work in the one job queue. A new kind is one case here plus one handler.
public enum JobKind: String, Sendable, Hashable, Codable, CaseIterable {
    /// Fetch, build and push the image of a deployment.
    case build
    /// Start the new revision and retire the old one.
    case rollout
    /// Watch a new revision through its rollback window.
    case watch
}

/// A job to put on the queue.
public struct NewJob: Sendable, Hashable {
    public var kind: JobKind
    public var deploymentID: Int64?
    public var service: String?
    public var priority: Int
    public var maxAttempts: Int
    /// While a job with this key is queued or running, another is not added.
    public var dedupeKey: String?
    public var delay: TimeSpan?

    public init(kind: JobKind, deploymentID: Int64? = nil, service: String? = nil, priority: Int = 0,
                maxAttempts: Int = 5, dedupeKey: String? = nil, delay: TimeSpan? = nil) {
        self.kind = kind
        self.deploymentID = deploymentID
        self.service = service
        self.priority = priority
        self.maxAttempts = maxAttempts
        self.dedupeKey = dedupeKey
        self.delay = delay
    }
}

/// Retry spacing: exponential from `base`, capped, with "full jitter" from an
/// injected fraction in 0..<1 so tests are exact.
public enum Backoff {
    public static func delay(attempt: Int, base: TimeSpan = .seconds(2), cap: TimeSpan = .minutes(5),
                             jitter: Double) -> TimeSpan {
        let exponent = min(max(attempt - 1, 0), 30)
        let ceiling = min(Double(base.milliseconds) * pow2(exponent), Double(cap.milliseconds))
        // Half fixed, half random: never zero, never in lockstep.
        let ms = ceiling / 2 + ceiling / 2 * min(max(jitter, 0), 1)
        return TimeSpan(milliseconds: Int64(ms))
    }

    private static func pow2(_ n: Int) -> Double { Double(1 << n) }
}
