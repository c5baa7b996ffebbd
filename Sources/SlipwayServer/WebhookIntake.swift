import Crypto
import Foundation
import Logging
import SlipwayCore
import SlipwayStore
import NIOCore
import SlipwaySystem
import SlipwayWebhooks
import Synchronization

/// Verifies, normalizes, matches and stores one webhook delivery. Nothing is acted on or
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
    /// The provider-wide secrets (SLIPWAY_WEBHOOK_SECRET_*).
    let secrets: [NormalizedEvent.Provider: String]
    /// Reads repositories' own secrets (`source.webhookSecret`) within the operator's rules.
    let secretReader: SecretReader
    let logger: Logger
    let onQueued: @Sendable () async -> Void
    /// Every stored event (the policy source watches for pushes to its repository).
    let onEvents: @Sendable ([NormalizedEvent]) async -> Void
    let writer: DeliveryWriter
    let clock: ServiceClock
    private let warned = Mutex<Set<String>>([])
    /// The repositories' own webhook secrets, as last read.
    let ownSecrets = Mutex<(secrets: [RepositorySecret], at: Duration)?>(nil)

    public init(store: Store, secrets: [NormalizedEvent.Provider: String], secretReader: SecretReader = .standard, logger: Logger,
                onQueued: @escaping @Sendable () async -> Void = {},
                onEvents: @escaping @Sendable ([NormalizedEvent]) async -> Void = { _ in }, clock: ServiceClock = .continuous) {
        self.clock = clock
        self.store = store
        self.secrets = secrets
        self.secretReader = secretReader
        self.logger = logger
        self.onQueued = onQueued
        self.onEvents = onEvents
        self.writer = DeliveryWriter(store: store, logger: logger, clock: clock)
    }

    /// The whole path for a body already in hand: admission, then `receive(_:headers:body:)`.
    public func receive(endpoint: Endpoint, headers: WebhookHeaders, body: Data) async throws -> Answer {
        switch await admit(endpoint: endpoint, headers: headers) {
        case .refuse(let answer):
            return answer
        case .admit(var gate):
            gate.update(ByteBuffer(data: body))
            return try await receive(gate, headers: headers, body: body)
        }
    }

    /// Verifies, normalizes, matches and stores a body that `gate` admitted (and was fed).
    public func receive(_ gate: Gate, headers: WebhookHeaders, body: Data) async throws -> Answer {
        let endpoint = gate.endpoint
        guard let provider = WebhookParser.provider(for: headers, body: body) else {
            return .badRequest("no \(endpoint.name) event header; this endpoint takes \(endpoint.name) webhooks")
        }
        guard let proof = gate.proof() else {
            return .unauthorized(refusal(endpoint, provider: provider, headers: headers))
        }

        let events: [NormalizedEvent]
        do {
            events = try WebhookParser.parseAll(headers: headers, body: body)
        } catch {
            logger.warning("webhook body refused", metadata: ["webhook.provider": "\(provider.rawValue)", "error": "\(error.message)"])
            return .badRequest(error.message)
        }
        // A repository's own secret vouches for that repository only, not for whatever the body names.
        if case .repository(_, let keys) = proof {
            let named = Set(events.flatMap { ($0.repository?.urls ?? []).compactMap { try? RepoURL($0).key } })
            guard !named.isDisjoint(with: keys) else {
                return .unauthorized("the body was signed with another repository's own secret (source.webhookSecret); it proves nothing for this one")
            }
        }
        // Postgres stores no NUL in text or JSON: a payload carrying one is refused whole, not
        // left to fail the batch it would be written with.
        let payloads = try events.map(DeliveryRecord.payload(of:))
        if payloads.contains(where: { $0.contains("\\u0000") }) {
            return .badRequest("the payload holds a NUL character (\\u0000) in a field Slipway keeps; nothing was stored")
        }
        // Only a delivery without a provider id needs the body's hash.
        let bodyHash = events.contains { $0.deliveryID == nil } ? Self.hex(SHA256.hash(data: body)) : ""
        let baseID = events[0].deliveryID ?? Self.fallbackDeliveryID(events[0], bodyHash: bodyHash)
        // Encoded here, in parallel with other requests, rather than in the one writer.
        let work = try events.enumerated().map { index, event in
            // A body with several changes is one delivery per change; the suffix keeps redeliveries recognisable.
            (event: event, deliveryID: index == 0 ? baseID
                : (event.deliveryID.map { "\($0)#\(index + 1)" } ?? Self.fallbackDeliveryID(event, bodyHash: bodyHash)),
             payload: payloads[index], proof: proof)
        }
        let results: [DeliveryResult]
        do {
            results = try await writer.write(work)
        } catch {
            logger.error("webhook not stored; the provider will redeliver", metadata: [
                "webhook.provider": "\(provider.rawValue)", "webhook.delivery": "\(Terminal.printable(baseID, limit: 100))",
                "error": "\(String(reflecting: error))",
            ])
            return .unavailable("the delivery could not be stored right now; redeliver it")
        }
        let receipt = receipt(provider: provider, deliveryID: baseID, events: events, results: results)
        if !receipt.deployments.isEmpty || !receipt.waiting.isEmpty { await onQueued() }
        await onEvents(events)
        return .accepted(receipt)
    }

    /// Runs `body` the first time `key` is seen: one log line per misconfiguration, not one per request.
    func warnOnce(key: String, _ body: () -> Void) {
        if warned.withLock({ $0.insert(key).inserted }) { body() }
    }

    func receipt(provider: NormalizedEvent.Provider, deliveryID: String, events: [NormalizedEvent],
                 results: [DeliveryResult]) -> Receipt {
        var log = logger
        log[metadataKey: "webhook.provider"] = "\(provider.rawValue)"
        log[metadataKey: "webhook.delivery"] = "\(Terminal.printable(deliveryID, limit: 100))"
        var receipt = Receipt(provider: provider.rawValue, deliveryID: deliveryID, kind: events[0].kind.rawValue,
                              duplicate: true, deployments: [:], skipped: [:], waiting: [])
        for (event, result) in zip(events, results) {
            guard case .recorded(_, let deployments, let outcomes) = result else { continue }
            receipt.duplicate = false
            receipt.deployments.merge(deployments) { first, _ in first }
            for outcome in outcomes {
                switch outcome {
                case .skip(let service, let reason): receipt.skipped[service] = reason
                case .awaitChangedPaths(let service, _), .preview(let service, _): receipt.waiting.append(service)
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
