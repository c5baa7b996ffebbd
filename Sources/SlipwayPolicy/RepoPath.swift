/// Paths inside a repository (`build.context`, `build.dockerfile`): relative, and never
/// escaping the checkout.
enum RepoPath {
    static func problem(_ path: String) -> String? {
        if path.hasPrefix("/") { return "must be relative to the repository root, not absolute" }
        if path.split(separator: "/").contains("..") { return "must stay inside the repository (no `..`)" }
        if path.contains("\\") || path.contains("\0") { return "must use `/` as separator" }
        return nil
    }

    /// `./services/web/` → `services/web`; `.` and `./` → `.`.
    static func clean(_ path: String) -> String {
        let parts = path.split(separator: "/").filter { $0 != "." }
        return parts.isEmpty ? "." : parts.joined(separator: "/")
    }
}

/// git's rules for branch names (git-check-ref-format), the ones people trip on.
enum GitRefName {
    static func problem(_ name: String) -> String? {
        if name.hasPrefix("refs/") { return "must be a branch name like `main`, not a full ref" }
        if name.hasPrefix("-") || name.hasPrefix("/") || name.hasSuffix("/") || name.hasSuffix(".") {
            return "is not a valid branch name"
        }
        if name.contains("..") || name.contains("@{") || name.contains("//") || name.hasSuffix(".lock") {
            return "is not a valid branch name"
        }
        if name.unicodeScalars.contains(where: { $0.value < 0x21 || $0.value == 0x7f || "~^:?*[\\".unicodeScalars.contains($0) }) {
            return "contains a character git does not allow in branch names"
        }
        return nil
    }
}
