import Foundation
import Logging
import SlipwayCore
import SlipwayGit
import SlipwayTestSupport
import Testing

/// Fetches from real git servers that ask for credentials: smart HTTP over HTTPS behind basic
/// auth, and sshd with deploy keys, its host key checked against known_hosts. Wrong
/// credentials and unknown or changed host keys fail in words that say what to do.
@Suite(.enabled(if: TestStack.enabled), .serialized)
struct GitCredentialsTests {
    init() throws {
        try MirrorCache.trustCertificates(file: try GitServers.caFile)
    }

    func cache(_ access: GitAccess) throws -> MirrorCache {
        MirrorCache(directory: try TestStack.temporaryDirectory("mirrors"), allowLocalRepos: false, access: FixedAccess(access: access))
    }

    @Test func httpsWithThePasswordFetchesBranchesAndPullRequestRefs() async throws {
        let (url, _, repo) = try GitServers.repository()
        let sha = try repo.commit(["a.txt": "one"])
        let head = try repo.commitAside(["b.txt": "two"], branch: "feature", from: sha)
        try repo.pushRef(head, ref: "refs/pull/7/head")
        let git = try cache(GitAccess(credential: .password(user: try GitServers.user, password: try GitServers.password), origin: "test"))
        let repoURL = try RepoURL(url)
        try await git.fetch(repoURL, logger: TestStack.logger)
        #expect(try await git.resolve("main", in: repoURL) == sha)
        #expect(try await git.fetchPullRequest(repoURL, ref: "refs/pull/7/head", from: nil, as: "refs/slipway/pull/7", logger: TestStack.logger) == head)
        #expect(try await git.remoteHeads(repoURL)["refs/heads/main"] == sha)
        // The mirror's config holds no credentials (anonymous remotes, nothing written).
        let config = try String(contentsOfFile: "\(git.mirrorPath(for: repoURL))/config", encoding: .utf8)
        #expect(!config.contains(try GitServers.password))
    }

    @Test func httpsWithAWrongPasswordIsDeniedAndNotRetried() async throws {
        let (url, _, repo) = try GitServers.repository()
        try repo.commit(["a.txt": "one"])
        let wrong = "not-the-password-\(UUID().uuidString.prefix(6))"
        let git = try cache(GitAccess(credential: .password(user: try GitServers.user, password: wrong), origin: "source.credentials (env:SLIPWAY_SECRET_GIT)"))
        let error = try await #require(throws: GitError.self) { try await git.fetch(try RepoURL(url), logger: TestStack.logger) }
        #expect(error.message.hasPrefix("access to \(url) denied: check source.credentials (env:SLIPWAY_SECRET_GIT)"), "\(error)")
        #expect(!error.retryable)
        #expect(!error.description.contains(wrong))
    }

    @Test func httpsWithoutCredentialsSaysTheyAreNeeded() async throws {
        let (url, _, repo) = try GitServers.repository()
        try repo.commit(["a.txt": "one"])
        let git = try cache(.anonymous)
        let error = try await #require(throws: GitError.self) { try await git.fetch(try RepoURL(url), logger: TestStack.logger) }
        #expect(error.message.contains("needs credentials and none are set"), "\(error)")
        #expect(!error.retryable)
    }

    @Test func sshWithTheDeployKeyAndKnownHostFetchesBranchesAndPullRequestRefs() async throws {
        let (_, url, repo) = try GitServers.repository()
        let sha = try repo.commit(["a.txt": "one"])
        let head = try repo.commitAside(["b.txt": "two"], branch: "feature", from: sha)
        try repo.pushRef(head, ref: "refs/merge-requests/3/head")
        let git = try cache(GitAccess(credential: .sshKey(user: "root", privateKey: try GitServers.sshKey, passphrase: nil),
                                      knownHosts: KnownHosts(try GitServers.knownHosts), origin: "test"))
        let repoURL = try RepoURL(url)
        try await git.fetch(repoURL, logger: TestStack.logger)
        #expect(try await git.resolve("main", in: repoURL) == sha)
        #expect(try await git.remoteHeads(repoURL)["refs/heads/main"] == sha)
        #expect(try await git.fetchPullRequest(repoURL, ref: "refs/merge-requests/3/head", from: nil, as: "refs/slipway/pull/3",
                                               logger: TestStack.logger) == head)
    }

    @Test func sshWithAnRSAKeyAndItsPassphraseFetches() async throws {
        let (_, url, repo) = try GitServers.repository()
        let sha = try repo.commit(["a.txt": "one"])
        let git = try cache(GitAccess(credential: .sshKey(user: "root", privateKey: try GitServers.sshRSAKey, passphrase: try GitServers.rsaPassphrase),
                                      knownHosts: KnownHosts(try GitServers.knownHosts)))
        let repoURL = try RepoURL(url)
        try await git.fetch(repoURL, logger: TestStack.logger)
        #expect(try await git.resolve("main", in: repoURL) == sha)
    }

    @Test func sshWithAKeyTheServerDoesNotKnowIsDenied() async throws {
        let (_, url, repo) = try GitServers.repository()
        try repo.commit(["a.txt": "one"])
        let stranger = try Self.newKey()
        let git = try cache(GitAccess(credential: .sshKey(user: "root", privateKey: stranger, passphrase: nil),
                                      knownHosts: KnownHosts(try GitServers.knownHosts), origin: "source.credentials (file:/run/secrets/slipway/key)"))
        let error = try await #require(throws: GitError.self) { try await git.fetch(try RepoURL(url), logger: TestStack.logger) }
        #expect(error.message.hasPrefix("access to \(url) denied: check source.credentials (file:/run/secrets/slipway/key)"), "\(error)")
        #expect(!error.retryable)
    }

    @Test func aChangedHostKeyIsRefusedBeforeAnyCredentialIsOffered() async throws {
        let (_, url, repo) = try GitServers.repository()
        try repo.commit(["a.txt": "one"])
        let git = try cache(GitAccess(credential: .sshKey(user: "root", privateKey: try GitServers.sshKey, passphrase: nil),
                                      knownHosts: KnownHosts(try GitServers.knownHostsWrong)))
        let error = try await #require(throws: GitError.self) { try await git.fetch(try RepoURL(url), logger: TestStack.logger) }
        #expect(error.message.contains("CHANGED"), "\(error)")
        #expect(error.message.contains("source.knownHosts or SLIPWAY_SSH_KNOWN_HOSTS"))
        #expect(!error.retryable)
    }

    @Test func anUnknownHostKeyIsRefusedWithTheCommandThatShowsIt() async throws {
        let (_, url, repo) = try GitServers.repository()
        try repo.commit(["a.txt": "one"])
        let git = try cache(GitAccess(credential: .sshKey(user: "root", privateKey: try GitServers.sshKey, passphrase: nil), knownHosts: nil))
        let error = try await #require(throws: GitError.self) { try await git.fetch(try RepoURL(url), logger: TestStack.logger) }
        #expect(error.message.contains("is unknown"), "\(error)")
        #expect(error.message.contains("ssh-keyscan -p"))
        #expect(error.message.contains("SHA256:"))
    }

    @Test func aServerThatIsDownIsWorthRetrying() async throws {
        let port = try Scratch.freePort()
        let git = try cache(.anonymous)
        let error = try await #require(throws: GitError.self) {
            try await git.fetch(try RepoURL("https://127.0.0.1:\(port)/nothing.git"), logger: TestStack.logger)
        }
        #expect(error.retryable, "\(error)")
    }

    /// A fresh ed25519 key no server knows.
    static func newKey() throws -> String {
        let dir = try Scratch.directory("key")
        _ = try Command.run("/usr/bin/ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", "\(dir)/key"])
        return try String(contentsOfFile: "\(dir)/key", encoding: .utf8)
    }
}
