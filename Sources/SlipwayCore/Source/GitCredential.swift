import Foundation

/// What a repository's `source.credentials` holds, read from the secret's text; the text
/// decides the kind, so a policy needs one reference whatever the host:
/// - a PEM/OpenSSH private key: an SSH deploy key (ssh repositories only);
/// - `user:password`: HTTPS basic (a Bitbucket app password is `user:app-password`);
/// - a JSON object `{"appId": "…", "privateKey": "-----BEGIN …"}`: a GitHub App;
/// - anything else on one line: a token, sent as the password of the user the host expects
///   (`x-access-token` on GitHub, `oauth2` on GitLab, `x-token-auth` on Bitbucket Cloud).
/// Never printed: its description names the kind only.
public enum GitCredential: Sendable, Hashable, CustomStringConvertible {
    case password(user: String, password: String)
    case sshKey(user: String, privateKey: String, passphrase: String?)
    case githubApp(GitHubApp)

    public struct GitHubApp: Sendable, Hashable {
        public var appID: String
        public var privateKey: String
        public init(appID: String, privateKey: String) {
            self.appID = appID
            self.privateKey = privateKey
        }
    }

    public var description: String {
        switch self {
        case .password(let user, _): "password of \(user)"
        case .sshKey(let user, _, let passphrase): "ssh key for \(user)\(passphrase == nil ? "" : " (with passphrase)")"
        case .githubApp(let app): "GitHub App \(app.appID)"
        }
    }

    public struct Problem: Error, Sendable, Hashable, CustomStringConvertible {
        public var description: String
        public init(_ description: String) { self.description = description }
    }

    /// The user a bare token logs in as on `provider`'s git server.
    public static func tokenUser(_ provider: CommitStatus.Provider?) -> String {
        switch provider {
        case .gitlab: "oauth2"
        case .bitbucket: "x-token-auth"
        case .github, .bitbucketServer, nil: "x-access-token"
        }
    }

    /// The credential `text` holds for `repo` (on `provider`'s host, when known). `what` names
    /// the reference in messages (`source.credentials (env:SLIPWAY_SECRET_GIT)`).
    public static func parse(_ text: String, for repo: RepoURL, provider: CommitStatus.Provider?, passphrase: String?,
                             what: String) throws(Problem) -> GitCredential {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty else { throw Problem("\(what) is empty") }
        if trimmed.hasPrefix("-----BEGIN"), trimmed.contains("PRIVATE KEY-----") {
            guard repo.transport == .ssh else {
                throw Problem("\(what) holds an SSH private key, but \(repo) is not an ssh repository: use its ssh:// or git@host:path address, or a token")
            }
            return .sshKey(user: repo.user ?? "git", privateKey: trimmed + "\n", passphrase: passphrase)
        }
        if trimmed.hasPrefix("{") {
            guard let data = trimmed.data(using: .utf8),
                  let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
                throw Problem("\(what) starts with `{` but is not a JSON object; a GitHub App is {\"appId\": \"123\", \"privateKey\": \"-----BEGIN RSA PRIVATE KEY-----…\"}")
            }
            let id = (object["appId"] as? String) ?? (object["appId"] as? Int).map(String.init)
            guard let id, !id.isEmpty, id.allSatisfy(\.isNumber), let key = object["privateKey"] as? String, key.contains("PRIVATE KEY") else {
                throw Problem("\(what) is a JSON object without a numeric `appId` and a PEM `privateKey`: a GitHub App is {\"appId\": \"123\", \"privateKey\": \"-----BEGIN RSA PRIVATE KEY-----…\"}")
            }
            guard repo.transport == .https else {
                throw Problem("\(what) is a GitHub App, which fetches over https only; use the repository's https:// address")
            }
            return .githubApp(GitHubApp(appID: id, privateKey: key))
        }
        guard !trimmed.contains("\n") else {
            throw Problem("\(what) has several lines but is not a private key: write a token, user:password, or an SSH private key")
        }
        guard repo.transport == .https else {
            throw Problem("\(what) holds a token or password, but \(repo) is an ssh repository: give an SSH private key, or use the https:// address")
        }
        if let colon = trimmed.firstIndex(of: ":"), colon != trimmed.startIndex {
            let password = String(trimmed[trimmed.index(after: colon)...])
            guard !password.isEmpty else { throw Problem("\(what) is `user:` with an empty password") }
            return .password(user: String(trimmed[..<colon]), password: password)
        }
        return .password(user: tokenUser(provider), password: trimmed)
    }
}
