/// Where a deployment is in its life. The raw values are the status contract.
public enum DeploymentState: String, Sendable, Hashable, Codable, CaseIterable {
    case queued
    case building
    case pushing
    case rollingOut = "rolling_out"
    case watching
    case succeeded
    case failed
    case rolledBack = "rolled_back"
    case cancelled
    case superseded

    /// Ended without becoming (or staying) the live revision through no one's newer choice:
    /// what the reconciler does not try again unchanged.
    public var endedUnsuccessfully: Bool { self == .failed || self == .rolledBack || self == .cancelled }

    /// No further transitions.
    public var isFinal: Bool {
        switch self {
        case .succeeded, .failed, .rolledBack, .cancelled, .superseded: true
        case .queued, .building, .pushing, .rollingOut, .watching: false
        }
    }
}

/// Why a deployment exists.
public enum DeploymentTrigger: String, Sendable, Hashable, Codable {
    /// A webhook or poll saw a new commit.
    case push
    /// `slipway deploy SERVICE [--sha]`.
    case manual
    /// `slipway deploy SERVICE --image`: a prebuilt image, no build.
    case image
    /// `slipway rollback SERVICE`.
    case rollback
    /// The reconcile loop: the newest commit or policy not yet live, or self-heal.
    case reconcile
    /// What an ECS service ran before Slipway's first rollout to it, recorded so a rollback can put it back.
    case adopted
    /// A pull request's new head, built as its preview.
    case pullRequest = "pull_request"
}
