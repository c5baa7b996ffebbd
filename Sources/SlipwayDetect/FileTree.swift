import Foundation
import SlipwayCore
import Synchronization

/// What detection reads of a repository: files by path relative to its root. Detection
/// is a pure function over this; the real tree reads a checkout, tests use memory.
public protocol FileTree: Sendable {
    /// A file or a folder (Railpack's `HasFile` is a stat: folders count).
    func exists(_ path: String) -> Bool
    func isDirectory(_ path: String) -> Bool
    func read(_ path: String) -> String?
    /// Names directly inside a folder ("" is the root), sorted.
    func list(_ directory: String) -> [String]
    func isExecutable(_ path: String) -> Bool
    /// Every file path below the root (for `**` globs), folder by folder in byte order.
    func allFiles() -> [String]
    /// The name of the root folder (Railpack's cpp start command uses it).
    var rootName: String { get }
}

extension FileTree {
    /// Paths matching a glob; `**` spans folders, a pattern without it stays at its level.
    public func glob(_ pattern: String) -> [String] {
        let filter = PathFilter([pattern])
        if pattern.contains("**") { return allFiles().filter { filter.matches($0) } }
        // One level: list the pattern's folder only.
        let parts = pattern.split(separator: "/").map(String.init)
        var candidates = [""]
        for part in parts {
            var next: [String] = []
            for base in candidates {
                for name in list(base) {
                    let path = base.isEmpty ? name : "\(base)/\(name)"
                    if PathFilter([part]).matches(name) { next.append(path) }
                }
            }
            candidates = next
        }
        return candidates.sorted()
    }

    func json(_ path: String) -> [String: Any]? {
        guard let text = read(path), let data = JSONC.strip(text).data(using: .utf8) else { return nil }
        return (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
    }
}

/// A tree held in memory: `files` by path; folders are implied by the paths.
public struct MemoryTree: FileTree {
    public var files: [String: String]
    public var executables: Set<String>
    public var rootName: String

    public init(_ files: [String: String], executables: Set<String> = [], rootName: String = "app") {
        self.files = files
        self.executables = executables
        self.rootName = rootName
    }

    public func exists(_ path: String) -> Bool { files[path] != nil || isDirectory(path) }
    public func isDirectory(_ path: String) -> Bool { files.keys.contains { $0.hasPrefix(path + "/") } }
    public func read(_ path: String) -> String? { files[path] }
    public func isExecutable(_ path: String) -> Bool { executables.contains(path) }
    public func allFiles() -> [String] { files.keys.sorted() }

    public func list(_ directory: String) -> [String] {
        let prefix = directory.isEmpty ? "" : directory + "/"
        var names = Set<String>()
        for path in files.keys where path.hasPrefix(prefix) {
            if let name = path.dropFirst(prefix.count).split(separator: "/").first { names.insert(String(name)) }
        }
        return names.sorted()
    }
}

/// A checkout on disk. `allFiles` skips what no detection rule looks into.
public struct DirectoryTree: FileTree {
    public let root: String
    public let rootName: String
    /// The walk for `**` globs happens once per tree, however many rules ask.
    private let walked = Walked()
    final class Walked: Sendable { let files = Mutex<[String]?>(nil) }
    static let skipped: Set<String> = [".git", "node_modules", ".venv", "venv", "target", "vendor", "_build", "deps", "dist", "build"]

    /// `rootName` defaults to the folder's own name; a build passes `app`, where the image keeps the source.
    public init(root: String, rootName: String? = nil) {
        self.root = root.hasSuffix("/") ? String(root.dropLast()) : root
        self.rootName = rootName ?? URL(fileURLWithPath: root).standardizedFileURL.lastPathComponent
    }

    func full(_ path: String) -> String { path.isEmpty ? root : "\(root)/\(path)" }

    public func exists(_ path: String) -> Bool { FileManager.default.fileExists(atPath: full(path)) }

    public func isDirectory(_ path: String) -> Bool {
        var directory: ObjCBool = false
        return FileManager.default.fileExists(atPath: full(path), isDirectory: &directory) && directory.boolValue
    }

    public func read(_ path: String) -> String? {
        guard let data = FileManager.default.contents(atPath: full(path)), data.count < 4 << 20 else { return nil }
        return String(decoding: data, as: UTF8.self)
    }

    public func list(_ directory: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: full(directory))) ?? []).sorted()
    }

    public func isExecutable(_ path: String) -> Bool { FileManager.default.isExecutableFile(atPath: full(path)) }

    public func allFiles() -> [String] {
        if let files = walked.files.withLock({ $0 }) { return files }
        let files = walk()
        walked.files.withLock { $0 = files }
        return files
    }

    /// readdir's entry types instead of a stat per entry: a 1,500-file repository is walked in about a millisecond.
    private func walk() -> [String] {
        var out: [String] = []
        func walk(_ relative: String, depth: Int) {
            guard depth < 12, let handle = opendir(full(relative)) else { return }
            var entries: [(name: String, directory: Bool)] = []
            while let entry = readdir(handle) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                    String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
                }
                if name == "." || name == ".." { continue }
                var type = entry.pointee.d_type
                if type == UInt8(DT_UNKNOWN) || type == UInt8(DT_LNK) {
                    type = isDirectory(relative.isEmpty ? name : "\(relative)/\(name)") ? UInt8(DT_DIR) : UInt8(DT_REG)
                }
                entries.append((name, type == UInt8(DT_DIR)))
            }
            closedir(handle)
            // Byte order per folder, depth first: the order of Go's filepath.Walk, which
            // "the first file matching" rules depend on (and far cheaper than a String sort).
            entries.sort { $0.name.utf8.lexicographicallyPrecedes($1.name.utf8) }
            for entry in entries {
                let path = relative.isEmpty ? entry.name : "\(relative)/\(entry.name)"
                if entry.directory {
                    if !Self.skipped.contains(entry.name) { walk(path, depth: depth + 1) }
                } else {
                    out.append(path)
                }
            }
        }
        walk("", depth: 0)
        return out
    }
}

/// JSON with comments and trailing commas (railpack.json, tsconfig-style files).
enum JSONC {
    static func strip(_ text: String) -> String {
        var out = ""
        var chars = Array(text.unicodeScalars)[...]
        var inString = false
        while let c = chars.first {
            chars = chars.dropFirst()
            if inString {
                out.unicodeScalars.append(c)
                if c == "\\", let next = chars.first { out.unicodeScalars.append(next); chars = chars.dropFirst() }
                else if c == "\"" { inString = false }
            } else if c == "\"" {
                inString = true
                out.unicodeScalars.append(c)
            } else if c == "/", chars.first == "/" {
                while let n = chars.first, n != "\n" { chars = chars.dropFirst() }
            } else if c == "/", chars.first == "*" {
                chars = chars.dropFirst()
                while let n = chars.first, !(n == "*" && chars.dropFirst().first == "/") { chars = chars.dropFirst() }
                chars = chars.dropFirst(2)
            } else if c == "," {
                // A trailing comma before } or ] is dropped.
                let rest = chars.drop { $0 == " " || $0 == "\n" || $0 == "\t" || $0 == "\r" }
                if let n = rest.first, n == "}" || n == "]" { continue }
                out.unicodeScalars.append(c)
            } else {
                out.unicodeScalars.append(c)
            }
        }
        return out
    }
}
