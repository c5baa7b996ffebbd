/// What a deployment's notifications are about: the events a `notify:` channel may choose.
public enum NotifyEvent: String, Sendable, Hashable, Codable, CaseIterable {
    /// The main environment's new revision is live.
    case live
    /// A deployment failed (build, push, rollout), main or preview.
    case failed
    /// A new revision crashed (or its rollout failed) and the previous one was put back.
    case rolledBack = "rolled_back"
    /// A pull request's preview is live at its commit.
    case previewReady = "preview_ready"
    /// A pull request's preview was torn down (closed, merged, idle past its TTL).
    case previewTornDown = "preview_torn_down"

    /// What a channel hears when it names no events: what needs a person.
    public static let defaults: [NotifyEvent] = [.failed, .rolledBack]
}

/// One place notifications go: a Slack incoming webhook, or any HTTP endpoint that takes
/// Slipway's signed JSON. Secrets are references (`env:`/`file:`), read when sending.
public struct NotifyChannel: Sendable, Hashable, Codable {
    public enum Kind: String, Sendable, Hashable, Codable { case slack, webhook }

    public var kind: Kind
    /// Slack: the incoming webhook's URL, always a reference (Slack treats it as a secret).
    /// Webhook: the URL as written (`https://…`) or a reference to it.
    public var url: NotifyURL
    /// Webhook: the HMAC key of `X-Slipway-Signature`.
    public var secret: SecretReference?
    public var events: [NotifyEvent]

    public init(kind: Kind, url: NotifyURL, secret: SecretReference? = nil, events: [NotifyEvent] = NotifyEvent.defaults) {
        self.kind = kind
        self.url = url
        self.secret = secret
        self.events = events
    }
}

/// A channel's URL: written out, or where it is kept.
public enum NotifyURL: Sendable, Hashable, Codable, CustomStringConvertible {
    case literal(String)
    case reference(SecretReference)

    public var description: String {
        switch self {
        case .literal(let url): url
        case .reference(let reference): reference.description
        }
    }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        if let reference = try? SecretReference(parsing: text) { self = .reference(reference) } else { self = .literal(text) }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }
}
