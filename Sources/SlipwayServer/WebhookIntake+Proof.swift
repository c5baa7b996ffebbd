import Crypto
import Foundation
import NIOCore
import SlipwayCore
import SlipwaySystem
import SlipwayWebhooks

extension WebhookIntake {
    /// What a request showed before its body was read, and the check of the body under way.
    public struct Gate: Sendable {
        public let endpoint: Endpoint
        public let provider: NormalizedEvent.Provider
        /// The signature or token header's value.
        let presented: String
        /// GitLab's token proves itself without the body.
        let tokenProof: EventMatching.Proof?
        /// The body's HMAC under the provider-wide secret, fed as it arrives.
        private var mac: HMAC<SHA256>?

        init(endpoint: Endpoint, provider: NormalizedEvent.Provider, presented: String, tokenProof: EventMatching.Proof?, sharedSecret: String?) {
            self.endpoint = endpoint
            self.provider = provider
            self.presented = presented
            self.tokenProof = tokenProof
            if tokenProof == nil, provider != .gitlab, let sharedSecret {
                mac = HMAC<SHA256>(key: SymmetricKey(data: Data(sharedSecret.utf8)))
            }
        }

        /// Feeds a piece of the body to the running HMAC.
        public mutating func update(_ chunk: ByteBuffer) {
            chunk.withUnsafeReadableBytes { mac?.update(data: $0) }
        }

        /// Whether the whole body, fed through `update`, is signed with the provider-wide secret.
        func sharedSignatureMatches() -> Bool {
            guard let mac else { return false }
            return WebhookSignature.matches(header: presented, code: Array(mac.finalize()))
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
        let own = await repositorySecrets()
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
        return .admit(Gate(endpoint: endpoint, provider: provider, presented: presented, tokenProof: tokenProof, sharedSecret: secrets[provider]))
    }

    /// What vouches for the body: the token, the provider-wide HMAC, or the own secret of the
    /// repository the body names. Nil: nothing does.
    func proof(_ gate: Gate, headers: WebhookHeaders, body: Data) async -> EventMatching.Proof? {
        if let token = gate.tokenProof { return token }
        if gate.sharedSignatureMatches() { return .shared }
        // Only now is an unverified body read, and only for the repositories it names that
        // have a secret of their own: those secrets are tried, nothing else is acted on.
        let own = await repositorySecrets()
        guard !own.isEmpty, let events = try? WebhookParser.parseAll(headers: headers, body: body) else { return nil }
        let named = Set(events.flatMap { ($0.repository?.urls ?? []).compactMap { try? RepoURL($0).key } })
        let verified = own.filter { secret in
            !named.isDisjoint(with: secret.keys) && WebhookSignature.isValid(header: gate.presented, body: body, secret: secret.value)
        }
        guard !verified.isEmpty else { return nil }
        return .repository(references: Set(verified.map(\.reference)), keys: Set(verified.flatMap(\.keys)).intersection(named))
    }

    /// The repositories' own secrets, read now through the reader (a rotated one is picked up
    /// within a second): one entry per reference, with the repositories whose policies name it.
    func repositorySecrets() async -> [RepositorySecret] {
        guard let routes = try? await writer.routes.current(store) else { return [] }
        var byReference: [String: (SecretReference, Set<String>)] = [:]
        for route in routes {
            guard let reference = route.webhookSecret else { continue }
            byReference[reference.description, default: (reference, [])].1.insert(route.repo.key)
        }
        return byReference.values.sorted { $0.0.description < $1.0.description }.compactMap { reference, keys in
            do {
                return RepositorySecret(reference: reference.description, value: try secretReader.value(reference, for: "source.webhookSecret"),
                                        keys: keys)
            } catch {
                warnOnce(key: reference.description) {
                    logger.error("a repository's webhook secret cannot be read; its webhooks are refused",
                                 metadata: ["secret.reference": "\(reference)", "error": "\(error)"])
                }
                return nil
            }
        }
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
