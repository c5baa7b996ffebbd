/// The source hosts Slipway talks to beyond git: where each provider's API is, which
/// repository hosts it serves, and the server-wide credentials for it (SLIPWAY_GITHUB_*,
/// SLIPWAY_GITLAB_*, SLIPWAY_BITBUCKET_*). A policy's `source.credentials` overrides them
/// for its repository.
public struct SourceHosts: Sendable, Hashable {
    public typealias Provider = CommitStatus.Provider

    public var githubAPI: String
    public var gitlabAPI: String
    public var bitbucketAPI: String
    /// Bitbucket Server (Data Center) has no public default: its root URL, as in https://bitbucket.acme.internal.
    public var bitbucketServerAPI: String?
    public var tokens: [Provider: String]
    /// A GitHub App: its id and the path of its PEM private key.
    public var githubAppID: String?
    public var githubAppKeyFile: String?
    /// Where links in statuses and comments point: the deployment's page under this URL.
    public var publicURL: String?

    public static let defaultGitHubAPI = "https://api.github.com"
    public static let defaultGitLabAPI = "https://gitlab.com/api/v4"
    public static let defaultBitbucketAPI = "https://api.bitbucket.org/2.0"

    public init(githubAPI: String = defaultGitHubAPI, gitlabAPI: String = defaultGitLabAPI, bitbucketAPI: String = defaultBitbucketAPI,
                bitbucketServerAPI: String? = nil, tokens: [Provider: String] = [:], githubAppID: String? = nil,
                githubAppKeyFile: String? = nil, publicURL: String? = nil) {
        self.githubAPI = Self.trimmed(githubAPI)
        self.gitlabAPI = Self.trimmed(gitlabAPI)
        self.bitbucketAPI = Self.trimmed(bitbucketAPI)
        self.bitbucketServerAPI = bitbucketServerAPI.map(Self.trimmed)
        self.tokens = tokens
        self.githubAppID = githubAppID
        self.githubAppKeyFile = githubAppKeyFile
        self.publicURL = publicURL.map(Self.trimmed)
    }

    static func trimmed(_ url: String) -> String {
        var url = Substring(url)
        while url.hasSuffix("/") { url = url.dropLast() }
        return String(url)
    }

    /// The API base URL of `provider`; nil for Bitbucket Server when it is not set.
    public func apiURL(_ provider: Provider) -> String? {
        switch provider {
        case .github: githubAPI
        case .gitlab: gitlabAPI
        case .bitbucket: bitbucketAPI
        case .bitbucketServer: bitbucketServerAPI
        }
    }

    /// Whether the server holds credentials of its own for `provider` (a token, or the GitHub App).
    public func hasCredentials(_ provider: Provider) -> Bool {
        tokens[provider] != nil || (provider == .github && githubAppID != nil && githubAppKeyFile != nil)
    }

    /// The providers nothing can be reported to: no token, no App. Said once at start-up.
    public var providersWithoutCredentials: [Provider] { Provider.allCases.filter { !hasCredentials($0) } }

    /// The provider whose repositories live on `host` (lowercased, without port): the public
    /// hosts, and the hosts of the API URLs set (GitHub Enterprise at https://HOST/api/v3 serves HOST).
    public func provider(forHost host: String) -> Provider? {
        let host = host.lowercased()
        switch host {
        case "github.com": return .github
        case "gitlab.com": return .gitlab
        case "bitbucket.org": return .bitbucket
        default: break
        }
        if let api = Self.host(of: githubAPI), api != "api.github.com", api == host { return .github }
        if let api = Self.host(of: gitlabAPI), api == host { return .gitlab }
        if let server = bitbucketServerAPI, Self.host(of: server) == host { return .bitbucketServer }
        return nil
    }

    /// Where a repository's reports go when no event names it (polled commits, manual deploys):
    /// its host's provider and its path there; nil for a host no provider serves.
    public func reportTarget(for repo: String) -> (provider: Provider, repository: String)? {
        guard let url = try? RepoURL(repo), let host = url.host, let provider = provider(forHost: host), let name = url.fullName else { return nil }
        return (provider, name)
    }

    /// Bitbucket requires a link in a status: without SLIPWAY_PUBLIC_URL, the commit's own page on
    /// its host. The others take none.
    public func commitPage(_ provider: Provider, repository: String, sha: String) -> String? {
        switch provider {
        case .github, .gitlab:
            return nil
        case .bitbucket:
            return "https://bitbucket.org/\(repository)/commits/\(sha)"
        case .bitbucketServer:
            let parts = repository.split(separator: "/")
            guard let root = bitbucketServerAPI, parts.count == 2 else { return nil }
            return "\(root)/projects/\(parts[0])/repos/\(parts[1])/commits/\(sha)"
        }
    }

    /// The GitHub API a repository on `host` is served by: the configured one for github.com and
    /// for its own host; GitHub Enterprise's `https://HOST/api/v3` for any other host.
    public func githubAPI(forHost host: String) -> String {
        let host = host.lowercased()
        if host == "github.com" || Self.host(of: githubAPI) == host { return githubAPI }
        return "https://\(host)/api/v3"
    }

    /// The host of an http(s) URL, lowercased and without port or user.
    public static func host(of url: String) -> String? {
        guard let schemeEnd = url.range(of: "://") else { return nil }
        let authority = url[schemeEnd.upperBound...].prefix(while: { $0 != "/" })
        let hostPort = authority.split(separator: "@").last.map(String.init) ?? ""
        let host: Substring
        if hostPort.hasPrefix("[") {
            host = hostPort.prefix(while: { $0 != "]" }).dropFirst()
        } else {
            host = hostPort.split(separator: ":").first ?? ""
        }
        return host.isEmpty ? nil : host.lowercased()
    }
}

extension RepoURL {
    /// The host of a remote repository (lowercased, no port); nil for a local one.
    public var host: String? {
        guard !isLocal, let slash = key.firstIndex(of: "/") else { return nil }
        let hostPort = key[..<slash]
        if hostPort.hasPrefix("[") { return String(hostPort.prefix(while: { $0 != "]" }).dropFirst()) }
        return String(hostPort.split(separator: ":").first ?? "")
    }

    /// `acme/shop`, `group/sub/project`: the repository's path on its host, as its API names it.
    /// GitHub Enterprise and Bitbucket Server URLs carry no API prefix in their git path
    /// except Bitbucket Server's `scm/` (`https://HOST/scm/PROJ/repo.git`), dropped here.
    public var fullName: String? {
        guard !isLocal, let slash = key.firstIndex(of: "/") else { return nil }
        var path = key[key.index(after: slash)...]
        if path.hasPrefix("scm/") { path = path.dropFirst(4) }
        return path.isEmpty ? nil : String(path)
    }

    /// The user an ssh address names (`git` in git@github.com:acme/shop); nil when it names none.
    public var user: String? {
        guard transport == .ssh else { return nil }
        let rest: Substring
        if let schemeEnd = raw.range(of: "://") { rest = raw[schemeEnd.upperBound...].prefix(while: { $0 != "/" }) } else {
            rest = raw.prefix(while: { $0 != ":" })
        }
        guard let at = rest.lastIndex(of: "@") else { return nil }
        let user = rest[..<at]
        return user.isEmpty ? nil : String(user)
    }
}
