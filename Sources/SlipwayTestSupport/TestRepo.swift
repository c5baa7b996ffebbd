import Foundation

/// A bare git repository in a temp folder with a work tree that pushes to it, driven
/// by the git command line the way a developer would.
public struct TestRepo: Sendable {
    public let bare: String
    public let work: String
    /// Where a git server serves it; nil: the bare folder itself (`file://`).
    public var servedAt: String?
    public var url: String { servedAt ?? "file://\(bare)" }

    public init(branch: String = "main") throws {
        let root = try Scratch.directory("repo")
        try self.init(bareAt: "\(root)/app.git", work: "\(root)/work", branch: branch)
    }

    /// A repository whose bare side lives at `bare` (a folder a git server serves at `url`).
    public init(bareAt bare: String, servedAt url: String? = nil, branch: String = "main") throws {
        try self.init(bareAt: bare, work: try Scratch.directory("work"), branch: branch)
        servedAt = url
    }

    init(bareAt bare: String, work: String, branch: String) throws {
        self.bare = bare
        self.work = work
        try Self.git(["init", "-q", "--bare", "--initial-branch=\(branch)", bare])
        try Self.git(["init", "-q", "--initial-branch=\(branch)", work])
        try Self.git(["-C", work, "remote", "add", "origin", bare])
    }

    /// Writes the files, commits them and pushes; returns the commit SHA.
    @discardableResult
    public func commit(_ files: [String: String], message: String = "change", branch: String = "main") throws -> String {
        for (name, text) in files {
            let path = "\(work)/\(name)"
            try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try text.write(toFile: path, atomically: true, encoding: .utf8)
        }
        try Self.git(["-C", work, "add", "-A"])
        try Self.git(["-C", work, "commit", "-q", "-m", message])
        try Self.git(["-C", work, "push", "-q", "origin", "HEAD:refs/heads/\(branch)"])
        return try Self.git(["-C", work, "rev-parse", "HEAD"])
    }

    /// Points `branch` at `sha` on the remote, forced (a rewrite, or a revert by force-push), and
    /// resets the work tree there so later commits build on it.
    public func forcePush(_ sha: String, branch: String = "main") throws {
        try Self.git(["-C", work, "reset", "-q", "--hard", sha])
        try Self.git(["-C", work, "push", "-q", "-f", "origin", "\(sha):refs/heads/\(branch)"])
    }

    /// A commit on a branch of its own, started from `base`, that `main` never gets; the work
    /// tree is back where it was after.
    public func commitAside(_ files: [String: String], branch: String, from base: String) throws -> String {
        let current = try Self.git(["-C", work, "rev-parse", "HEAD"])
        try Self.git(["-C", work, "checkout", "-q", "-b", branch, base])
        let sha = try commit(files, message: "aside", branch: branch)
        try Self.git(["-C", work, "checkout", "-q", "--detach", current])
        return sha
    }

    /// Points a ref the provider makes (`refs/pull/7/head`) at `sha` on the remote, as GitHub does for a pull request.
    public func pushRef(_ sha: String, ref: String) throws {
        try Self.git(["-C", work, "push", "-q", "-f", "origin", "\(sha):\(ref)"])
    }

    @discardableResult
    static func git(_ arguments: [String]) throws -> String {
        let identity = ["GIT_AUTHOR_NAME": "Test", "GIT_AUTHOR_EMAIL": "test@example.com",
                        "GIT_COMMITTER_NAME": "Test", "GIT_COMMITTER_EMAIL": "test@example.com"]
        return try Command.run("/usr/bin/git", arguments, environment: identity).output
    }
}
