import Crypto
import _CryptoExtras
import Foundation
import SlipwayCore

/// A GitHub App's identity: an RS256 JWT signed with its private key, exchanged for an
/// installation token of the repository's owner. Tokens are cached until a few minutes
/// before they expire and shared by fetches and the status API.
public enum GitHubAppJWT {
    public struct Invalid: Error, CustomStringConvertible {
        public var description: String
    }

    /// The App's JWT: issued a minute in the past (clock drift), valid 9 minutes (GitHub allows 10).
    public static func make(appID: String, privateKeyPEM: String, now: Date) throws(Invalid) -> String {
        let key: _RSA.Signing.PrivateKey
        do { key = try _RSA.Signing.PrivateKey(pemRepresentation: privateKeyPEM) } catch {
            throw Invalid(description: "the GitHub App's private key is not an RSA key in PEM form (download it again from the App's settings)")
        }
        let issued = Int(now.timeIntervalSince1970) - 60
        let header = base64URL(Data(#"{"alg":"RS256","typ":"JWT"}"#.utf8))
        let claims = base64URL(Data(#"{"exp":\#(issued + 600),"iat":\#(issued),"iss":"\#(appID)"}"#.utf8))
        let input = "\(header).\(claims)"
        let signature: _RSA.Signing.RSASignature
        do { signature = try key.signature(for: Data(input.utf8), padding: .insecurePKCS1v1_5) } catch {
            throw Invalid(description: "signing the GitHub App's JWT failed: \(error)")
        }
        return input + "." + base64URL(signature.rawRepresentation)
    }

    static func base64URL(_ data: Data) -> String {
        data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }
}

/// Installation tokens per App, API and repository owner, cached until `renewBefore` their expiry.
public actor GitHubAppTokens {
    struct Key: Hashable {
        var appID: String
        var api: String
        var repository: String
    }

    struct Cached {
        var token: String
        var expires: Date
    }

    let transport: any APITransport
    let now: @Sendable () -> Date
    let renewBefore: TimeInterval
    private var cache: [Key: Cached] = [:]
    /// How many tokens were fetched (not served from the cache), for tests and logs.
    public private(set) var issued = 0

    public init(transport: any APITransport, renewBefore: TimeInterval = 300, now: @escaping @Sendable () -> Date = { Date() }) {
        self.transport = transport
        self.renewBefore = renewBefore
        self.now = now
    }

    public struct Refused: Error, CustomStringConvertible {
        public var description: String
        /// Trying again later may help (GitHub answered 5xx or not at all).
        public var retryable: Bool
    }

    /// A token for `repository` (`owner/repo`) of `app` on the GitHub at `api`.
    public func token(app: GitCredential.GitHubApp, api: String, repository: String) async throws(Refused) -> String {
        let key = Key(appID: app.appID, api: api, repository: repository)
        if let cached = cache[key], cached.expires.timeIntervalSince(now()) > renewBefore { return cached.token }
        let jwt: String
        do { jwt = try GitHubAppJWT.make(appID: app.appID, privateKeyPEM: app.privateKey, now: now()) } catch {
            throw Refused(description: error.description, retryable: false)
        }
        let headers = [("Authorization", "Bearer \(jwt)"), ("Accept", "application/vnd.github+json"), ("User-Agent", "slipway"),
                       ("X-GitHub-Api-Version", "2022-11-28")]
        let parts = repository.split(separator: "/")
        guard parts.count == 2 else { throw Refused(description: "`\(repository)` is not owner/repo", retryable: false) }
        let installation = try await call(APICall(method: "GET", url: "\(api)/repos/\(parts[0])/\(parts[1])/installation", headers: headers, body: nil),
                                          what: "the App's installation on \(repository)")
        guard let id = (installation["id"] as? Int).map(String.init) ?? (installation["id"] as? String) else {
            throw Refused(description: "GitHub's answer about the App's installation on \(repository) has no id", retryable: false)
        }
        // Scoped to the one repository: a leaked token reaches nothing else of the owner's.
        let scope = Data(#"{"repositories":["\#(parts[1])"]}"#.utf8)
        let answer = try await call(APICall(method: "POST", url: "\(api)/app/installations/\(id)/access_tokens",
                                            headers: headers + [("Content-Type", "application/json")], body: scope),
                                    what: "an installation token for \(repository)")
        guard let token = answer["token"] as? String, let expiresText = answer["expires_at"] as? String else {
            throw Refused(description: "GitHub's installation token answer has no token or expires_at", retryable: true)
        }
        let expires = ISO8601DateFormatter().date(from: expiresText) ?? now().addingTimeInterval(3000)
        cache[key] = Cached(token: token, expires: expires)
        issued += 1
        return token
    }

    private func call(_ request: APICall, what: String) async throws(Refused) -> [String: Any] {
        let answer: APIAnswer
        do { answer = try await transport.send(request) } catch {
            throw Refused(description: "asking GitHub for \(what): \(error)", retryable: true)
        }
        guard (200..<300).contains(answer.status) else {
            let message = ProviderAnswer.message(answer.body, contentType: answer.headers["content-type"] ?? "") ?? ""
            let hint = answer.status == 404 ? ": is the App installed on the repository's owner?"
                : answer.status == 401 ? ": check SLIPWAY_GITHUB_APP_ID and the App's private key" : ""
            throw Refused(description: "asking GitHub for \(what) failed (\(answer.status)) \(message)\(hint)", retryable: answer.status >= 500)
        }
        guard let object = try? JSONSerialization.jsonObject(with: Data(answer.body.utf8)) as? [String: Any] else {
            throw Refused(description: "GitHub's answer for \(what) is not JSON", retryable: true)
        }
        return object
    }
}
