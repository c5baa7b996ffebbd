import Foundation

/// A deployment as the decisions need to see it.
public struct DeploymentRecord: Sendable, Hashable, Codable {
    public var id: Int64
    public var service: String
    public var trigger: DeploymentTrigger
    public var state: DeploymentState
    public var sha: String?
    public var image: String?
    public var digest: String?
    public var reason: String?
    public var createdAt: Date
    public var liveAt: Date?
    public var finishedAt: Date?
    /// The policy it was made from (what `plan` compares with the one in force).
    public var policy: Policy?
    /// The branch its commit came from, when it came from one.
    public var branch: String?
    /// What the runtime knows it by (ECS: the task definition ARN it rolled out).
    public var runtimeRef: String?
    /// A push the fetched repository confirmed (`PushVerification`): only these count as the
    /// branch's newest commit. Records made by hand (tests, benchmarks) count as confirmed.
    public var pushVerified: Bool
    /// Which copy of the service it deploys: `main`, or a pull request's preview.
    public var environment: DeploymentTarget.Environment

    public var target: DeploymentTarget { DeploymentTarget(service: service, environment: environment) }

    public init(id: Int64, service: String, trigger: DeploymentTrigger, state: DeploymentState,
                sha: String? = nil, image: String? = nil, digest: String? = nil, reason: String? = nil,
                createdAt: Date, liveAt: Date? = nil, finishedAt: Date? = nil, policy: Policy? = nil, branch: String? = nil,
                runtimeRef: String? = nil, pushVerified: Bool = true, environment: DeploymentTarget.Environment = .main) {
        self.environment = environment
        self.runtimeRef = runtimeRef
        self.pushVerified = pushVerified
        self.policy = policy
        self.branch = branch
        self.id = id
        self.service = service
        self.trigger = trigger
        self.state = state
        self.sha = sha
        self.image = image
        self.digest = digest
        self.reason = reason
        self.createdAt = createdAt
        self.liveAt = liveAt
        self.finishedAt = finishedAt
    }
}

public enum RolloutDecisions {
    /// The revision to put back when `failing` must go: the one that was live most
    /// recently and is known good (it succeeded, or it was replaced while healthy). An older
    /// revision still `watching` was replaced with no crash, its watch not yet concluded (a
    /// watch job waiting out a retry, or a new revision that crashed within a second): good too.
    public static func rollbackTarget(for failingID: Int64, history: [DeploymentRecord]) -> DeploymentRecord? {
        history
            .filter { $0.id != failingID && ($0.state == .succeeded || ($0.state == .watching && $0.id < failingID))
                      && $0.image != nil && $0.liveAt != nil }
            .max { ($0.liveAt!, $0.id) < ($1.liveAt!, $1.id) }
    }

    public enum Gate: Sendable, Hashable {
        case proceed
        case supersede(reason: String)
    }

    /// Whether a built deployment may roll out now. An automatic (push, pull request) deployment
    /// never replaces a newer one that is already live; explicit verbs always proceed.
    public static func gate(_ deployment: DeploymentRecord, live: DeploymentRecord?) -> Gate {
        guard [.push, .reconcile, .pullRequest].contains(deployment.trigger), let live, live.id > deployment.id,
              [.push, .manual, .reconcile, .pullRequest].contains(live.trigger) else { return .proceed }
        return .supersede(reason: "deployment \(live.id) of a newer commit (\(live.sha.map(shortSHA) ?? "?")) is already live")
    }

    public static func shortSHA(_ sha: String) -> String { String(sha.prefix(12)) }
}
