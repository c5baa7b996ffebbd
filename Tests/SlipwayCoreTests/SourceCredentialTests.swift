import Foundation
import SlipwayCore
import Testing

/// What a `source.credentials` secret holds, read by its text, and where each host's reports go.
@Suite struct SourceCredentialTests {
    static let https = try! RepoURL("https://github.com/acme/shop.git")
    static let ssh = try! RepoURL("git@github.com:acme/shop.git")
    static let key = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n"

    @Test(arguments: [
        (CommitStatus.Provider.github as CommitStatus.Provider?, "x-access-token"),
        (.gitlab, "oauth2"),
        (.bitbucket, "x-token-auth"),
        (.bitbucketServer, "x-access-token"),
        (nil, "x-access-token"),
    ])
    func aBareTokenLogsInAsTheUserItsHostExpects(_ provider: CommitStatus.Provider?, _ user: String) throws {
        let credential = try GitCredential.parse("ghp_secret\n", for: Self.https, provider: provider, passphrase: nil, what: "source.credentials")
        #expect(credential == .password(user: user, password: "ghp_secret"))
        #expect(!credential.description.contains("ghp_secret"))
    }

    @Test func userAndPasswordIsBasic() throws {
        let credential = try GitCredential.parse("deploy:app:pass", for: Self.https, provider: .bitbucket, passphrase: nil, what: "x")
        #expect(credential == .password(user: "deploy", password: "app:pass"))
    }

    @Test func aPrivateKeyIsAnSSHKeyForTheURLsUser() throws {
        let credential = try GitCredential.parse(Self.key, for: Self.ssh, provider: .github, passphrase: "phrase", what: "x")
        #expect(credential == .sshKey(user: "git", privateKey: Self.key, passphrase: "phrase"))
        #expect(!credential.description.contains("b3Bl"))
    }

    @Test func aGitHubAppIsJSON() throws {
        let text = #"{"appId": 123, "privateKey": "-----BEGIN RSA PRIVATE KEY-----\nabc\n-----END RSA PRIVATE KEY-----"}"#
        let credential = try GitCredential.parse(text, for: Self.https, provider: .github, passphrase: nil, what: "x")
        guard case .githubApp(let app) = credential else { Issue.record("not an App: \(credential)"); return }
        #expect(app.appID == "123")
    }

    @Test(arguments: [
        ("", "https", "is empty"),
        (key, "https", "not an ssh repository"),
        ("token", "ssh", "is an ssh repository"),
        ("one\ntwo", "https", "several lines"),
        ("{\"appId\": \"x\"}", "https", "numeric `appId`"),
        ("{nope", "https", "not a JSON object"),
        ("user:", "https", "empty password"),
    ])
    func whatCannotWorkSaysWhy(_ text: String, _ transport: String, _ words: String) {
        let repo = transport == "ssh" ? Self.ssh : Self.https
        #expect {
            _ = try GitCredential.parse(text, for: repo, provider: .github, passphrase: nil, what: "source.credentials (env:SLIPWAY_SECRET_X)")
        } throws: { error in
            let problem = error as? GitCredential.Problem
            return problem?.description.contains(words) == true && problem?.description.contains("source.credentials (env:SLIPWAY_SECRET_X)") == true
        }
    }

    @Test func knownHostsTextIsCheckedLineByLine() {
        #expect(KnownHostsText.problem("[127.0.0.1]:2222 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIH8=\n# comment\n") == nil)
        #expect(KnownHostsText.problem("@revoked github.com ssh-rsa AAAAB3NzaC1yc2E=") == nil)
        #expect(KnownHostsText.problem("github.com AAAA")?.contains("line 1") == true)
        #expect(KnownHostsText.problem("github.com rsa AAAA")?.contains("not a key type") == true)
        #expect(KnownHostsText.problem("github.com ssh-rsa !!!")?.contains("not base64") == true)
        #expect(KnownHostsText.problem("# only a comment")?.contains("no host key lines") == true)
        #expect(KnownHostsText.problem("@weird h ssh-rsa AAAA")?.contains("@revoked") == true)
    }

    @Test func hostsMapToTheirProviders() {
        let hosts = SourceHosts(githubAPI: "https://ghe.acme.internal/api/v3/", gitlabAPI: "https://git.acme.internal/api/v4",
                                bitbucketServerAPI: "https://bitbucket.acme.internal")
        #expect(hosts.githubAPI == "https://ghe.acme.internal/api/v3")
        #expect(hosts.provider(forHost: "github.com") == .github)
        #expect(hosts.provider(forHost: "GHE.acme.internal") == .github)
        #expect(hosts.provider(forHost: "gitlab.com") == .gitlab)
        #expect(hosts.provider(forHost: "git.acme.internal") == .gitlab)
        #expect(hosts.provider(forHost: "bitbucket.org") == .bitbucket)
        #expect(hosts.provider(forHost: "bitbucket.acme.internal") == .bitbucketServer)
        #expect(hosts.provider(forHost: "example.com") == nil)
        #expect(SourceHosts().provider(forHost: "api.github.com") == nil)
        // A GitHub App on an Enterprise host: its API is derived from the host unless configured.
        #expect(SourceHosts().githubAPI(forHost: "github.com") == "https://api.github.com")
        #expect(SourceHosts().githubAPI(forHost: "git.acme.internal") == "https://git.acme.internal/api/v3")
        #expect(hosts.githubAPI(forHost: "ghe.acme.internal") == "https://ghe.acme.internal/api/v3")
        #expect(hosts.commitPage(.bitbucketServer, repository: "PROJ/shop", sha: "abc") == "https://bitbucket.acme.internal/projects/PROJ/repos/shop/commits/abc")
        #expect(hosts.commitPage(.bitbucket, repository: "ws/shop", sha: "abc") == "https://bitbucket.org/ws/shop/commits/abc")
        #expect(hosts.commitPage(.github, repository: "a/b", sha: "abc") == nil)
        #expect(SourceHosts().commitPage(.bitbucketServer, repository: "PROJ/shop", sha: "abc") == nil)
    }

    @Test func aRepositoryReportsToItsHostsProviderByItsPath() {
        let hosts = SourceHosts(bitbucketServerAPI: "https://bitbucket.acme.internal")
        #expect(hosts.reportTarget(for: "https://github.com/acme/shop.git")! == (.github, "acme/shop"))
        #expect(hosts.reportTarget(for: "git@gitlab.com:acme/platform/api.git")! == (.gitlab, "acme/platform/api"))
        #expect(hosts.reportTarget(for: "https://bitbucket.acme.internal/scm/PROJ/repo.git")! == (.bitbucketServer, "PROJ/repo"))
        #expect(hosts.reportTarget(for: "https://example.com/acme/shop.git") == nil)
        #expect(hosts.reportTarget(for: "/srv/git/shop.git") == nil)
        #expect(try! RepoURL("ssh://deploy@host:2222/x/y.git").user == "deploy")
        #expect(try! RepoURL("git@host:x/y.git").user == "git")
        #expect(try! RepoURL("https://host/x/y.git").user == nil)
        #expect(try! RepoURL("ssh://h:2222/x/y.git").host == "h")
    }

    @Test func serverSettingsAreRead() throws {
        let config = try Configuration.resolve(environment: [
            "SLIPWAY_GITHUB_API_URL": "https://ghe.acme.internal/api/v3", "SLIPWAY_GITHUB_TOKEN": "t1",
            "SLIPWAY_BITBUCKET_TOKEN": "me:pw", "SLIPWAY_PUBLIC_URL": "https://slipway.acme.internal/",
        ])
        #expect(config.sourceHosts.githubAPI == "https://ghe.acme.internal/api/v3")
        #expect(config.sourceHosts.tokens[.github] == "t1")
        #expect(config.sourceHosts.publicURL == "https://slipway.acme.internal")
        #expect(config.sourceHosts.hasCredentials(.bitbucket) && !config.sourceHosts.hasCredentials(.gitlab))
        #expect(config.sourceHosts.bitbucketServerAPI == nil)
        #expect(Configuration.redacted(["SLIPWAY_GITHUB_TOKEN": "t1"]) == ["SLIPWAY_GITHUB_TOKEN=[redacted]"])
        #expect(throws: Configuration.Invalid.self) { try Configuration.resolve(environment: ["SLIPWAY_GITLAB_API_URL": "gitlab.com"]) }
        #expect(throws: Configuration.Invalid.self) { try Configuration.resolve(environment: ["SLIPWAY_GITHUB_APP_ID": "12"]) }
        #expect(throws: Configuration.Invalid.self) {
            try Configuration.resolve(environment: ["SLIPWAY_GITHUB_APP_ID": "abc", "SLIPWAY_GITHUB_APP_KEY_FILE": "/k.pem"])
        }
    }
}
