import CLibGit2
import Crypto
import Foundation
import Logging
import NIOPosix
import SlipwayCore

/// Bare mirrors under `<data dir>/mirrors`, one per repository, fetched with libgit2.
/// A file lock per mirror keeps concurrent fetches (from any process) from colliding.
public struct MirrorCache: GitFetcher {
    public let directory: String
    public let allowLocalRepos: Bool
    /// Credentials and known hosts per repository; nil: every repository is fetched anonymously.
    public let access: (any GitAccessProvider)?

    public init(directory: String, allowLocalRepos: Bool, access: (any GitAccessProvider)? = nil) {
        self.directory = directory
        self.allowLocalRepos = allowLocalRepos
        self.access = access
        _ = LibGit2.initialized
    }

    /// Trusts the certificate authorities in `file` for https fetches from now on, instead of the
    /// system's (what SSL_CERT_FILE does at start-up); for a private git server's CA.
    public static func trustCertificates(file: String) throws {
        _ = LibGit2.initialized
        try LibGit2.check(slipway_git_set_ssl_cert_locations(file, nil), "trust \(file)")
    }

    /// How to reach `url` when fetching for `repo`: the repository's own access, or none for
    /// another host (a fork elsewhere never sees the repository's credentials).
    func access(for repo: RepoURL, url: String) async throws -> GitAccess {
        guard let access, !repo.isLocal else { return .anonymous }
        if url != repo.raw {
            guard let other = try? RepoURL(url), other.host == repo.host, other.transport == repo.transport else { return .anonymous }
        }
        return try await access.access(for: repo)
    }

    /// `<dir>/<last path part>-<hash of the key>.git`: readable, and unique per repository.
    public func mirrorPath(for repo: RepoURL) -> String {
        let digest = SHA256.hash(data: Data(repo.key.utf8)).prefix(8).map { String(format: "%02x", $0) }.joined()
        let name = repo.key.split(separator: "/").last.map(String.init) ?? "repo"
        let safe = String(name.map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" ? $0 : "-" })
        return "\(directory)/\(safe)-\(digest).git"
    }

    public func fetch(_ repo: RepoURL, logger: Logger) async throws {
        if repo.isLocal && !allowLocalRepos {
            throw GitError(operation: "fetch", message: "\(repo) is a local repository; set SLIPWAY_ALLOW_LOCAL_REPOS=1 to allow it")
        }
        let path = mirrorPath(for: repo)
        let url = repo.raw
        let access = try await access(for: repo, url: url)
        try await NIOThreadPool.singleton.runIfActive {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            try withFileLock(path + ".lock") {
                try Self.fetchBlocking(url: url, mirror: path, access: access, repo: "\(repo)")
            }
        }
    }

    public func resolve(_ revision: String, in repo: RepoURL) async throws -> String {
        let path = mirrorPath(for: repo)
        return try await NIOThreadPool.singleton.runIfActive {
            try Self.withRepository(path) { repository in
                try Self.resolveBlocking(revision, in: repository)
            }
        }
    }

    public func checkout(_ sha: String, of repo: RepoURL, into target: String) async throws {
        let path = mirrorPath(for: repo)
        try await NIOThreadPool.singleton.runIfActive {
            try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: true)
            try Self.withRepository(path) { repository in
                try Self.checkoutBlocking(sha, repository: repository, target: target)
            }
        }
    }

    // MARK: - libgit2, on a thread-pool thread

    /// The mirror's branches and tags, pruned: what the remote deleted goes here too.
    static func fetchBlocking(url: String, mirror: String, access: GitAccess = .anonymous, repo: String? = nil) throws {
        try fetchBlocking(url: url, mirror: mirror, refspecs: ["+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*"], prune: true,
                          message: "slipway: fetch", access: access, repo: repo ?? url)
    }

    /// Fetches `refspecs` from `url` into the mirror (created when missing); `prune` removes
    /// local refs the refspecs cover that the remote no longer has.
    static func fetchBlocking(url: String, mirror: String, refspecs specs: [String], prune: Bool, message: String,
                              access: GitAccess, repo: String) throws {
        var repository: OpaquePointer?
        if FileManager.default.fileExists(atPath: mirror) {
            try LibGit2.check(git_repository_open_bare(&repository, mirror), "open mirror")
        } else {
            try LibGit2.check(git_repository_init(&repository, mirror, 1), "create mirror")
        }
        defer { git_repository_free(repository) }

        var remote: OpaquePointer?
        try LibGit2.check(git_remote_create_anonymous(&remote, repository, url), "remote \(url)")
        defer { git_remote_free(remote) }

        var options = git_fetch_options()
        try LibGit2.check(git_fetch_options_init(&options, UInt32(GIT_FETCH_OPTIONS_VERSION)), "fetch options")
        options.prune = prune ? GIT_FETCH_PRUNE : GIT_FETCH_NO_PRUNE
        options.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_NONE
        let session = FetchSession(access: access, url: url, repo: repo)
        session.install(into: &options.callbacks)
        try session.run {
            try LibGit2.withStrArray(specs) { refspecs in
                try LibGit2.check(git_remote_fetch(remote, &refspecs, &options, message), "fetch \(url)")
            }
        }
    }

    static func withRepository<T>(_ path: String, _ body: (OpaquePointer?) throws -> T) throws -> T {
        guard FileManager.default.fileExists(atPath: path) else {
            throw GitError(operation: "open mirror", message: "no mirror at \(path); fetch the repository first")
        }
        var repository: OpaquePointer?
        try LibGit2.check(git_repository_open_bare(&repository, path), "open mirror")
        defer { git_repository_free(repository) }
        return try body(repository)
    }

    static func resolveBlocking(_ revision: String, in repository: OpaquePointer?) throws -> String {
        let isHex = !revision.isEmpty && revision.allSatisfy(\.isHexDigit)
        // A branch name is looked up as a branch, so `cafe` the branch never passes for a short SHA.
        let spec = isHex ? revision : "refs/heads/\(revision)"
        var object: OpaquePointer?
        let code = git_revparse_single(&object, repository, spec)
        if code == GIT_ENOTFOUND.rawValue || code == GIT_EAMBIGUOUS.rawValue {
            let what = isHex ? "commit \(revision)" : "branch \(revision)"
            throw GitError(operation: "resolve", message: "\(what) is not in the repository (after a fresh fetch); check the SHA or branch and that it was pushed")
        }
        try LibGit2.check(code, "resolve \(revision)")
        defer { git_object_free(object) }
        var commit: OpaquePointer?
        try LibGit2.check(git_object_peel(&commit, object, GIT_OBJECT_COMMIT), "\(revision) is not a commit")
        defer { git_object_free(commit) }
        guard let oid = git_object_id(commit) else {
            throw GitError(operation: "resolve", message: "no id for \(revision)")
        }
        return oidString(oid)
    }

    static func checkoutBlocking(_ sha: String, repository: OpaquePointer?, target: String) throws {
        var oid = git_oid()
        try LibGit2.check(git_oid_fromstr(&oid, sha), "commit id \(sha)")
        var commit: OpaquePointer?
        try LibGit2.check(git_object_lookup(&commit, repository, &oid, GIT_OBJECT_COMMIT), "find commit \(sha)")
        defer { git_object_free(commit) }

        var options = git_checkout_options()
        try LibGit2.check(git_checkout_options_init(&options, UInt32(GIT_CHECKOUT_OPTIONS_VERSION)), "checkout options")
        // A bare mirror has no work tree or index: write files into `target` only.
        options.checkout_strategy = GIT_CHECKOUT_FORCE.rawValue | GIT_CHECKOUT_DONT_UPDATE_INDEX.rawValue
        try target.withCString { path in
            options.target_directory = path
            try LibGit2.check(git_checkout_tree(repository, commit, &options), "checkout \(sha)")
        }
    }

    static func oidString(_ oid: UnsafePointer<git_oid>) -> String {
        withUnsafeBytes(of: oid.pointee.id) { bytes in
            bytes.map { String(format: "%02x", $0) }.joined()
        }
    }
}

/// Runs `body` holding an exclusive `flock` on `path` (created if missing).
func withFileLock<T>(_ path: String, _ body: () throws -> T) throws -> T {
    let fd = open(path, O_CREAT | O_RDWR | O_CLOEXEC, 0o644)
    guard fd >= 0 else { throw GitError(operation: "lock", message: "cannot open \(path): \(String(cString: strerror(errno)))") }
    defer { close(fd) }
    guard flock(fd, LOCK_EX) == 0 else {
        throw GitError(operation: "lock", message: "cannot lock \(path): \(String(cString: strerror(errno)))")
    }
    defer { flock(fd, LOCK_UN) }
    return try body()
}
