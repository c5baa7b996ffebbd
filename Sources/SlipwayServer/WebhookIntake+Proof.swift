import Crypto
import Foundation
import NIOCore
import SlipwayCore
import SlipwaySystem
import SlipwayWebhooks
import Synchronization

extension WebhookIntake {
    /// What a request showed before its body was read, and the checks of the body under way:
    /// the body streams into one HMAC per secret that could have signed it (the provider-wide
    /// one and the repositories' own), so nothing of it is parsed before one matches.
    public struct Gate: Sendable {
        public let endpoint: Endpoint
        public let provider: NormalizedEvent.Provider
        /// The signature or token header's value.
        let presented: String
        /// GitLab's token proves itself without the body.
        let tokenProof: EventMatching.Proof?
        private var shared: HMAC<SHA256>?
        private var own: [(secret: RepositorySecret, mac: HMAC<SHA256>)]

        init(endpoint: Endpoint, provider: NormalizedEvent.Provider, presented: String, tokenProof: EventMatching.Proof?,
             sharedSecret: String?, ownSecrets: [RepositorySecret]) {
            self.endpoint = endpoint
            self.provider = provider
            self.presented = presented
            self.tokenProof = tokenProof
            let streams = tokenProof == nil && provider != .gitlab
            shared = streams ? sharedSecret.map { HMAC<SHA256>(key: SymmetricKey(data: Data($0.utf8))) } : nil
            own = streams ? ownSecrets.map { ($0, HMAC<SHA256>(key: SymmetricKey(data: Data($0.value.utf8)))) } : []
        }

        /// Feeds a piece of the body to the running HMACs.
        public mutating func update(_ chunk: ByteBuffer) {
            chunk.withUnsafeReadableBytes { bytes in
                shared?.update(data: bytes)
                for index in own.indices { own[index].mac.update(data: bytes) }
            }
        }

        /// What vouches for the whole body, fed through `update`; nil: nothing does.
        func proof() -> EventMatching.Proof? {
            if let tokenProof { return tokenProof }
            if let shared, WebhookSignature.matches(header: presented, code: Array(shared.finalize())) { return .shared }
            let verified = own.filter { WebhookSignature.matches(header: presented, code: Array($0.mac.finalize())) }.map(\.secret)
            guard !verified.isEmpty else { return nil }
            return .repository(references: Set(verified.map(\.reference)), keys: Set(verified.flatMap(\.keys)))
        }
    }

    public enum Admission: Sendable {
        case refuse(Answer)
        case admit(Gate)
    }

    /// Decides from the headers alone, before any of the body is read: which provider, whether
    /// the request carries the header that proves a secret, whether any secret could verify it
    /// (GitLab's token is checked outright). A request that cannot pass costs no memory.
    public func admit(endpoint: Endpoint, headers: WebhookHeaders) async -> Admission {
        guard let provider = WebhookParser.provider(for: headers) else {
            return .refuse(.badRequest("no \(endpoint.name) event header; this endpoint takes \(endpoint.name) webhooks"))
        }
        guard endpoint.accepts(provider) else {
            return .refuse(.badRequest("this endpoint takes \(endpoint.name) webhooks, not \(provider.rawValue); "
                                       + "point the webhook at /webhooks/\(provider == .bitbucketServer ? "bitbucket" : provider.rawValue)"))
        }
        let header = WebhookSignature.header(for: provider)
        let own: [RepositorySecret]
        do { own = try await repositorySecrets() } catch {
            logger.error("webhook refused for now: the services could not be read", metadata: ["error": "\(String(reflecting: error))"])
            return .refuse(.unavailable("the services could not be read right now; redeliver it"))
        }
        guard secrets[provider] != nil || !own.isEmpty else {
            warnOnce(endpoint)
            return .refuse(.unauthorized("no webhook secret is configured for \(endpoint.name); set \(endpoint.secretVariable), "
                                         + "or source.webhookSecret in the repository's policy"))
        }
        guard let presented = headers[header], !presented.isEmpty else {
            logger.warning("webhook refused: no signature", metadata: ["webhook.provider": "\(provider.rawValue)", "http.header": "\(header)"])
            return .refuse(.unauthorized("\(header) is missing: give the webhook the secret in \(endpoint.secretVariable) (or the repository's source.webhookSecret)"))
        }
        var tokenProof: EventMatching.Proof?
        if provider == .gitlab {
            if let shared = secrets[provider], WebhookSignature.tokensEqual(presented, shared) {
                tokenProof = .shared
            } else {
                let matching = own.filter { WebhookSignature.tokensEqual(presented, $0.value) }
                guard !matching.isEmpty else { return .refuse(.unauthorized(refusal(endpoint, provider: provider, headers: headers))) }
                tokenProof = .repository(references: Set(matching.map(\.reference)), keys: Set(matching.flatMap(\.keys)))
            }
        }
        return .admit(Gate(endpoint: endpoint, provider: provider, presented: presented, tokenProof: tokenProof,
                           sharedSecret: secrets[provider], ownSecrets: own))
    }

    /// The repositories' own secrets, read through the reader at most once a second (a rotated
    /// one is picked up within a second): one entry per reference, with the repositories whose
    /// policies name it. A secret that cannot be read (or is empty) verifies nothing.
    func repositorySecrets() async throws -> [RepositorySecret] {
        if let cached = ownSecrets.withLock({ $0 }), clock.elapsed() - cached.at < .seconds(1) { return cached.secrets }
        let started = clock.elapsed()
        let routes = try await writer.routes.current(store)
        var byReference: [String: (SecretReference, Set<String>)] = [:]
        for route in routes {
            guard let reference = route.webhookSecret else { continue }
            byReference[reference.description, default: (reference, [])].1.insert(route.repo.key)
        }
        let secrets = byReference.values.sorted { $0.0.description < $1.0.description }.compactMap { reference, keys -> RepositorySecret? in
            do {
                return RepositorySecret(reference: reference.description,
                                        value: try secretReader.value(reference, for: "source.webhookSecret", trimmingNewline: true),
                                        keys: keys)
            } catch {
                warnOnce(key: reference.description) {
                    logger.error("a repository's webhook secret cannot be read; its webhooks are refused",
                                 metadata: ["secret.reference": "\(reference)", "error": "\(error)"])
                }
                return nil
            }
        }
        ownSecrets.withLock { $0 = (secrets, started) }
        return secrets
    }

    struct RepositorySecret: Sendable {
        var reference: String
        var value: String
        var keys: Set<String>
    }

    func refusal(_ endpoint: Endpoint, provider: NormalizedEvent.Provider, headers: WebhookHeaders) -> String {
        let header = WebhookSignature.header(for: provider)
        logger.warning("webhook refused: secret does not match", metadata: [
            "webhook.provider": "\(provider.rawValue)", "http.header": "\(header)",
            "webhook.delivery": "\(Terminal.printable(WebhookParser.deliveryID(for: headers, provider: provider) ?? "?", limit: 100))",
        ])
        return "\(header) does not match the body and the secret in \(endpoint.secretVariable) (or the repository's source.webhookSecret)"
    }

    func warnOnce(_ endpoint: Endpoint) {
        warnOnce(key: endpoint.secretVariable) {
            logger.error("refusing webhooks: no secret configured; set it to the secret of the provider's webhook",
                         metadata: ["config.key": "\(endpoint.secretVariable)"])
        }
    }
}
