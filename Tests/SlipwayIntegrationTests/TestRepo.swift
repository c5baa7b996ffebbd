import Foundation

/// A bare git repository in a temp folder with a work tree that pushes to it, driven
/// by the git command line the way a developer would.
struct TestRepo {
    let bare: String
    let work: String
    var url: String { "file://\(bare)" }

    init(branch: String = "main") throws {
        let root = try TestStackPaths.temporaryDirectory("repo")
        bare = "\(root)/app.git"
        work = "\(root)/work"
        try Self.git(["init", "-q", "--bare", "--initial-branch=\(branch)", bare])
        try Self.git(["init", "-q", "--initial-branch=\(branch)", work])
        try Self.git(["-C", work, "remote", "add", "origin", bare])
    }

    /// Writes the files, commits them and pushes; returns the commit SHA.
    @discardableResult
    func commit(_ files: [String: String], message: String = "change", branch: String = "main") throws -> String {
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
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/git")
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        for (key, value) in ["GIT_AUTHOR_NAME": "Test", "GIT_AUTHOR_EMAIL": "test@example.com",
                             "GIT_COMMITTER_NAME": "Test", "GIT_COMMITTER_EMAIL": "test@example.com"] {
            environment[key] = value
        }
        process.environment = environment
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let output = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let errors = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw GitCommandFailed(arguments: arguments, output: errors)
        }
        return output.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    struct GitCommandFailed: Error, CustomStringConvertible {
        var arguments: [String]
        var output: String
        var description: String { "git \(arguments.joined(separator: " ")) failed: \(output)" }
    }
}

enum TestStackPaths {
    static func temporaryDirectory(_ prefix: String) throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }
}
