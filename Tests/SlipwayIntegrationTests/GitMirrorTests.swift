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

    /// A pull request's head lives on a ref no branch fetch brings (`refs/merge-requests/5/head`)
    /// or in a fork: fetched by that ref into the mirror, kept across branch fetches (which
    /// prune), and compared with the base by their merge base.
    @Test func pullRequestHeadsAreFetchedByTheirRefsAndSurviveBranchFetches() async throws {
        let repo = try TestRepo()
        let base = try repo.commit(["Dockerfile": "FROM scratch\n", "web/app.sh": "one\n"])
        let head = try repo.commitAside(["web/app.sh": "two\n"], branch: "tmp-pr", from: base)
        try repo.pushRef(head, ref: "refs/merge-requests/5/head")
        _ = try Command.run("/usr/bin/git", ["--git-dir", repo.bare, "branch", "-D", "tmp-pr"])
        let mainMoved = try repo.commit(["docs/readme.md": "later\n"])
        let cache = MirrorCache(directory: try TestStack.temporaryDirectory("mirrors"), allowLocalRepos: true)
        let url = try RepoURL(repo.url)
        try await cache.fetch(url, logger: TestStack.logger)
        let fetched = try await cache.fetchPullRequest(url, ref: "refs/merge-requests/5/head", from: nil, as: "refs/slipway/pull/5",
                                                       logger: TestStack.logger)
        #expect(fetched == head)
        // A later branch fetch prunes branches, not the pull request's head.
        try await cache.fetch(url, logger: TestStack.logger)
        #expect(try await cache.resolve(head, in: url) == head)
        #expect(try await cache.mergeBase(mainMoved, head, in: url) == base)
        #expect(try await cache.changedPaths(from: base, to: head, in: url) == ["web/app.sh"])

        // A fork's branch, fetched from the fork's URL into the same mirror.
        let fork = try TestRepo()
        let forked = try fork.commit(["Dockerfile": "FROM scratch\n# fork\n"], branch: "main")
        let fromFork = try await cache.fetchPullRequest(url, ref: "refs/heads/main", from: fork.url, as: "refs/slipway/pull/6",
                                                        logger: TestStack.logger)
        #expect(fromFork == forked)
        // A ref that does not exist: a clear error, nothing fetched.
        await #expect(throws: GitError.self) {
            _ = try await cache.fetchPullRequest(url, ref: "refs/pull/99/head", from: nil, as: "refs/slipway/pull/99", logger: TestStack.logger)
        }
    }

    /// On a case-sensitive server `Team/App` and `team/app` are two repositories: two mirrors.
    @Test func repositoriesThatDifferOnlyInCaseHaveTheirOwnMirrors() async throws {
        let cache = MirrorCache(directory: try TestStack.temporaryDirectory("mirrors"), allowLocalRepos: true)
        let upper = try RepoURL("https://git.example.com/Team/App.git"), lower = try RepoURL("https://git.example.com/team/app.git")
        #expect(cache.mirrorPath(for: upper) != cache.mirrorPath(for: lower))
        #expect(cache.mirrorPath(for: upper) == cache.mirrorPath(for: try RepoURL("git@GIT.example.com:Team/App.git")))
    }

    /// The fetched branch's head and ancestry, as the push check asks them.
    @Test func branchHeadsAndAncestry() async throws {
        let repo = try TestRepo()
        let first = try repo.commit(["a": "1"])
        let second = try repo.commit(["a": "2"])
        let aside = try repo.commitAside(["b": "x"], branch: "feature", from: first)
        let cache = MirrorCache(directory: try TestStack.temporaryDirectory("mirrors"), allowLocalRepos: true)
        let url = try RepoURL(repo.url)
        try await cache.fetch(url, logger: TestStack.logger)
        #expect(try await cache.branchHead("main", in: url) == second)
        #expect(try await cache.branchHead("feature", in: url) == aside)
        #expect(try await cache.branchHead("gone", in: url) == nil)
        #expect(try await cache.isAncestor(first, of: second, in: url) == true)
        #expect(try await cache.isAncestor(second, of: first, in: url) == false)
        #expect(try await cache.isAncestor(aside, of: second, in: url) == false)
        #expect(try await cache.isAncestor(second, of: second, in: url) == false)
        #expect(try await cache.isAncestor(String(repeating: "9", count: 40), of: second, in: url) == nil)
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
