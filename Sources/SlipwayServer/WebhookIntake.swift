import Crypto
import Foundation
import Logging
import SlipwayCore
import SlipwayStore
import SlipwayWebhooks
import Synchronization

/// Verifies, normalizes, matches and stores one webhook delivery. Nothing is parsed or
/// stored unless the secret checks out; the delivery and its jobs are stored together,
/// before the answer, so an accepted webhook is never lost.
public final class WebhookIntake: Sendable {
    /// The three webhook endpoints; Bitbucket Cloud and Server share one.
    public enum Endpoint: String, Sendable, CaseIterable {
        case github, gitlab, bitbucket

        var secretVariable: String { "SLIPWAY_WEBHOOK_SECRET_\(rawValue.uppercased())" }
        var name: String {
            switch self {
            case .github: "GitHub"
            case .gitlab: "GitLab"
            case .bitbucket: "Bitbucket"
            }
        }
        func accepts(_ provider: NormalizedEvent.Provider) -> Bool {
            switch self {
            case .github: provider == .github
            case .gitlab: provider == .gitlab
            case .bitbucket: provider == .bitbucket || provider == .bitbucketServer
            }
        }
    }

    public enum Answer: Sendable, Equatable {
        case accepted(Receipt)
        case unauthorized(String)
        case badRequest(String)
        /// The database did not answer in time; the provider should redeliver.
        case unavailable(String)
    }

    public struct Receipt: Sendable, Equatable, Encodable {
        public var provider: String
        public var deliveryID: String
        public var kind: String
        public var duplicate: Bool
        public var deployments: [String: Int64]
        public var skipped: [String: String]
        /// Services whose decision waits for the push's changed files to be computed with git.
        public var waiting: [String]
    }

    let store: Store
    let secrets: [NormalizedEvent.Provider: String]
    let logger: Logger
    let onQueued: @Sendable () async -> Void
    /// Every stored event (the policy source watches for pushes to its repository).
    let onEvents: @Sendable ([NormalizedEvent]) async -> Void
    let writer: DeliveryWriter
    private let warnedMissingSecret = Mutex<Set<String>>([])

    public init(store: Store, secrets: [NormalizedEvent.Provider: String], logger: Logger,
                onQueued: @escaping @Sendable () async -> Void = {},
                onEvents: @escaping @Sendable ([NormalizedEvent]) async -> Void = { _ in }) {
        self.store = store
        self.secrets = secrets
        self.logger = logger
        self.onQueued = onQueued
        self.onEvents = onEvents
        self.writer = DeliveryWriter(store: store, logger: logger)
    }

    public func receive(endpoint: Endpoint, headers: WebhookHeaders, body: Data) async throws -> Answer {
        guard let provider = WebhookParser.provider(for: headers, body: body) else {
            return .badRequest("no \(endpoint.name) event header; this endpoint takes \(endpoint.name) webhooks")
        }
        guard endpoint.accepts(provider) else {
            return .badRequest("this endpoint takes \(endpoint.name) webhooks, not \(provider.rawValue); "
                               + "point the webhook at /webhooks/\(provider == .bitbucketServer ? "bitbucket" : provider.rawValue)")
        }
        if let refusal = verify(endpoint: endpoint, provider: provider, headers: headers, body: body) {
            return .unauthorized(refusal)
        }

        let events: [NormalizedEvent]
        do {
            events = try WebhookParser.parseAll(headers: headers, body: body)
        } catch {
            logger.warning("webhook body refused", metadata: ["webhook.provider": "\(provider.rawValue)", "error": "\(error.message)"])
            return .badRequest(error.message)
        }
        let bodyHash = Self.hex(SHA256.hash(data: body))
        let baseID = events[0].deliveryID ?? Self.fallbackDeliveryID(events[0], bodyHash: bodyHash)
        // Encoded here, in parallel with other requests, rather than in the one writer.
        let work = try events.enumerated().map { index, event in
            // A body with several changes is one delivery per change; the suffix keeps redeliveries recognisable.
            (event: event, deliveryID: index == 0 ? baseID
                : (event.deliveryID.map { "\($0)#\(index + 1)" } ?? Self.fallbackDeliveryID(event, bodyHash: bodyHash)),
             payload: try DeliveryRecord.payload(of: event))
        }
        let results: [DeliveryResult]
        do {
            results = try await writer.write(work)
        } catch {
            logger.error("webhook not stored; the provider will redeliver", metadata: [
                "webhook.provider": "\(provider.rawValue)", "webhook.delivery": "\(baseID)", "error": "\(String(reflecting: error))",
            ])
            return .unavailable("the delivery could not be stored right now; redeliver it")
        }
        let receipt = receipt(provider: provider, deliveryID: baseID, events: events, results: results)
        if !receipt.deployments.isEmpty || !receipt.waiting.isEmpty { await onQueued() }
        await onEvents(events)
        return .accepted(receipt)
    }

    func receipt(provider: NormalizedEvent.Provider, deliveryID: String, events: [NormalizedEvent],
                 results: [DeliveryResult]) -> Receipt {
        var log = logger
        log[metadataKey: "webhook.provider"] = "\(provider.rawValue)"
        log[metadataKey: "webhook.delivery"] = "\(deliveryID)"
        var receipt = Receipt(provider: provider.rawValue, deliveryID: deliveryID, kind: events[0].kind.rawValue,
                              duplicate: true, deployments: [:], skipped: [:], waiting: [])
        for (event, result) in zip(events, results) {
            guard case .recorded(_, let deployments, let outcomes) = result else { continue }
            receipt.duplicate = false
            receipt.deployments.merge(deployments) { first, _ in first }
            for outcome in outcomes {
                switch outcome {
                case .skip(let service, let reason): receipt.skipped[service] = reason
                case .awaitChangedPaths(let service, _): receipt.waiting.append(service)
                case .deploy: break
                }
            }
            log.info("webhook recorded", metadata: [
                "event.kind": "\(event.kind.rawValue)", "git.ref": "\(event.ref ?? "-")", "git.sha": "\(event.after ?? "-")",
                "deployments.count": "\(deployments.count)", "services.waiting": "\(receipt.waiting.count)",
            ])
        }
        if receipt.duplicate { log.info("duplicate delivery ignored") }
        return receipt
    }

    /// Nil when the request proves it knows the endpoint's secret; otherwise why not.
    func verify(endpoint: Endpoint, provider: NormalizedEvent.Provider, headers: WebhookHeaders, body: Data) -> String? {
        guard let secret = secrets[provider] else {
            let first = warnedMissingSecret.withLock { $0.insert(endpoint.secretVariable).inserted }
            if first {
                logger.error("refusing webhooks: no secret configured; set it to the secret of the provider's webhook",
                             metadata: ["webhook.provider": "\(provider.rawValue)", "config.key": "\(endpoint.secretVariable)"])
            }
            return "no webhook secret is configured for \(endpoint.name); set \(endpoint.secretVariable)"
        }
        let header = WebhookSignature.header(for: provider)
        let valid = WebhookSignature.verify(provider: provider, headers: headers, body: body, secret: secret)
        guard !valid else { return nil }
        logger.warning("webhook refused: secret does not match", metadata: [
            "webhook.provider": "\(provider.rawValue)", "http.header": "\(header)",
            "webhook.delivery": "\(WebhookParser.deliveryID(for: headers, provider: provider) ?? "?")",
        ])
        return "\(header) is missing or does not match the body and the secret in \(endpoint.secretVariable)"
    }

    /// Without a delivery id header, what the delivery says stands in: its repository, ref,
    /// old and new heads, pull request, and a hash of the body. The same body sent again is a
    /// redelivery; the store tells a later push of the same heads from one (`deliveryIDs`).
    static func fallbackDeliveryID(_ event: NormalizedEvent, bodyHash: String) -> String {
        let parts = [event.repository?.cloneURL, event.ref, event.before, event.after, event.pullRequest.map { "pr\($0.number)" },
                     event.pullRequest.map { $0.action.rawValue }, bodyHash]
        return DeliveryRecord.derivedPrefix + hex(SHA256.hash(data: Data(parts.map { $0 ?? "-" }.joined(separator: "\u{0}").utf8))).prefix(40)
    }

    static func hex(_ digest: SHA256.Digest) -> String { digest.map { String(format: "%02x", $0) }.joined() }
}
