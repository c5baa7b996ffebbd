import CLibGit2
import Foundation
import NIOPosix
import SlipwayCore

extension MirrorCache {
    /// The files that differ between commits `before` and `after` (both sides of renames),
    /// or nil when `before` is not in the mirror (a forced push removed it): then nothing
    /// can be compared and the caller decides without the list.
    public func changedPaths(from before: String, to after: String, in repo: RepoURL) async throws -> [String]? {
        let path = mirrorPath(for: repo)
        return try await NIOThreadPool.singleton.runIfActive {
            try Self.withRepository(path) { repository in
                guard let old = try Self.tree(of: before, in: repository, missingIsNil: true) else { return nil }
                defer { git_tree_free(old) }
                guard let new = try Self.tree(of: after, in: repository, missingIsNil: false) else { return nil }
                defer { git_tree_free(new) }
                var diff: OpaquePointer?
                try LibGit2.check(git_diff_tree_to_tree(&diff, repository, old, new, nil), "diff \(before)..\(after)")
                defer { git_diff_free(diff) }
                var paths: [String] = []
                for index in 0..<git_diff_num_deltas(diff) {
                    guard let delta = git_diff_get_delta(diff, index) else { continue }
                    if let p = delta.pointee.old_file.path { paths.append(String(cString: p)) }
                    if let p = delta.pointee.new_file.path { paths.append(String(cString: p)) }
                }
                return Array(Set(paths)).sorted()
            }
        }
    }

    static func tree(of sha: String, in repository: OpaquePointer?, missingIsNil: Bool) throws -> OpaquePointer? {
        var oid = git_oid()
        guard git_oid_fromstr(&oid, sha) == 0 else {
            if missingIsNil { return nil }
            throw GitError(operation: "diff", message: "`\(sha)` is not a commit id")
        }
        var commit: OpaquePointer?
        let code = git_commit_lookup(&commit, repository, &oid)
        if code == GIT_ENOTFOUND.rawValue && missingIsNil { return nil }
        try LibGit2.check(code, "find commit \(sha)")
        defer { git_commit_free(commit) }
        var tree: OpaquePointer?
        try LibGit2.check(git_commit_tree(&tree, commit), "tree of \(sha)")
        return tree
    }

    /// The remote's branch heads (`refs/heads/…` → SHA), listed without fetching anything.
    public func remoteHeads(_ repo: RepoURL) async throws -> [String: String] {
        if repo.isLocal && !allowLocalRepos {
            throw GitError(operation: "ls-remote", message: "\(repo) is a local repository; set SLIPWAY_ALLOW_LOCAL_REPOS=1 to allow it")
        }
        let url = repo.raw
        let access = try await access(for: repo, url: url)
        return try await NIOThreadPool.singleton.runIfActive {
            var remote: OpaquePointer?
            try LibGit2.check(git_remote_create_detached(&remote, url), "remote \(url)")
            defer { git_remote_free(remote) }
            var callbacks = git_remote_callbacks()
            try LibGit2.check(git_remote_init_callbacks(&callbacks, UInt32(GIT_REMOTE_CALLBACKS_VERSION)), "remote callbacks")
            let session = FetchSession(access: access, url: url, repo: "\(repo)")
            session.install(into: &callbacks)
            defer { withExtendedLifetime(session) {} }
            try session.run {
                try LibGit2.check(git_remote_connect(remote, GIT_DIRECTION_FETCH, &callbacks, nil, nil), "connect to \(url)")
            }
            defer { git_remote_disconnect(remote) }
            var heads: UnsafeMutablePointer<UnsafePointer<git_remote_head>?>?
            var count = 0
            try LibGit2.check(git_remote_ls(&heads, &count, remote), "list heads of \(url)")
            var result: [String: String] = [:]
            for index in 0..<count {
                guard let head = heads?[index] else { continue }
                let name = String(cString: head.pointee.name)
                guard name.hasPrefix("refs/heads/") else { continue }
                result[name] = withUnsafePointer(to: head.pointee.oid) { Self.oidString($0) }
            }
            return result
        }
    }
}
