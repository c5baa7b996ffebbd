import CLibGit2
import Foundation
import Logging
import NIOPosix
import SlipwayCore

extension MirrorCache {
    /// Fetches one ref of a pull request's head (`refs/pull/7/head`, or a fork's branch from
    /// `url`) into the mirror of `repo` as `local`, and returns the commit it points at. The
    /// local ref keeps the head's commits in the mirror across branch fetches (which prune
    /// only branches and tags).
    public func fetchPullRequest(_ repo: RepoURL, ref: String, from url: String?, as local: String, logger: Logger) async throws -> String {
        let source = url.map { try? RepoURL($0) } ?? repo
        guard let source else {
            throw GitError(operation: "fetch", message: "the pull request's head repository `\(url ?? "")` is not a repository URL Slipway can fetch")
        }
        if source.isLocal && !allowLocalRepos {
            throw GitError(operation: "fetch", message: "\(source) is a local repository; set SLIPWAY_ALLOW_LOCAL_REPOS=1 to allow it")
        }
        let path = mirrorPath(for: repo)
        let spec = "+\(ref):\(local)"
        let access = try await access(for: repo, url: source.raw)
        return try await NIOThreadPool.singleton.runIfActive {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            return try withFileLock(path + ".lock") {
                // Not pruned: a ref the remote lacks is then simply missing here (reported below).
                try Self.fetchBlocking(url: source.raw, mirror: path, refspecs: [spec], prune: false, message: "slipway: fetch pull request",
                                       access: access, repo: "\(source)")
                return try Self.withRepository(path) { repository in
                    var oid = git_oid()
                    let code = git_reference_name_to_id(&oid, repository, local)
                    if code == GIT_ENOTFOUND.rawValue {
                        throw GitError(operation: "fetch", message: "\(ref) is not in \(source): the pull request's head was not found")
                    }
                    try LibGit2.check(code, "read \(local)")
                    return withUnsafePointer(to: oid) { Self.oidString($0) }
                }
            }
        }
    }

    /// The best common ancestor of two commits, nil when they share none or one is missing.
    public func mergeBase(_ a: String, _ b: String, in repo: RepoURL) async throws -> String? {
        let path = mirrorPath(for: repo)
        return try await NIOThreadPool.singleton.runIfActive {
            try Self.withRepository(path) { repository in
                guard var one = Self.commitID(a, in: repository), var two = Self.commitID(b, in: repository) else { return nil }
                var base = git_oid()
                let code = git_merge_base(&base, repository, &one, &two)
                if code == GIT_ENOTFOUND.rawValue { return nil }
                try LibGit2.check(code, "merge base of \(a) and \(b)")
                return withUnsafePointer(to: base) { Self.oidString($0) }
            }
        }
    }
}
