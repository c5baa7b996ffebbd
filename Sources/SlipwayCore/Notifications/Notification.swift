import Foundation

/// What one notification says, gathered from the deployment (or preview) it is about. The
/// payloads below are pure functions of it, so what Slack and a webhook receive is
/// table-tested byte for byte.
public struct NotificationFacts: Sendable, Hashable {
    public var event: NotifyEvent
    public var service: String
    /// `main`, or `pr-N`.
    public var environment: String
    public var deploymentID: Int64?
    public var state: String?
    public var sha: String?
    public var branch: String?
    public var author: String?
    /// The commit message's first line.
    public var subject: String?
    public var reason: String?
    /// Who asked (an API token's name); nil for pushes and the reconciler.
    public var by: String?
    public var pullRequest: Int?
    public var previewURL: String?
    /// The deployment's page on Slipway (SLIPWAY_PUBLIC_URL), and the commit's on its host.
    public var deploymentURL: String?
    public var commitURL: String?
    public var at: Date

    public init(event: NotifyEvent, service: String, environment: String, deploymentID: Int64? = nil, state: String? = nil,
                sha: String? = nil, branch: String? = nil, author: String? = nil, subject: String? = nil, reason: String? = nil,
                by: String? = nil, pullRequest: Int? = nil, previewURL: String? = nil, deploymentURL: String? = nil,
                commitURL: String? = nil, at: Date) {
        self.event = event
        self.service = service
        self.environment = environment
        self.deploymentID = deploymentID
        self.state = state
        self.sha = sha
        self.branch = branch
        self.author = author
        self.subject = subject
        self.reason = reason
        self.by = by
        self.pullRequest = pullRequest
        self.previewURL = previewURL
        self.deploymentURL = deploymentURL
        self.commitURL = commitURL
        self.at = at
    }

    /// `web`, or `web (pull request #7)`.
    public var target: String { pullRequest.map { "\(service) (pull request #\($0))" } ?? service }

    /// One line a person reads first: `web rolled back`.
    public var headline: String {
        switch event {
        case .live: "\(service) is live"
        case .failed: "\(target) failed to deploy"
        case .rolledBack: "\(target) rolled back"
        case .previewReady: "\(target) preview is ready"
        case .previewTornDown: "\(target) preview torn down"
        }
    }

    /// The commit page of a hosted repository (`github.com/acme/shop`, …); nil for other hosts.
    public static func commitURL(repo: String, sha: String) -> String? {
        guard let url = try? RepoURL(repo), !url.isLocal else { return nil }
        let key = url.key, host = key.split(separator: "/").first.map(String.init) ?? ""
        if host.contains("github") { return "https://\(key)/commit/\(sha)" }
        if host.contains("gitlab") { return "https://\(key)/-/commit/\(sha)" }
        if host == "bitbucket.org" { return "https://\(key)/commits/\(sha)" }
        return nil
    }
}

/// Which of a service's channels hear an event: the policy's `notify:` when it has one
/// (an empty list silences the service), else the server's default.
public enum NotificationRules {
    public static func channels(policy: [NotifyChannel]?, fallback: [NotifyChannel], event: NotifyEvent) -> [(index: Int, channel: NotifyChannel)] {
        (policy ?? fallback).enumerated().filter { $0.element.events.contains(event) }.map { ($0.offset, $0.element) }
    }

}

/// What an answer to a notification means. 2xx: delivered. 408, 425, 429 and 5xx: the
/// receiver may take it later, so the queue tries again. Any other 4xx (a revoked Slack
/// webhook answers 403/404 `no_service`, a receiver refusing the signature 401): trying again
/// cannot help, so the delivery ends, refused, with the answer in its row and the log.
public enum NotificationAnswer: Sendable, Hashable {
    case delivered
    case retry
    case refused

    public static func classify(status: Int) -> NotificationAnswer {
        switch status {
        case 200..<300: .delivered
        case 408, 425, 429, 500...599: .retry
        default: .refused
        }
    }
}

/// What one attempt at a delivery comes to, and so the row's state and the counter's outcome.
public enum DeliveryOutcome: String, Sendable, Hashable {
    case sent, refused, retried
    case gaveUp = "gave_up"
    /// The worker stopped (a shutdown) before the receiver took it: left pending, not counted.
    case stopped

    public static func of(_ answer: NotificationAnswer, lastAttempt: Bool, stopped: Bool) -> DeliveryOutcome {
        switch answer {
        case .delivered: .sent
        case .refused: .refused
        case .retry: stopped ? .stopped : lastAttempt ? .gaveUp : .retried
        }
    }

    /// The delivery row's state after it.
    public var state: String {
        switch self {
        case .sent: "sent"
        case .refused: "refused"
        case .gaveUp: "gave_up"
        case .retried, .stopped: "pending"
        }
    }

    /// Whether the delivery is over (not tried again).
    public var isFinal: Bool { state != "pending" }
}
