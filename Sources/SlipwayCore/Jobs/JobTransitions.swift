/// The states of a job row.
public enum JobState: String, Sendable, Hashable, Codable, CaseIterable {
    case queued, running, succeeded, failed, dead, cancelled, superseded

    public var isFinal: Bool { self != .queued && self != .running }
}

/// Why someone asked a running job to stop.
public enum StopReason: String, Sendable, Hashable, Codable {
    /// `slipway builds cancel`, or the API.
    case cancelled
    /// A newer commit for the same service and branch arrived.
    case superseded
    /// The job ran past its deadline.
    case timeout
}

/// How one run of a job ended, as its worker saw it.
public enum JobOutcome: Sendable, Hashable {
    case succeeded
    case failed(message: String, retryable: Bool)
    /// It stopped because it was asked to.
    case stopped(StopReason)
    /// It ran past its own time limit.
    case timedOut(after: TimeSpan)
    /// Its lease passed to another worker; this one must not write a result.
    case leaseLost
}

/// What to write for a job after a run.
public enum JobResolution: Sendable, Hashable {
    case complete
    case retry(after: TimeSpan, error: String)
    /// A final state other than success, with the error or reason; the job's deployment
    /// (if any) goes to `deploymentState` unless it already ended.
    case end(JobState, reason: String, deploymentState: DeploymentState)
    /// Write nothing: someone else owns the job now.
    case nothing
}

public enum JobTransitions {
    /// What a job found ended without running to success (declared dead by maintenance,
    /// cancelled or superseded while queued) means for its deployment still in flight; nil:
    /// nothing (a retire job, or a state that ends nothing).
    public static func deploymentOutcome(ofEnded kind: JobKind, state: JobState, error: String?) -> (state: DeploymentState, reason: String)? {
        guard kind.endsItsDeployment else { return nil }
        switch state {
        case .dead: return (.failed, "the \(kind) job gave up: \(error ?? "no error recorded")")
        case .cancelled: return (.cancelled, "cancelled: \(error ?? "")")
        case .superseded: return (.superseded, "superseded: \(error ?? "")")
        case .queued, .running, .succeeded, .failed: return nil
        }
    }

    /// The next state of a job after a run.
    /// - Parameter jitter: a fraction in 0..<1 from the caller's random source.
    /// - Parameter notBefore: the least wait the failure asked for (a source host's `Retry-After`).
    public static func resolve(_ outcome: JobOutcome, kind: JobKind, attempts: Int, maxAttempts: Int,
                               jitter: Double, notBefore: TimeSpan? = nil) -> JobResolution {
        switch outcome {
        case .succeeded:
            return .complete
        case .leaseLost:
            return .nothing
        case .failed(let message, let retryable):
            if retryable && attempts < maxAttempts {
                let backoff = Backoff.delay(attempt: attempts, jitter: jitter)
                return .retry(after: max(backoff, notBefore ?? backoff), error: message)
            }
            let why = retryable ? "the \(kind) job gave up after \(attempts) attempts: \(message)" : message
            return .end(.dead, reason: why, deploymentState: .failed)
        case .stopped(.cancelled):
            return .end(.cancelled, reason: "cancelled on request", deploymentState: .cancelled)
        case .stopped(.superseded):
            return .end(.superseded, reason: "superseded by a newer commit", deploymentState: .superseded)
        case .stopped(.timeout):
            return .end(.dead, reason: "the \(kind) job ran past its deadline and was stopped", deploymentState: .failed)
        case .timedOut(let after):
            // A retry would most likely time out again: stop and say so.
            return .end(.dead, reason: "the \(kind) job timed out after \(after)", deploymentState: .failed)
        }
    }
}
