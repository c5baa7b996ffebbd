import Foundation
import SlipwayController
import SlipwayCore
import SlipwayGit
import SlipwaySourceHosts
import SlipwayStore
import SlipwaySystem
import SlipwayTestSupport
import Testing

/// Which credentials a repository is fetched and reported with, read from the policies on
/// real Postgres, and the clear refusals when a reference cannot be read.
@Suite(.enabled(if: TestStack.enabled))
struct SourceAccessTests {
    static func access(_ store: Store, environment: [String: String], hosts: SourceHosts = SourceHosts(tokens: [.github: "server-token"])) -> SourceAccess {
        SourceAccess(store: store, hosts: hosts, secrets: SecretReader(rules: .standard(dataDirectory: nil), environment: environment),
                     knownHostsFile: nil, apps: GitHubAppTokens(transport: HTTPTransport()), logger: TestStack.logger)
    }

    static func policy(_ repo: String, credentials: String?) throws -> Policy {
        var policy = Policy(service: "web", source: .init(repo: repo), image: "r.example.com/acme/web")
        policy.source.credentials = try credentials.map { try SecretReference(parsing: $0) }
        return policy
    }

    @Test func aPolicysCredentialsWinOverTheServersToken() async throws {
        try await TestStack.withStore { store, _ in
            try await store.syncServices([(try Self.policy("https://github.com/acme/shop.git", credentials: "env:SLIPWAY_SECRET_GIT"), "web.yaml")])
            let access = Self.access(store, environment: ["SLIPWAY_SECRET_GIT": "ghp_policy\n"])
            let git = try await access.access(for: try RepoURL("https://github.com/acme/shop.git"))
            #expect(git.credential == .password(user: "x-access-token", password: "ghp_policy"))
            #expect(git.origin == "source.credentials (env:SLIPWAY_SECRET_GIT)")
            let api = try await access.apiCredential(provider: .github, repository: "acme/shop", policy: try await store.everyPolicy().first)
            #expect(api?.0 == .token("ghp_policy"))
            // Another repository on the same host: the server's token.
            let other = try await access.access(for: try RepoURL("https://github.com/acme/other.git"))
            #expect(other.credential == .password(user: "x-access-token", password: "server-token"))
            #expect(other.origin == "SLIPWAY_GITHUB_TOKEN")
            // A host no provider serves gets nothing of the server's.
            #expect(try await access.access(for: try RepoURL("https://git.example.com/acme/shop.git")).credential == nil)
        }
    }

    @Test(arguments: [
        ([String: String](), "env:SLIPWAY_SECRET_GIT", "is not set on the Slipway server"),
        (["SLIPWAY_SECRET_GIT": ""], "env:SLIPWAY_SECRET_GIT", "is not set on the Slipway server"),
        ([:], "file:/etc/shadow", "is not in a folder policies may read"),
    ])
    func anUnreadableReferenceIsAClearRefusal(_ environment: [String: String], _ reference: String, _ words: String) async throws {
        try await TestStack.withStore { store, _ in
            try await store.client.query("""
                INSERT INTO services (name, repo_url, repo_key, branch, policy, policy_file)
                VALUES ('web', 'https://github.com/acme/shop.git', 'github.com/acme/shop', 'main',
                        \(String(decoding: try JSONEncoder().encode(try Self.policy("https://github.com/acme/shop.git", credentials: reference)), as: UTF8.self))::jsonb,
                        'web.yaml')
                """)
            let access = Self.access(store, environment: environment)
            await #expect {
                _ = try await access.access(for: try RepoURL("https://github.com/acme/shop.git"))
            } throws: { error in
                guard let git = error as? GitError else { return false }
                return git.message.contains(words) && !git.retryable && git.message.contains("source.credentials")
            }
        }
    }
}

extension SourceAccessTests {
    /// The server's GitHub App fetches a github.com repository with an installation token it got from a JWT.
    @Test func theServersGitHubAppFetchesWithAnInstallationToken() async throws {
        let dir = try Scratch.directory("app")
        _ = try Command.run("/usr/bin/openssl", ["genrsa", "-traditional", "-out", "\(dir)/app.pem", "2048"])
        _ = try Command.run("/usr/bin/openssl", ["rsa", "-in", "\(dir)/app.pem", "-pubout", "-out", "\(dir)/app.pub"])
        let standIn = try SourceHostStandIn(tokens: [:], environment: [
            "SLIPWAY_STANDIN_GITHUB_APP_ID": "77", "SLIPWAY_STANDIN_GITHUB_APP_PUBLIC_KEY_FILE": "\(dir)/app.pub",
        ])
        try await TestStack.withStore { store, _ in
            try await store.syncServices([(try Self.policy("https://github.com/acme/shop.git", credentials: nil), "web.yaml")])
            let hosts = SourceHosts(githubAPI: "\(standIn.url)/github", githubAppID: "77", githubAppKeyFile: "\(dir)/app.pem")
            let access = Self.access(store, environment: [:], hosts: hosts)
            let git = try await access.access(for: try RepoURL("https://github.com/acme/shop.git"))
            guard case .password(let user, let token)? = git.credential else { Issue.record("no credential: \(git)"); return }
            #expect(user == "x-access-token" && token.hasPrefix("ghs_"))
            #expect(git.origin == "the GitHub App (SLIPWAY_GITHUB_APP_ID)")
            // The status API gets the same token, from the cache.
            #expect(try await access.apiCredential(provider: .github, repository: "acme/shop", policy: nil)?.0 == .token(token))
            #expect(try standIn.requests(provider: "github", operation: "apps/create-installation-access-token").count == 1)
        }
    }
}
