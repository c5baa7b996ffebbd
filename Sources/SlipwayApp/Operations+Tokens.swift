import Crypto
import Foundation
import SlipwayCore
import SlipwayStore

/// API tokens: made and revoked by admins (or with the database, for the first one), and
/// checked on every API request against the database (a revoked or expired token fails at once).
extension Operations {
    /// Makes a token and returns its text, shown once: only a hash of its secret is kept.
    public func createToken(name: String, role: APIRole, expiresIn: TimeSpan?, by caller: String? = nil, now: Date = Date()) async throws -> String {
        guard !name.isEmpty, name.count <= 64, name.unicodeScalars.allSatisfy({ $0.isASCII && (CharacterSet.alphanumerics.contains($0) || "-_.@".unicodeScalars.contains($0)) }) else {
            throw Refused(.invalid, "token name `\(Terminal.printable(name, limit: 80))` must be 1 to 64 letters, digits, `-`, `_`, `.` or `@`")
        }
        var generator = SystemRandomNumberGenerator()
        let token = APITokenText(random: (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) })
        let expires = expiresIn.map { now.addingTimeInterval(Double($0.milliseconds) / 1000) }
        guard try await store.createToken(id: token.id, name: name, role: role, secretSHA256: Self.digest(token.secret), expiresAt: expires) else {
            throw Refused(.conflict, "a token called \(name) exists; revoke it first (`slipway tokens revoke \(name)`) or choose another name")
        }
        logger.notice("API token created", metadata: ["token.name": "\(name)", "token.role": "\(role)", "by": "\(caller ?? "the database (CLI)")"])
        return token.text
    }

    public func tokens() async throws -> [APITokenRecord] { try await store.tokens() }

    public func revokeToken(name: String, by caller: String? = nil) async throws {
        guard try await store.revokeToken(name: name) else {
            throw Refused(.notFound, "no live token is called \(name); `slipway tokens list` shows them")
        }
        logger.notice("API token revoked", metadata: ["token.name": "\(name)", "by": "\(caller ?? "the database (CLI)")"])
    }

    /// The caller an `Authorization` header proves, or why not.
    public func authenticate(authorization: String?, now: Date = Date()) async throws -> APICaller {
        guard let authorization, !authorization.isEmpty else { throw APIRefusal.missing }
        let parts = authorization.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { throw APIRefusal.missing }
        return try await authenticate(token: String(parts[1]).trimmingCharacters(in: .whitespaces), now: now).caller
    }

    /// The caller a token's text proves, with the token's id.
    public func authenticate(token text: String, now: Date = Date()) async throws -> (id: String, caller: APICaller) {
        guard let token = APITokenText.parse(text), let stored = try await store.tokenSecret(id: token.id) else { throw APIRefusal.rejected }
        // Compared whole, in constant time, whatever the state of the row.
        let matches = APITokenText.constantTimeEqual(Self.digest(token.secret), stored.secretSHA256)
        guard matches, !stored.revoked, stored.expiresAt.map({ $0 > now }) ?? true else { throw APIRefusal.rejected }
        if stored.lastUsedAt.map({ now.timeIntervalSince($0) > 60 }) ?? true {
            try? await store.touchToken(id: token.id)
        }
        return (token.id, APICaller(name: stored.name, role: stored.role))
    }

    // MARK: Dashboard sessions

    /// Signs in with a token: a session cookie's value (shown to the browser only) and its CSRF secret.
    public func signIn(token: String, lasting: TimeInterval = 12 * 3600, now: Date = Date()) async throws -> (session: String, csrf: String, caller: APICaller) {
        let (id, caller) = try await authenticate(token: token, now: now)
        let session = Self.randomText(32), csrf = Self.randomText(24)
        try await store.createSession(idSHA256: Self.digest(session), tokenID: id, csrf: csrf, expiresAt: now.addingTimeInterval(lasting))
        logger.notice("dashboard sign-in", metadata: ["token.name": "\(caller.name)", "token.role": "\(caller.role)"])
        return (session, csrf, caller)
    }

    /// Who a session cookie stands for now (nil: unknown, expired, or its token revoked or expired).
    public func session(_ cookie: String) async throws -> (caller: APICaller, csrf: String)? {
        guard cookie.count == 43 || cookie.count == 44 else { return nil }
        return try await store.session(idSHA256: Self.digest(cookie))
    }

    public func signOut(_ cookie: String) async throws {
        try await store.deleteSession(idSHA256: Self.digest(cookie))
    }

    public static func randomText(_ bytes: Int) -> String {
        var generator = SystemRandomNumberGenerator()
        return Data((0..<bytes).map { _ in UInt8.random(in: .min ... .max, using: &generator) }).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    static func digest(_ secret: String) -> [UInt8] { Array(SHA256.hash(data: Data(secret.utf8))) }
}

extension Operations {
    /// Deployments newest first, for the API's list (filters as given; `limit` 1…500).
    public func deployments(service: String?, environment: String?, state: String?, before: Int64?, limit: Int) async throws -> [DeploymentSummary] {
        if let state, DeploymentState(rawValue: state) == nil {
            throw Refused(.invalid, "state `\(Terminal.printable(state, limit: 40))` is not one of \(DeploymentState.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        guard (1...500).contains(limit) else { throw Refused(.invalid, "limit must be 1 to 500") }
        return try await store.deploymentSummaries(service: service, environment: environment, state: state, before: before, limit: limit)
    }

    /// One deployment as the API shows it, with its timeline.
    public func deploymentSummary(_ id: Int64) async throws -> DeploymentSummary {
        _ = try await deployment(id)
        let found = try await store.deploymentSummaries(service: nil, environment: nil, state: nil, before: id + 1, limit: 1)
        guard var summary = found.first, summary.deployment.id == id else { throw Refused(.notFound, StoreError.unknownDeployment(id).description) }
        summary.deployment.timeline = try await timelines([id])[id] ?? []
        return summary
    }
}

extension Operations {
    /// A deployment's page: what it is, its timeline, its events and its log so far.
    public struct DeploymentView: Sendable {
        public var summary: DeploymentSummary
        public var timeline: [DeploymentTimeline.Stage]
        public var events: [DeploymentEvent]
        public var lines: [LogLine]
    }

    public func deploymentView(_ id: Int64) async throws -> DeploymentView {
        let summary = try await deploymentSummary(id)
        return DeploymentView(summary: summary, timeline: summary.deployment.timeline ?? [],
                              events: try await store.events(id), lines: try await store.logs(id, after: 0, limit: 5_000))
    }

    /// The timelines of the deployments named, in two queries however many (`DeploymentTimeline`).
    public func timelines(_ ids: [Int64]) async throws -> [Int64: [DeploymentTimeline.Stage]] {
        try await store.timelineFacts(ids).mapValues(DeploymentTimeline.stages)
    }
}
