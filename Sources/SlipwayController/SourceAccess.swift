import Foundation
import Logging
import SlipwayCore
import SlipwayGit
import SlipwaySourceHosts
import SlipwayStore
import SlipwaySystem

/// The one place that decides how Slipway proves itself to a source host, for git fetches
/// and API calls alike: a policy's `source.credentials` for its repository, else the server's
/// own token for the host's provider (SLIPWAY_*_TOKEN), else its GitHub App. Secrets are read
/// at each use, so a rotated one is picked up at the next fetch or report.
public struct SourceAccess: GitAccessProvider {
    let store: Store
    let hosts: SourceHosts
    let secrets: SecretReader
    /// SLIPWAY_SSH_KNOWN_HOSTS: a known_hosts file every ssh fetch may match against.
    let knownHostsFile: String?
    let apps: GitHubAppTokens
    let logger: Logger

    public init(store: Store, hosts: SourceHosts, secrets: SecretReader, knownHostsFile: String?, apps: GitHubAppTokens, logger: Logger) {
        self.store = store
        self.hosts = hosts
        self.secrets = secrets
        self.knownHostsFile = knownHostsFile
        self.apps = apps
        self.logger = logger
    }

    /// The source settings of the policies that fetch `repo`: the first naming credentials wins.
    func source(of repo: RepoURL) async throws -> Policy.Source? {
        let sources = try await store.everyPolicy().map(\.source).filter { (try? RepoURL($0.repo))?.key == repo.key }
        return sources.first { $0.credentials != nil } ?? sources.first
    }

    public func access(for repo: RepoURL) async throws -> GitAccess {
        let source = try await source(of: repo)
        let provider = repo.host.flatMap(hosts.provider(forHost:))
        var access = GitAccess()
        if repo.transport == .ssh {
            access.knownHosts = try knownHosts(source?.knownHosts)
        }
        if let reference = source?.credentials {
            let what = "source.credentials (\(reference))"
            let credential = try read(reference, for: repo, provider: provider, passphrase: source?.keyPassphrase, what: what)
            access.credential = try await resolved(credential, repo: repo, what: what)
            access.origin = what
            return access
        }
        guard repo.transport == .https, let provider else { return access }
        if let token = hosts.tokens[provider] {
            switch APICredential.setting(token, provider: provider) {
            case .token(let token): access.credential = .password(user: GitCredential.tokenUser(provider), password: token)
            case .basic(let user, let password): access.credential = .password(user: user, password: password)
            }
            access.origin = provider.tokenSetting.components(separatedBy: " ").first
        } else if provider == .github, let app = try serverApp() {
            access.credential = try await resolved(.githubApp(app), repo: repo, what: "the GitHub App (SLIPWAY_GITHUB_APP_ID)")
            access.origin = "the GitHub App (SLIPWAY_GITHUB_APP_ID)"
        }
        return access
    }

    /// What API calls about `repository` on `provider` send: the credentials of a policy whose
    /// repository it is (when they are a token or password), else the server's; nil: none, report nothing.
    public func apiCredential(provider: CommitStatus.Provider, repository: String, policy: Policy?) async throws -> (APICredential, String)? {
        if let policy, let reference = policy.source.credentials, let repo = try? RepoURL(policy.source.repo) {
            let what = "source.credentials (\(reference))"
            if let credential = try? read(reference, for: repo, provider: provider, passphrase: nil, what: what) {
                switch credential {
                case .password(let user, let password):
                    return (APICredential.policy(user: user, password: password, provider: provider), what)
                case .githubApp(let app) where provider == .github:
                    return (.token(try await installationToken(app, repository: repository)), what)
                case .sshKey, .githubApp:
                    break // not an API credential: the server's own, below
                }
            }
        }
        if let token = hosts.tokens[provider] {
            return (APICredential.setting(token, provider: provider), provider.tokenSetting.components(separatedBy: " ").first ?? "")
        }
        if provider == .github, let app = try serverApp() {
            return (.token(try await installationToken(app, repository: repository)), "the GitHub App (SLIPWAY_GITHUB_APP_ID)")
        }
        return nil
    }

    func read(_ reference: SecretReference, for repo: RepoURL, provider: CommitStatus.Provider?, passphrase: SecretReference?,
              what: String) throws -> GitCredential {
        let text: String
        do { text = try secrets.value(reference, for: "source.credentials", trimmingNewline: true) } catch {
            throw GitError(operation: "credentials", message: "cannot read the credentials of \(repo): \(error.description)")
        }
        var phrase: String?
        if let passphrase {
            do { phrase = try secrets.value(passphrase, for: "source.keyPassphrase", trimmingNewline: true) } catch {
                throw GitError(operation: "credentials", message: "cannot read the SSH key's passphrase for \(repo): \(error.description)")
            }
        }
        do { return try GitCredential.parse(text, for: repo, provider: provider, passphrase: phrase, what: what) } catch {
            throw GitError(operation: "credentials", message: error.description)
        }
    }

    /// A GitHub App becomes an installation token for the repository (`x-access-token`).
    func resolved(_ credential: GitCredential, repo: RepoURL, what: String) async throws -> GitCredential {
        guard case .githubApp(let app) = credential else { return credential }
        guard let name = repo.fullName else {
            throw GitError(operation: "credentials", message: "\(what) is a GitHub App, but \(repo) names no owner/repo")
        }
        return .password(user: "x-access-token", password: try await installationToken(app, repository: name,
                                                                                         api: repo.host.map(hosts.githubAPI(forHost:)) ?? hosts.githubAPI))
    }

    func installationToken(_ app: GitCredential.GitHubApp, repository: String, api: String? = nil) async throws -> String {
        do { return try await apps.token(app: app, api: api ?? hosts.githubAPI, repository: repository) } catch {
            throw GitError(operation: "credentials", message: "the GitHub App could not get a token for \(repository): \(error.description)",
                           retryable: error.retryable)
        }
    }

    /// The server's App, its key read now (a rotated key file is picked up at the next use).
    func serverApp() throws -> GitCredential.GitHubApp? {
        guard let id = hosts.githubAppID, let file = hosts.githubAppKeyFile else { return nil }
        guard let key = FileManager.default.contents(atPath: file).map({ String(decoding: $0, as: UTF8.self) }), key.contains("PRIVATE KEY") else {
            throw GitError(operation: "credentials", message: "SLIPWAY_GITHUB_APP_KEY_FILE (\(file)) cannot be read or holds no PEM private key")
        }
        return GitCredential.GitHubApp(appID: id, privateKey: key)
    }

    func knownHosts(_ policyText: String?) throws -> KnownHosts {
        var text = policyText ?? ""
        if let file = knownHostsFile {
            guard let data = FileManager.default.contents(atPath: file) else {
                throw GitError(operation: "known hosts", message: "SLIPWAY_SSH_KNOWN_HOSTS (\(file)) cannot be read")
            }
            text += "\n" + String(decoding: data, as: UTF8.self)
        }
        return KnownHosts(text)
    }
}
