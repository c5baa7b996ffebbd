import Foundation

/// A bare git repository in a temp folder with a work tree that pushes to it, driven
/// by the git command line the way a developer would.
public struct TestRepo: Sendable {
    public let bare: String
    public let work: String
    public var url: String { "file://\(bare)" }

    public init(branch: String = "main") throws {
        let root = try Scratch.directory("repo")
        bare = "\(root)/app.git"
        work = "\(root)/work"
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

    @discardableResult
    static func git(_ arguments: [String]) throws -> String {
        let identity = ["GIT_AUTHOR_NAME": "Test", "GIT_AUTHOR_EMAIL": "test@example.com",
                        "GIT_COMMITTER_NAME": "Test", "GIT_COMMITTER_EMAIL": "test@example.com"]
        return try Command.run("/usr/bin/git", arguments, environment: identity).output
    }
}
