/// Where policies come from (SLIPWAY_POLICIES): a folder (or one file), or a git
/// repository written `<git URL>#<branch>:<path>` (branch default `main`, path default
/// the repository root), e.g. `https://github.com/acme/deploys.git#main:prod`.
public enum PolicySourceSpec: Sendable, Hashable, CustomStringConvertible {
    case folder(String)
    case git(repo: String, branch: String, path: String)

    public struct Invalid: Error, Sendable, CustomStringConvertible {
        public var description: String
    }

    public init(parsing text: String) throws(Invalid) {
        let looksRemote = ["https://", "http://", "ssh://", "git@", "file://"].contains { text.hasPrefix($0) }
        guard looksRemote || text.contains("#") else {
            self = .folder(text)
            return
        }
        let parts = text.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false)
        let repo = String(parts[0])
        do { _ = try RepoURL(repo) } catch {
            throw Invalid(description: "SLIPWAY_POLICIES: \(error.message); write <git URL>#<branch>:<path>, or a folder")
        }
        var branch = "main", path = "."
        if parts.count == 2 {
            let rest = parts[1].split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
            if !rest[0].isEmpty { branch = String(rest[0]) }
            if rest.count == 2, !rest[1].isEmpty { path = String(rest[1]) }
        }
        let cleaned = path.split(separator: "/").filter { $0 != "." }
        guard !path.hasPrefix("/"), !cleaned.contains("..") else {
            throw Invalid(description: "SLIPWAY_POLICIES: the path after `:` is inside the repository (relative, no `..`), as in #main:prod")
        }
        self = .git(repo: repo, branch: branch, path: cleaned.isEmpty ? "." : cleaned.joined(separator: "/"))
    }

    public var description: String {
        switch self {
        case .folder(let path): path
        case .git(let repo, let branch, let path): "\(repo)#\(branch):\(path)"
        }
    }
}
