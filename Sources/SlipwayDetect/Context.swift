import Foundation

/// What every provider reads: the tree, the environment (`RAILPACK_*`), railpack.json.
struct Context {
    let tree: any FileTree
    let env: [String: String]
    let config: RailpackConfig

    func has(_ path: String) -> Bool { tree.exists(path) }
    func hasAny(_ paths: [String]) -> Bool { paths.contains(where: has) }
    func read(_ path: String) -> String? { tree.read(path) }
    func json(_ path: String) -> [String: Any]? { tree.json(path) }

    /// `RAILPACK_<name>`, non-empty.
    func railpack(_ name: String) -> String? {
        guard let value = env["RAILPACK_\(name)"]?.trimmingCharacters(in: .whitespaces), !value.isEmpty else { return nil }
        return value
    }

    func truthy(_ name: String) -> Bool {
        guard let value = railpack(name)?.lowercased() else { return false }
        return value == "1" || value == "true"
    }

    /// A version mise would take from the app's own files: mise.toml / .tool-versions, then the tool's idiomatic file.
    func miseVersion(_ tool: String) -> String? {
        Versions.mise(tool, tree: tree)
    }
}

/// Version strings as Railpack requests them.
enum Versions {
    /// `*` → latest, `>=X` → X, `^X.Y` → X; `v20.1` → 20.1; `~X.Y`, `=X` → X.Y, X; `20.x` → 20;
    /// `lts/*` (nvm) → lts, `node` → latest.
    static func fuzzy(_ text: String) -> String {
        var value = text.trimmingCharacters(in: .whitespaces)
        if value.isEmpty || value == "*" || value == "x" || value == "node" || value == "stable" { return "latest" }
        if value.hasPrefix("lts/") { return "lts" }
        if value.hasPrefix(">=") || value.hasPrefix(">") {
            value = String(value.drop { $0 == ">" || $0 == "=" }).trimmingCharacters(in: .whitespaces)
            return String(value.split(whereSeparator: { $0 == " " || $0 == "," || $0 == "<" }).first ?? Substring(value))
        }
        if value.hasPrefix("^") {
            return String(value.dropFirst().split(separator: ".").first ?? "")
        }
        if value.hasPrefix("~>") { value.removeFirst(2) } else if value.hasPrefix("~") || value.hasPrefix("=") { value.removeFirst() }
        value = value.trimmingCharacters(in: .whitespaces)
        if value.hasPrefix("v"), value.dropFirst().first?.isNumber == true { value.removeFirst() }
        // `20.x`, `3.*`: the part before the wildcard.
        while value.hasSuffix(".x") || value.hasSuffix(".X") || value.hasSuffix(".*") { value.removeLast(2) }
        return value
    }

    /// What a version may be once read: it becomes an image tag and a word of a command,
    /// so anything else (a newline, a space, `/`, a quote) is refused, never passed on.
    static func isValid(_ version: String) -> Bool {
        func alphanumeric(_ c: Unicode.Scalar) -> Bool { ("a"..."z").contains(c) || ("A"..."Z").contains(c) || ("0"..."9").contains(c) }
        guard let first = version.unicodeScalars.first, alphanumeric(first), version.unicodeScalars.count <= maxLength else { return false }
        return version.unicodeScalars.allSatisfy { alphanumeric($0) || $0 == "." || $0 == "_" || $0 == "+" || $0 == "-" }
    }

    static let maxLength = 64

    static let idiomatic: [String: [String]] = [
        "node": [".nvmrc", ".node-version"], "python": [".python-version"], "ruby": [".ruby-version"],
        "go": [".go-version"], "java": [".java-version"], "deno": [".deno-version"], "bun": [".bun-version"],
    ]
    /// asdf's names in .tool-versions.
    static let asdfNames: [String: [String]] = [
        "node": ["nodejs", "node"], "python": ["python"], "ruby": ["ruby"], "go": ["golang", "go"], "java": ["java"],
        "rust": ["rust"], "elixir": ["elixir"], "erlang": ["erlang"], "deno": ["deno"], "bun": ["bun"], "dotnet": ["dotnet"],
    ]

    static func mise(_ tool: String, tree: any FileTree) -> String? {
        for file in ["mise.toml", ".mise.toml", "mise/config.toml", ".mise/config.toml", ".config/mise.toml", ".config/mise/config.toml"] {
            guard let text = tree.read(file) else { continue }
            if let value = TOML.value(in: text, section: "tools", key: tool) { return fuzzy(value) }
        }
        if let text = tree.read(".tool-versions") {
            let names = asdfNames[tool] ?? [tool]
            for line in text.split(whereSeparator: \.isNewline) {
                let parts = line.split(separator: " ", omittingEmptySubsequences: true)
                if parts.count >= 2, names.contains(String(parts[0])) { return fuzzy(String(parts[1])) }
            }
        }
        for file in idiomatic[tool] ?? [] {
            if let text = tree.read(file)?.trimmingCharacters(in: .whitespacesAndNewlines), !text.isEmpty {
                return fuzzy(String(text.split(whereSeparator: \.isNewline).first ?? ""))
            }
        }
        return nil
    }
}

/// Just enough TOML for manifests: `key = "value"` under `[section]`, and string arrays.
enum TOML {
    static func value(in text: String, section: String?, key: String) -> String? {
        raw(in: text, section: section, key: key).map(unquote)
    }

    static func raw(in text: String, section: String?, key: String) -> String? {
        var current: String? = nil
        for line in text.split(whereSeparator: \.isNewline).map({ $0.trimmingCharacters(in: .whitespaces) }) {
            if line.hasPrefix("[") {
                current = line.trimmingCharacters(in: ["[", "]", " "])
                continue
            }
            guard current == section, let eq = line.firstIndex(of: "=") else { continue }
            let name = line[..<eq].trimmingCharacters(in: .whitespaces).trimmingCharacters(in: ["\""])
            guard name == key else { continue }
            var rest = String(line[line.index(after: eq)...]).trimmingCharacters(in: .whitespaces)
            if let hash = rest.range(of: " #") { rest = String(rest[..<hash.lowerBound]) }
            return rest
        }
        return nil
    }

    static func unquote(_ text: String) -> String {
        text.trimmingCharacters(in: .whitespaces).trimmingCharacters(in: ["\"", "'"])
    }

    static func array(in text: String, section: String?, key: String) -> [String] {
        guard let raw = raw(in: text, section: section, key: key) else { return [] }
        // A one-line array; a multi-line one is gathered from the text after the key.
        var body = raw
        if !raw.contains("]"), let start = text.range(of: "\(key)") {
            let after = text[start.upperBound...]
            if let open = after.firstIndex(of: "["), let close = after[open...].firstIndex(of: "]") {
                body = String(after[open...close])
            }
        }
        return body.trimmingCharacters(in: ["[", "]", " "]).split(separator: ",")
            .map { unquote(String($0).trimmingCharacters(in: .whitespacesAndNewlines)) }
            .filter { !$0.isEmpty }
    }

    static func sections(in text: String) -> [String] {
        text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { $0.hasPrefix("[") }.map { $0.trimmingCharacters(in: ["[", "]", " "]) }
    }
}

/// The first capture group of a regular expression, the way the rules read manifests
/// (`go 1.22` in go.mod, `outDir:` in a Vite config).
enum Pattern {
    static func first(_ text: String?, _ pattern: String) -> String? {
        guard let text, let regex = try? NSRegularExpression(pattern: pattern),
              let m = regex.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)), m.numberOfRanges > 1,
              let range = Range(m.range(at: 1), in: text) else { return nil }
        return String(text[range])
    }
}
