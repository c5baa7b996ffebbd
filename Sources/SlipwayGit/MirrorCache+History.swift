import CLibGit2
import Foundation
import NIOPosix
import SlipwayCore

extension MirrorCache {
    public func branchHead(_ branch: String, in repo: RepoURL) async throws -> String? {
        let path = mirrorPath(for: repo)
        return try await NIOThreadPool.singleton.runIfActive {
            try Self.withRepository(path) { repository in
                var oid = git_oid()
                let code = git_reference_name_to_id(&oid, repository, "refs/heads/\(branch)")
                if code == GIT_ENOTFOUND.rawValue || code == GIT_EINVALIDSPEC.rawValue { return nil }
                try LibGit2.check(code, "read branch \(branch)")
                return withUnsafePointer(to: oid) { Self.oidString($0) }
            }
        }
    }

    public func isAncestor(_ ancestor: String, of descendant: String, in repo: RepoURL) async throws -> Bool? {
        let path = mirrorPath(for: repo)
        return try await NIOThreadPool.singleton.runIfActive {
            try Self.withRepository(path) { repository in
                guard let old = Self.commitID(ancestor, in: repository), let new = Self.commitID(descendant, in: repository) else { return nil }
                var a = old, d = new
                let code = git_graph_descendant_of(repository, &d, &a)
                try LibGit2.check(code < 0 ? code : 0, "compare \(ancestor) with \(descendant)")
                return code == 1
            }
        }
    }

    /// The id of a full SHA that names a commit in the mirror; nil otherwise.
    static func commitID(_ sha: String, in repository: OpaquePointer?) -> git_oid? {
        var oid = git_oid()
        guard sha.utf8.count == 40 || sha.utf8.count == 64, git_oid_fromstr(&oid, sha) == 0 else { return nil }
        var commit: OpaquePointer?
        guard git_commit_lookup(&commit, repository, &oid) == 0 else { return nil }
        git_commit_free(commit)
        return oid
    }
}

extension MirrorCache {
    /// A commit's author (`Name`) and the first line of its message, for what is told of its
    /// deployment; nil when the mirror does not hold it.
    public func commitSummary(_ sha: String, in repo: RepoURL) async throws -> (author: String, subject: String)? {
        let path = mirrorPath(for: repo)
        return try await NIOThreadPool.singleton.runIfActive {
            try Self.withRepository(path) { repository in
                guard var oid = Self.commitID(sha, in: repository) else { return nil }
                var commit: OpaquePointer?
                guard git_commit_lookup(&commit, repository, &oid) == 0 else { return nil }
                defer { git_commit_free(commit) }
                let author = git_commit_author(commit).flatMap { $0.pointee.name.map { String(cString: $0) } } ?? ""
                let summary = git_commit_summary(commit).map { String(cString: $0) } ?? ""
                // Bounded: a commit message is anyone's text.
                return (String(author.prefix(200)), String(summary.prefix(500)))
            }
        }
    }
}
