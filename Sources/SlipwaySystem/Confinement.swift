import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A folder that what is read from a repository must stay inside. A checkout may hold
/// symbolic links to anywhere on the server (`.nvmrc -> /proc/self/environ`); every file
/// Slipway reads from a checkout is resolved here first, so a link that leads out of it
/// is refused instead of followed.
public struct Confinement: Sendable, Hashable {
    /// The folder, with every link in its own path resolved.
    public let root: String

    public enum Place: Sendable, Hashable {
        /// The path resolves to `real`, inside the root.
        case inside(real: String)
        /// The path (or a link on its way) leads out of the root.
        case outside
        /// Nothing is there (or a link points at nothing).
        case missing
    }

    /// Why a path was refused, for messages that say what to do.
    public struct Escape: Error, Sendable, Hashable, CustomStringConvertible {
        public var path: String
        public var description: String {
            "`\(path)` is a symbolic link that leads outside the repository; Slipway reads nothing outside the checkout: replace the link with the file itself"
        }
        public init(path: String) { self.path = path }
    }

    public init(root: String) {
        self.root = Self.realPath(root) ?? root
    }

    /// Where `relative` (a path inside the root, `""` for the root) really leads.
    public func place(_ relative: String) -> Place {
        let full = relative.isEmpty ? root : "\(root)/\(relative)"
        guard let real = Self.realPath(full) else {
            // A dangling link is missing, but one that points outside is an escape either way.
            return Self.isLink(full) && !linkStaysInside(full) ? .outside : .missing
        }
        return contains(real) ? .inside(real: real) : .outside
    }

    /// The real path of `relative` when it is inside; nil when nothing is there.
    public func resolve(_ relative: String) throws(Escape) -> String? {
        switch place(relative) {
        case .inside(let real): return real
        case .missing: return nil
        case .outside: throw Escape(path: relative)
        }
    }

    public func contains(_ real: String) -> Bool {
        real == root || real.hasPrefix(root.hasSuffix("/") ? root : root + "/")
    }

    /// A dangling link's target, judged as text: absolute targets outside the root and
    /// relative ones that climb out of it are escapes.
    private func linkStaysInside(_ full: String) -> Bool {
        guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: full) else { return false }
        let base = (full as NSString).deletingLastPathComponent
        let joined = target.hasPrefix("/") ? target : "\(base)/\(target)"
        return contains((joined as NSString).standardizingPath)
    }

    public static func isLink(_ path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFLNK
    }

    public static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }
}
