/// A policy's `source.paths`: which changed files concern a service of a monorepo.
///
/// Patterns are globs over repository paths: `*` and `?` stay inside one path segment,
/// `**` spans any number of segments, a pattern without wildcards also matches every
/// file below it (`services/web` ≡ `services/web/**`). A pattern starting with `!`
/// excludes; the last pattern that matches a file decides, as in GitHub Actions. When
/// the first pattern is an exclusion, everything else is included.
public struct PathFilter: Sendable, Hashable {
    struct Pattern: Sendable, Hashable {
        var include: Bool
        var segments: [Substring]
        /// The leading segments without wildcards, as "a/b/": only files under it can match.
        var literalPrefix: String
        var text: String
    }

    let patterns: [Pattern]
    public let texts: [String]

    public init(_ texts: [String]) {
        self.texts = texts
        var patterns: [Pattern] = []
        for (index, raw) in texts.enumerated() {
            var text = Substring(raw.trimmingCharacters(in: .whitespaces))
            let include = !text.hasPrefix("!")
            if !include { text = text.dropFirst() }
            while text.hasPrefix("./") { text = text.dropFirst(2) }
            while text.hasPrefix("/") { text = text.dropFirst() }
            if index == 0 && !include {
                patterns.append(Pattern(include: true, segments: ["**"], literalPrefix: "", text: "**"))
            }
            var segments = text.split(separator: "/", omittingEmptySubsequences: true)
            guard !segments.isEmpty else { continue }
            // No wildcard at the end: a directory (or a file) and everything below it.
            let named = segments.last.map { !Self.hasWildcard($0) } ?? false
            if named { segments.append("**") }
            let literal = segments.prefix { !Self.hasWildcard($0) }
            // A pattern that names a path takes the path itself, so its prefix has no trailing slash.
            let whole = named && literal.count == segments.count - 1
            let prefix = literal.isEmpty ? "" : literal.joined(separator: "/") + (whole ? "" : "/")
            patterns.append(Pattern(include: include, segments: segments, literalPrefix: prefix, text: raw))
        }
        self.patterns = patterns
    }

    public var isEmpty: Bool { patterns.isEmpty }

    /// Whether `path` concerns the service. An empty filter takes every path.
    public func matches(_ path: String) -> Bool {
        guard !patterns.isEmpty else { return true }
        var included = false
        let parts = path.split(separator: "/", omittingEmptySubsequences: true)
        for pattern in patterns where pattern.include != included {
            if Self.match(pattern.segments[...], parts[...]) { included = pattern.include }
        }
        return included
    }

    /// The first of `files` that concerns the service, looking only at the files under a
    /// pattern's literal prefix, so a push touching thousands of files is matched against
    /// thousands of filters in milliseconds.
    public func firstMatch(in files: ChangedFiles) -> String? {
        guard !patterns.isEmpty else { return files.first }
        let includes = patterns.filter(\.include)
        for pattern in includes {
            for path in files.paths(under: pattern.literalPrefix) where matches(path) {
                return path
            }
        }
        return nil
    }

    static func hasWildcard(_ segment: Substring) -> Bool {
        segment.contains { $0 == "*" || $0 == "?" || $0 == "[" }
    }

    static func match(_ pattern: ArraySlice<Substring>, _ path: ArraySlice<Substring>) -> Bool {
        guard let head = pattern.first else { return path.isEmpty }
        if head == "**" {
            let rest = pattern.dropFirst()
            if rest.isEmpty { return true }
            var tail = path
            while true {
                if match(rest, tail) { return true }
                guard !tail.isEmpty else { return false }
                tail = tail.dropFirst()
            }
        }
        guard let segment = path.first, matchSegment(Array(head.unicodeScalars)[...], Array(segment.unicodeScalars)[...]) else {
            return false
        }
        return match(pattern.dropFirst(), path.dropFirst())
    }

    /// `*`, `?` and `[abc]` / `[a-z]` / `[!a]` within one segment.
    static func matchSegment(_ pattern: ArraySlice<Unicode.Scalar>, _ text: ArraySlice<Unicode.Scalar>) -> Bool {
        var p = pattern.startIndex, t = text.startIndex
        var starP: Int?, starT = 0
        while t < text.endIndex {
            if p < pattern.endIndex, pattern[p] == "*" {
                starP = p
                starT = t
                p += 1
                continue
            }
            if p < pattern.endIndex, let width = matchOne(pattern[p...], text[t]) {
                p += width
                t += 1
                continue
            }
            guard let star = starP else { return false }
            p = star + 1
            starT += 1
            t = starT
        }
        while p < pattern.endIndex, pattern[p] == "*" { p += 1 }
        return p == pattern.endIndex
    }

    /// How many pattern scalars matched `c`, or nil.
    static func matchOne(_ pattern: ArraySlice<Unicode.Scalar>, _ c: Unicode.Scalar) -> Int? {
        let first = pattern[pattern.startIndex]
        if first == "?" { return 1 }
        guard first == "[" else { return first == c ? 1 : nil }
        var i = pattern.startIndex + 1
        let negated = i < pattern.endIndex && (pattern[i] == "!" || pattern[i] == "^")
        if negated { i += 1 }
        var found = false
        var firstInClass = true
        while i < pattern.endIndex, pattern[i] != "]" || firstInClass {
            firstInClass = false
            if i + 2 < pattern.endIndex, pattern[i + 1] == "-", pattern[i + 2] != "]" {
                if pattern[i] <= c && c <= pattern[i + 2] { found = true }
                i += 3
            } else {
                if pattern[i] == c { found = true }
                i += 1
            }
        }
        // An unclosed `[` is a literal.
        guard i < pattern.endIndex else { return first == c ? 1 : nil }
        return found != negated ? i - pattern.startIndex + 1 : nil
    }
}

/// A push's changed files, sorted by their bytes so the files under a folder are one range.
public struct ChangedFiles: Sendable, Hashable {
    let sorted: [String]
    let keys: [[UInt8]]

    public init(_ paths: [String]) {
        let unique = Set(paths.map { path -> String in
            var p = Substring(path)
            while p.hasPrefix("/") { p = p.dropFirst() }
            return String(p)
        })
        let pairs = unique.map { (Array($0.utf8), $0) }.sorted { $0.0.lexicographicallyPrecedes($1.0) }
        sorted = pairs.map(\.1)
        keys = pairs.map(\.0)
    }

    public var count: Int { sorted.count }
    public var first: String? { sorted.first }
    public var all: [String] { sorted }

    /// The files whose path starts with `prefix` ("" for all).
    public func paths(under prefix: String) -> ArraySlice<String> {
        guard !prefix.isEmpty else { return sorted[...] }
        let key = Array(prefix.utf8)
        var low = 0, high = keys.count
        while low < high {
            let mid = (low + high) / 2
            if keys[mid].lexicographicallyPrecedes(key) { low = mid + 1 } else { high = mid }
        }
        var end = low
        while end < keys.count, keys[end].starts(with: key) { end += 1 }
        return sorted[low..<end]
    }
}
