import Foundation
import SlipwayCore
import SlipwayGit
import SlipwayTestSupport
import Testing

@Suite(.enabled(if: TestStack.enabled))
struct GitMirrorTests {
    @Test func fetchResolveAndCheckOutACommit() async throws {
        let repo = try TestRepo()
        let first = try repo.commit(["Dockerfile": "FROM scratch\n", "src/app.sh": "echo one\n"])
        let second = try repo.commit(["src/app.sh": "echo two\n"])
        let cache = MirrorCache(directory: try TestStack.temporaryDirectory("mirrors"), allowLocalRepos: true)
        let url = try RepoURL(repo.url)

        try await cache.fetch(url, logger: TestStack.logger)
        #expect(try await cache.resolve("main", in: url) == second)
        #expect(try await cache.resolve(String(first.prefix(10)), in: url) == first)

        let target = try TestStack.temporaryDirectory("checkout") + "/tree"
        try await cache.checkout(first, of: url, into: target)
        #expect(try String(contentsOfFile: "\(target)/src/app.sh", encoding: .utf8) == "echo one\n")
        #expect(FileManager.default.fileExists(atPath: "\(target)/Dockerfile"))
        #expect(!FileManager.default.fileExists(atPath: "\(target)/.git"))

        // A new push is picked up by the next fetch of the same mirror.
        let third = try repo.commit(["src/app.sh": "echo three\n"])
        try await cache.fetch(url, logger: TestStack.logger)
        #expect(try await cache.resolve("main", in: url) == third)
    }

    @Test func unknownCommitSaysWhatToCheck() async throws {
        let repo = try TestRepo()
        try repo.commit(["a": "1"])
        let cache = MirrorCache(directory: try TestStack.temporaryDirectory("mirrors"), allowLocalRepos: true)
        let url = try RepoURL(repo.url)
        try await cache.fetch(url, logger: TestStack.logger)
        await #expect(throws: GitError.self) { try await cache.resolve(String(repeating: "f", count: 40), in: url) }
        await #expect(throws: GitError.self) { try await cache.resolve("no-such-branch", in: url) }
    }

    @Test func localRepositoriesNeedPermission() async throws {
        let repo = try TestRepo()
        try repo.commit(["a": "1"])
        let cache = MirrorCache(directory: try TestStack.temporaryDirectory("mirrors"), allowLocalRepos: false)
        do {
            try await cache.fetch(try RepoURL(repo.url), logger: TestStack.logger)
            Issue.record("expected a refusal")
        } catch let error as GitError {
            #expect(error.message.contains("SLIPWAY_ALLOW_LOCAL_REPOS=1"))
        }
    }

    @Test func unreachableRepositoryFailsWithLibgit2sReason() async throws {
        let cache = MirrorCache(directory: try TestStack.temporaryDirectory("mirrors"), allowLocalRepos: true)
        await #expect(throws: GitError.self) {
            try await cache.fetch(try RepoURL("file:///nonexistent/repo.git"), logger: TestStack.logger)
        }
    }
}
