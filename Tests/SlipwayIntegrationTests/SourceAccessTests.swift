import Foundation
import SlipwayController
import SlipwayCore
import SlipwayGit
import SlipwaySourceHosts
import SlipwayStore
import SlipwaySystem
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
