import Foundation
import SlipwayCore

/// Detects the provider from the headers (and, for Bitbucket, the event key and body)
/// and normalizes the body.
public enum WebhookParser {
    public static func provider(for headers: WebhookHeaders, body: Data? = nil) -> NormalizedEvent.Provider? {
        if headers["X-GitHub-Event"] != nil { return .github }
        if headers["X-Gitlab-Event"] != nil { return .gitlab }
        guard let key = headers["X-Event-Key"] else { return nil }
        return isBitbucketServer(key: key, headers: headers, body: body) ? .bitbucketServer : .bitbucket
    }

    /// Cloud and Server share `X-Event-Key` and the endpoint; their event keys differ
    /// (`repo:push` vs `repo:refs_changed`, `pullrequest:` vs `pr:`), and so do their
    /// headers (`X-Request-UUID` vs `X-Request-Id`) and bodies (Server's has `eventKey`).
    static func isBitbucketServer(key: String, headers: WebhookHeaders, body: Data?) -> Bool {
        if key.hasPrefix("pr:") || key == "repo:refs_changed" || key.hasPrefix("diagnostics:") || key.hasPrefix("mirror:") {
            return true
        }
        if key.hasPrefix("pullrequest:") || key == "repo:push" || key.hasPrefix("issue:") { return false }
        if headers["X-Request-UUID"] != nil || headers["X-Hook-UUID"] != nil { return false }
        if headers["X-Request-Id"] != nil { return true }
        if let body, let text = String(data: body.prefix(4096), encoding: .utf8), text.contains("\"eventKey\"") { return true }
        return false
    }

    /// The provider's delivery id, used to drop redeliveries.
    public static func deliveryID(for headers: WebhookHeaders, provider: NormalizedEvent.Provider) -> String? {
        let id: String? = switch provider {
        case .github: headers["X-GitHub-Delivery"]
        case .gitlab: headers["Idempotency-Key"] ?? headers["X-Gitlab-Event-UUID"]
        case .bitbucket: headers["X-Request-UUID"] ?? headers["X-Request-Id"]
        case .bitbucketServer: headers["X-Request-Id"] ?? headers["X-Request-UUID"]
        case .poll: nil
        }
        return id.flatMap { $0.isEmpty ? nil : $0 }
    }

    /// The event as `slipway events parse` prints it: a body with several changes gives
    /// its first, carrying all of them in `changes`.
    public static func parse(headers: WebhookHeaders, body: Data) throws(WebhookError) -> NormalizedEvent {
        let events = try parseAll(headers: headers, body: body)
        var first = events[0]
        if events.count > 1 { first.changes = events }
        return first
    }

    /// One event per change the body carries (Bitbucket pushes can carry several); never empty.
    public static func parseAll(headers: WebhookHeaders, body: Data) throws(WebhookError) -> [NormalizedEvent] {
        guard let provider = provider(for: headers, body: body) else {
            throw WebhookError(kind: .unknownProvider,
                               message: "no provider header (X-GitHub-Event, X-Gitlab-Event or X-Event-Key)")
        }
        let delivery = deliveryID(for: headers, provider: provider)
        let events: [NormalizedEvent]
        switch provider {
        case .github:
            events = [try GitHubParser.parse(event: headers["X-GitHub-Event"] ?? "", deliveryID: delivery, body: body)]
        case .gitlab:
            events = [try GitLabParser.parse(event: headers["X-Gitlab-Event"] ?? "", deliveryID: delivery, body: body)]
        case .bitbucket:
            events = try BitbucketCloudParser.parse(event: headers["X-Event-Key"] ?? "", deliveryID: delivery, body: body)
        case .bitbucketServer:
            events = try BitbucketServerParser.parse(event: headers["X-Event-Key"] ?? "", deliveryID: delivery, body: body)
        case .poll:
            throw WebhookError(kind: .unknownProvider, message: "polled events have no webhook form")
        }
        var checked: [NormalizedEvent] = []
        for event in events { checked.append(try EventValidation.validate(event)) }
        return checked
    }
}
