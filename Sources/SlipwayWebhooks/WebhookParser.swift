import Foundation
import SlipwayCore

/// Detects the provider from the headers and normalizes the body.
public enum WebhookParser {
    public static func provider(for headers: WebhookHeaders) -> NormalizedEvent.Provider? {
        if headers["X-GitHub-Event"] != nil { return .github }
        if headers["X-Gitlab-Event"] != nil { return .gitlab }
        if headers["X-Event-Key"] != nil {
            return headers["X-Request-Id"] != nil && headers["X-Request-UUID"] == nil ? .bitbucketServer : .bitbucket
        }
        return nil
    }

    /// The provider's delivery id, used to drop redeliveries.
    public static func deliveryID(for headers: WebhookHeaders, provider: NormalizedEvent.Provider) -> String? {
        switch provider {
        case .github: headers["X-GitHub-Delivery"]
        case .gitlab: headers["Idempotency-Key"] ?? headers["X-Gitlab-Event-UUID"]
        case .bitbucket: headers["X-Request-UUID"]
        case .bitbucketServer: headers["X-Request-Id"]
        }
    }

    public static func parse(headers: WebhookHeaders, body: Data) throws(WebhookError) -> NormalizedEvent {
        guard let provider = provider(for: headers) else {
            throw WebhookError(kind: .unknownProvider,
                               message: "no provider header (X-GitHub-Event, X-Gitlab-Event or X-Event-Key)")
        }
        switch provider {
        case .github:
            return try GitHubParser.parse(event: headers["X-GitHub-Event"] ?? "", deliveryID: deliveryID(for: headers, provider: .github), body: body)
        case .gitlab, .bitbucket, .bitbucketServer:
            throw WebhookError(kind: .unsupportedProvider,
                               message: "\(provider.rawValue) webhooks are not supported by this version; use GitHub or polling")
        }
    }
}
