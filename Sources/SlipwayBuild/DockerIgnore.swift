import Foundation
import SlipwaySystem

/// `.dockerignore` rules: one pattern a line, `#` comments, `!` re-includes, `**`
/// matches any number of directories; the last matching pattern wins, and a
/// pattern that matches a directory excludes everything below it.
public struct DockerIgnore: Sendable, Hashable {
    struct Rule: Sendable, Hashable {
        var pattern: String
        var include: Bool
    }

    var rules: [Rule]

    public init(patterns: [String]) {
        rules = patterns.compactMap { raw in
            var line = raw.trimmingCharacters(in: .whitespaces)
            guard !line.isEmpty, !line.hasPrefix("#") else { return nil }
            let include = line.hasPrefix("!")
            if include { line = String(line.dropFirst()).trimmingCharacters(in: .whitespaces) }
            let cleaned = line.split(separator: "/").filter { $0 != "." }.joined(separator: "/")
            return cleaned.isEmpty ? nil : Rule(pattern: cleaned, include: include)
        }
    }

    public init(fileContents: String) {
        self.init(patterns: fileContents.split(whereSeparator: \.isNewline).map(String.init))
    }

    public struct TooLarge: Error, Sendable, CustomStringConvertible {
        public var description: String { ".dockerignore is over 1 MiB; keep it to the patterns the build needs" }
    }

    /// Reads `<directory>/.dockerignore` if there is one; a link that leads out of `checkout`
    /// (default: `directory`) is refused (the build checks the checkout before, this is the last guard).
    public static func load(directory: String, checkout: String? = nil) throws -> DockerIgnore {
        let path = "\(directory)/.dockerignore"
        guard let real = Confinement.realPath(path) else { return DockerIgnore(patterns: []) }
        guard Confinement(root: checkout ?? directory).contains(real) else { throw Confinement.Escape(path: ".dockerignore") }
        guard let handle = FileHandle(forReadingAtPath: real) else { return DockerIgnore(patterns: []) }
        defer { try? handle.close() }
        let data = try handle.read(upToCount: (1 << 20) + 1) ?? Data()
        guard data.count <= 1 << 20 else { throw TooLarge() }
        return DockerIgnore(fileContents: String(decoding: data, as: UTF8.self))
    }

    public func excludes(_ path: String) -> Bool {
        // Never drop the files the build itself needs to read.
        if path == "Dockerfile" || path == ".dockerignore" { return false }
        var excluded = false
        let parts = path.split(separator: "/").map(String.init)
        for rule in rules {
            // The path itself or any parent directory may match.
            let matches = (1...max(parts.count, 1)).contains { n in
                Self.match(rule.pattern, parts.prefix(n).joined(separator: "/"))
            }
            if matches { excluded = !rule.include }
        }
        return excluded
    }

    static func match(_ pattern: String, _ path: String) -> Bool {
        match(Array(pattern.split(separator: "/").map(String.init)), Array(path.split(separator: "/").map(String.init)))
    }

    private static func match(_ pattern: [String], _ path: [String]) -> Bool {
        guard let first = pattern.first else { return path.isEmpty }
        if first == "**" {
            let rest = Array(pattern.dropFirst())
            return (0...path.count).contains { match(rest, Array(path.dropFirst($0))) }
        }
        guard let head = path.first, fnmatch(first, head, 0) == 0 else { return false }
        return match(Array(pattern.dropFirst()), Array(path.dropFirst()))
    }
}
