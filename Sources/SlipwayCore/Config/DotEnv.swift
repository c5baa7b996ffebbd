/// `.env` files: `KEY=value` lines, `#` comments, an optional `export ` prefix, and
/// single- or double-quoted values (double quotes understand \n, \" and \\).
public enum DotEnv {
    public struct Invalid: Error, Equatable, CustomStringConvertible {
        public let line: Int
        public let message: String
        public var description: String { ".env:\(line): \(message)" }
    }

    public static func parse(_ text: String) throws(Invalid) -> [String: String] {
        var values: [String: String] = [:]
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            var line = Substring(rawLine.hasSuffix("\r") ? rawLine.dropLast() : rawLine)
            line = line.drop(while: { $0 == " " || $0 == "\t" })
            if line.isEmpty || line.hasPrefix("#") { continue }
            if line.hasPrefix("export ") { line = line.dropFirst("export ".count).drop(while: { $0 == " " }) }
            guard let equals = line.firstIndex(of: "=") else {
                throw Invalid(line: index + 1, message: "expected KEY=value")
            }
            let key = line[..<equals].trimmingSpaces
            guard !key.isEmpty, key.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }) else {
                throw Invalid(line: index + 1, message: "`\(key)` is not a variable name")
            }
            values[String(key)] = try value(line[line.index(after: equals)...].trimmingSpaces, line: index + 1)
        }
        return values
    }

    private static func value(_ text: Substring, line: Int) throws(Invalid) -> String {
        guard let quote = text.first, quote == "\"" || quote == "'" else {
            // Unquoted: a ` #` starts a comment.
            if let hash = text.range(of: " #") { return String(text[..<hash.lowerBound].trimmingSpaces) }
            return String(text)
        }
        var out = ""
        var escaped = false
        for character in text.dropFirst() {
            if escaped {
                switch character {
                case "n": out.append("\n")
                case "t": out.append("\t")
                default: out.append(character)
                }
                escaped = false
            } else if character == "\\" && quote == "\"" {
                escaped = true
            } else if character == quote {
                return out
            } else {
                out.append(character)
            }
        }
        throw Invalid(line: line, message: "unterminated \(quote) quote")
    }
}

extension Substring {
    var trimmingSpaces: Substring {
        var s = self
        while let f = s.first, f == " " || f == "\t" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" { s = s.dropLast() }
        return s
    }
}
