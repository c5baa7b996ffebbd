import Foundation
import SlipwayCore
import SlipwaySystem
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
    /// What was refused while reading (a link out of the checkout, a limit reached);
    /// detection fails with these rather than plan from a partial view.
    func problems() -> [String]
}

extension FileTree {
    public func problems() -> [String] { [] }

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

    /// A JSON object, or nil: unreadable, not JSON, or nested deeper than `JSONC.maxDepth`.
    func json(_ path: String) -> [String: Any]? {
        guard let text = read(path), let stripped = JSONC.strip(text), let data = stripped.data(using: .utf8) else { return nil }
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

/// A checkout on disk, read within limits: nothing through a symbolic link that leads
/// out of the checkout, at most `limits.fileBytes` per file and `limits.totalBytes` in
/// all, `limits.entries` names walked, and nothing after `limits.time`. Whatever was
/// refused is in `problems()`, and detection fails with it: a repository cannot make
/// Slipway read a server file, or spend unbounded time and memory deciding how to build it.
public struct DirectoryTree: FileTree {
    public let root: String
    public let rootName: String
    let confinement: Confinement
    let limits: DetectionLimits
    /// The root's path below the checkout ("" when it is the checkout); nil when the root itself leads out of it.
    let base: String?
    /// The walk for `**` globs happens once per tree, however many rules ask.
    private let walked = Walked()
    private let budget: Budget
    final class Walked: Sendable { let files = Mutex<[String]?>(nil) }
    static let skipped: Set<String> = [".git", "node_modules", ".venv", "venv", "target", "vendor", "_build", "deps", "dist", "build"]

    /// - Parameters:
    ///   - rootName: defaults to the folder's own name; a build passes `app`, where the image keeps the source.
    ///   - confinedTo: the checkout `root` lies in (links may lead anywhere inside it); default `root` itself.
    ///   - now: the clock the time limit is measured on.
    public init(root: String, rootName: String? = nil, confinedTo: String? = nil, limits: DetectionLimits = .standard,
                now: @escaping @Sendable () -> ContinuousClock.Instant = { .now }) {
        self.root = root.hasSuffix("/") ? String(root.dropLast()) : root
        self.rootName = rootName ?? URL(fileURLWithPath: root).standardizedFileURL.lastPathComponent
        let confinement = Confinement(root: confinedTo ?? root)
        self.confinement = confinement
        self.limits = limits
        // Where the root lies below the checkout: paths are checked, and named in messages, from there.
        let real = Confinement(root: root).root
        let base: String? = real == confinement.root ? "" : confinement.contains(real) ? String(real.dropFirst(confinement.root.count + 1)) : nil
        self.base = base
        // A root that leads out is named as the build names it, relative to the checkout.
        let given = confinedTo.flatMap { root.hasPrefix($0 + "/") ? String(root.dropFirst($0.count + 1)) : nil } ?? root
        self.budget = Budget(limits: limits, now: now, prefix: (base ?? given).isEmpty ? "" : (base ?? given) + "/")
        if base == nil { budget.refuse("") }
    }

    func full(_ path: String) -> String { path.isEmpty ? root : "\(root)/\(path)" }

    /// The real path of `path` when it is inside the checkout; an escape is recorded.
    private func inside(_ path: String, reading: Bool) -> String? {
        guard let base, budget.allows(path) else { return nil }
        switch confinement.place([base, path].filter { !$0.isEmpty }.joined(separator: "/")) {
        case .inside(let real): return real
        case .missing: return nil
        case .outside:
            if reading { budget.refuse(path) }
            return nil
        }
    }

    /// A link that leads out exists as a name in the repository, but says nothing of the server.
    public func exists(_ path: String) -> Bool {
        inside(path, reading: false) != nil || Confinement.isLink(full(path))
    }

    public func isDirectory(_ path: String) -> Bool {
        guard let real = inside(path, reading: false) else { return false }
        return FileManager.default.isDirectory(real)
    }

    public func read(_ path: String) -> String? {
        guard let real = inside(path, reading: true), let handle = FileHandle(forReadingAtPath: real) else { return nil }
        defer { try? handle.close() }
        // One byte past the limit tells a file that is too large from one that fits.
        guard let data = try? handle.read(upToCount: limits.fileBytes + 1), data.count <= limits.fileBytes,
              budget.spend(bytes: data.count) else { return nil }
        return String(decoding: data, as: UTF8.self)
    }

    public func list(_ directory: String) -> [String] {
        guard let real = inside(directory, reading: true) else { return [] }
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: real)) ?? []).sorted()
        return budget.spend(entries: names.count) ? names : []
    }

    public func isExecutable(_ path: String) -> Bool {
        guard let real = inside(path, reading: false) else { return false }
        return FileManager.default.isExecutableFile(atPath: real)
    }

    public func allFiles() -> [String] {
        if let files = walked.files.withLock({ $0 }) { return files }
        let files = walk()
        walked.files.withLock { $0 = files }
        return files
    }

    public func problems() -> [String] { budget.problems() }

    /// readdir's entry types instead of a stat per entry: a 1,500-file repository is walked in about a millisecond.
    /// Links are never walked into: one that leads to a file inside the checkout counts as
    /// that file, any other is left out.
    private func walk() -> [String] {
        var out: [String] = []
        func walk(_ relative: String, depth: Int) {
            guard depth < 12, base != nil, budget.allows(relative), let handle = opendir(full(relative)) else { return }
            var entries: [(name: String, directory: Bool)] = []
            while let entry = readdir(handle) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                    String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
                }
                if name == "." || name == ".." { continue }
                let path = relative.isEmpty ? name : "\(relative)/\(name)"
                var type = entry.pointee.d_type
                if type == UInt8(DT_UNKNOWN) {
                    var info = stat()
                    guard lstat(full(path), &info) == 0 else { continue }
                    type = (info.st_mode & S_IFMT) == S_IFDIR ? UInt8(DT_DIR) : (info.st_mode & S_IFMT) == S_IFLNK ? UInt8(DT_LNK) : UInt8(DT_REG)
                }
                if type == UInt8(DT_LNK) {
                    guard let real = inside(path, reading: false), !FileManager.default.isDirectory(real) else { continue }
                    type = UInt8(DT_REG)
                }
                entries.append((name, type == UInt8(DT_DIR)))
            }
            closedir(handle)
            guard budget.spend(entries: entries.count) else { return }
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

extension FileManager {
    func isDirectory(_ path: String) -> Bool {
        var directory: ObjCBool = false
        return fileExists(atPath: path, isDirectory: &directory) && directory.boolValue
    }
}

/// How much of a repository detection may read, and for how long.
public struct DetectionLimits: Sendable, Hashable {
    /// A larger file reads as absent (lockfiles aside, manifests are small).
    public var fileBytes: Int
    /// Everything read, together.
    public var totalBytes: Int
    /// Names listed and walked, together.
    public var entries: Int
    public var time: Duration

    public init(fileBytes: Int, totalBytes: Int, entries: Int, time: Duration) {
        self.fileBytes = fileBytes
        self.totalBytes = totalBytes
        self.entries = entries
        self.time = time
    }

    /// Far above what any real application needs (the largest example reads under 100 KiB
    /// and walks under 2,000 names), far below what would hurt the controller.
    public static let standard = DetectionLimits(fileBytes: 4 << 20, totalBytes: 32 << 20, entries: 200_000, time: .seconds(10))
}

/// What one detection has spent, and what it was refused.
final class Budget: Sendable {
    struct State {
        var bytes = 0
        var entries = 0
        var problems: [String] = []
        var exhausted = false
    }
    let limits: DetectionLimits
    let now: @Sendable () -> ContinuousClock.Instant
    let deadline: ContinuousClock.Instant
    /// The tree's root below the checkout, to name paths as the repository has them.
    let prefix: String
    private let state = Mutex(State())

    init(limits: DetectionLimits, now: @escaping @Sendable () -> ContinuousClock.Instant, prefix: String) {
        self.limits = limits
        self.now = now
        self.deadline = now() + limits.time
        self.prefix = prefix
    }

    /// False once a limit was reached: nothing more is read.
    func allows(_ path: String) -> Bool {
        guard now() <= deadline else {
            exhaust("detection took longer than \(limits.time); add a Dockerfile (build.dockerfile) or narrow build.context")
            return false
        }
        return !state.withLock { $0.exhausted }
    }

    func spend(bytes: Int = 0, entries: Int = 0) -> Bool {
        let over = state.withLock { state -> String? in
            state.bytes += bytes
            state.entries += entries
            if state.bytes > limits.totalBytes { return "detection read over \(limits.totalBytes >> 20) MiB of the repository" }
            if state.entries > limits.entries { return "the repository has over \(limits.entries) files and folders where detection looks" }
            return nil
        }
        guard let over else { return true }
        exhaust("\(over); add a Dockerfile (build.dockerfile) or narrow build.context")
        return false
    }

    func refuse(_ path: String) {
        let shown = path.isEmpty ? (prefix.isEmpty ? "." : String(prefix.dropLast())) : prefix + path
        let problem = Confinement.Escape(path: Terminal.printable(shown, limit: 200)).description
        state.withLock { if !$0.problems.contains(problem) { $0.problems.append(problem) } }
    }

    private func exhaust(_ problem: String) {
        state.withLock { state in
            guard !state.exhausted else { return }
            state.exhausted = true
            state.problems.append(problem)
        }
    }

    func problems() -> [String] { state.withLock { $0.problems } }
}

/// JSON with comments and trailing commas (railpack.json, tsconfig-style files).
enum JSONC {
    /// Deeper nesting is refused before parsing: no manifest needs it, and a parser
    /// recursing through a million brackets would exhaust the stack.
    static let maxDepth = 64

    /// The text as plain JSON; nil when it nests deeper than `maxDepth`.
    static func strip(_ text: String) -> String? {
        var out = String.UnicodeScalarView()
        var chars = Array(text.unicodeScalars)[...]
        var inString = false
        var depth = 0
        while let c = chars.first {
            chars = chars.dropFirst()
            if inString {
                out.append(c)
                if c == "\\", let next = chars.first { out.append(next); chars = chars.dropFirst() }
                else if c == "\"" { inString = false }
            } else if c == "\"" {
                inString = true
                out.append(c)
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
                out.append(c)
            } else {
                if c == "{" || c == "[" {
                    depth += 1
                    if depth > maxDepth { return nil }
                } else if c == "}" || c == "]" {
                    depth -= 1
                }
                out.append(c)
            }
        }
        return String(out)
    }
}
