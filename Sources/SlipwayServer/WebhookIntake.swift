import Foundation
import Logging
import SlipwayCore
import SlipwayStore
import SlipwayWebhooks
import Synchronization

/// Verifies, normalizes, matches and stores one webhook delivery. Nothing is stored
/// unless the signature is right; the delivery and its jobs are stored together.
public final class WebhookIntake: Sendable {
    public enum Answer: Sendable, Equatable {
        case accepted(Receipt)
        case unauthorized(String)
        case badRequest(String)
    }

    public struct Receipt: Sendable, Equatable, Encodable {
        public var provider: String
        public var deliveryID: String
        public var kind: String
        public var duplicate: Bool
        public var deployments: [String: Int64]
        public var skipped: [String: String]
    }

    let store: Store
    let secrets: [NormalizedEvent.Provider: String]
    let logger: Logger
    let onQueued: @Sendable () async -> Void
    private let warnedMissingSecret = Mutex<Set<String>>([])

    public init(store: Store, secrets: [NormalizedEvent.Provider: String], logger: Logger,
                onQueued: @escaping @Sendable () async -> Void = {}) {
        self.store = store
        self.secrets = secrets
        self.logger = logger
        self.onQueued = onQueued
    }

    public func receive(provider: NormalizedEvent.Provider, headers: WebhookHeaders, body: Data) async throws -> Answer {
        guard let secret = secrets[provider] else {
            let variable = "SLIPWAY_WEBHOOK_SECRET_\(provider == .bitbucketServer ? "BITBUCKET" : provider.rawValue.uppercased())"
            let first = warnedMissingSecret.withLock { $0.insert(variable).inserted }
            if first {
                logger.error("refusing webhooks: no secret configured; set it to the secret of the provider's webhook",
                             metadata: ["webhook.provider": "\(provider.rawValue)", "config.key": "\(variable)"])
            }
            return .unauthorized("no webhook secret is configured for \(provider.rawValue); set \(variable)")
        }
        switch provider {
        case .github:
            guard WebhookSignature.isValid(header: headers["X-Hub-Signature-256"], body: body, secret: secret) else {
                logger.warning("webhook signature mismatch", metadata: ["webhook.provider": "github",
                                                                        "webhook.delivery": "\(headers["X-GitHub-Delivery"] ?? "?")"])
                return .unauthorized("X-Hub-Signature-256 is missing or does not match the body")
            }
        default:
            return .badRequest("\(provider.rawValue) webhooks are not supported by this version")
        }

        let event: NormalizedEvent
        do {
            event = try WebhookParser.parse(headers: headers, body: body)
        } catch {
            return .badRequest(error.message)
        }
        let deliveryID = event.deliveryID ?? Self.fallbackDeliveryID(event)
        let outcomes = event.kind == .ignored ? [] : EventMatching.outcomes(for: event, routes: try await store.routes())
        let result = try await store.recordDelivery(event, deliveryID: deliveryID, outcomes: outcomes)

        var log = logger
        log[metadataKey: "webhook.provider"] = "\(provider.rawValue)"
        log[metadataKey: "webhook.delivery"] = "\(deliveryID)"
        var skipped: [String: String] = [:]
        for case .skip(let service, let reason) in outcomes { skipped[service] = reason }
        switch result {
        case .duplicate:
            log.info("duplicate delivery ignored")
            return .accepted(Receipt(provider: provider.rawValue, deliveryID: deliveryID, kind: event.kind.rawValue,
                                     duplicate: true, deployments: [:], skipped: [:]))
        case .recorded(_, let deployments):
            log.info("webhook recorded", metadata: [
                "event.kind": "\(event.kind.rawValue)", "git.sha": "\(event.after ?? "-")",
                "deployments.count": "\(deployments.count)",
            ])
            if !deployments.isEmpty { await onQueued() }
            return .accepted(Receipt(provider: provider.rawValue, deliveryID: deliveryID, kind: event.kind.rawValue,
                                     duplicate: false, deployments: deployments, skipped: skipped))
        }
    }

    /// Without a delivery id header, the (repo, ref, after-SHA) triple stands in.
    static func fallbackDeliveryID(_ event: NormalizedEvent) -> String {
        let parts = [event.repository?.cloneURL, event.ref, event.after, event.pullRequest.map { "pr\($0.number)" }]
        return "derived:" + parts.map { $0 ?? "-" }.joined(separator: "|")
    }
}
