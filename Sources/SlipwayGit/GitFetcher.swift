import Logging
import SlipwayCore

/// Fetching source code: a mirror per repository, checkouts of single commits.
public protocol GitFetcher: Sendable {
    /// Brings the mirror of `repo` up to date with the remote's branches and tags.
    func fetch(_ repo: RepoURL, logger: Logger) async throws
    /// The full SHA that `revision` (a SHA, a short SHA or a branch name) names in the mirror.
    func resolve(_ revision: String, in repo: RepoURL) async throws -> String
    /// Writes the tree of commit `sha` into `directory` (created; must not exist).
    func checkout(_ sha: String, of repo: RepoURL, into directory: String) async throws
    /// The files that differ between two commits of the mirror; nil when `before` is not in it.
    func changedPaths(from before: String, to after: String, in repo: RepoURL) async throws -> [String]?
    /// The remote's branch heads (`refs/heads/…` → SHA), without fetching.
    func remoteHeads(_ repo: RepoURL) async throws -> [String: String]
    /// The commit `refs/heads/<branch>` points at in the mirror; nil when there is no such branch.
    func branchHead(_ branch: String, in repo: RepoURL) async throws -> String?
    /// Whether `ancestor` is an ancestor of `descendant` in the mirror (a commit is not its own);
    /// nil when either is not there.
    func isAncestor(_ ancestor: String, of descendant: String, in repo: RepoURL) async throws -> Bool?
    /// Fetches a pull request's head ref (from `url`, a fork, or the repository itself) into
    /// the mirror as `local`; returns the commit it names.
    func fetchPullRequest(_ repo: RepoURL, ref: String, from url: String?, as local: String, logger: Logger) async throws -> String
    /// The best common ancestor of two commits of the mirror; nil when there is none.
    func mergeBase(_ a: String, _ b: String, in repo: RepoURL) async throws -> String?
    /// A commit's author and the first line of its message; nil when the mirror does not hold it.
    func commitSummary(_ sha: String, in repo: RepoURL) async throws -> (author: String, subject: String)?
}

extension GitFetcher {
    public func commitSummary(_ sha: String, in repo: RepoURL) async throws -> (author: String, subject: String)? { nil }
}

public struct GitError: Error, Sendable, CustomStringConvertible {
    public var operation: String
    public var message: String
    /// Whether trying again later can help: the network or the server failed, not the
    /// credentials, the host key or the repository's content.
    public var retryable: Bool
    public var description: String { "git \(operation): \(message)" }
    public init(operation: String, message: String, retryable: Bool = false) {
        self.operation = operation
        self.message = message
        self.retryable = retryable
    }
}
