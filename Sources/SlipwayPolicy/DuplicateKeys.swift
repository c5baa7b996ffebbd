/// Where YAML's "duplicate key" points. The YAML library reports the first occurrence
/// only; the mistake a reader looks for is the second, with its full key path.
enum DuplicateKeys {
    /// `first` is the 1-based line and column of the key's first occurrence.
    static func locate(key: String, first: (line: Int, column: Int), in yaml: String) -> (line: Int, column: Int, path: String) {
        // `\r\n` is one Character in Swift: split on any line break.
        let lines = yaml.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).map(String.init)
        let path = (parents(ofLine: first.line, column: first.column, lines: lines) + [key]).joined(separator: ".")
        guard first.line >= 1, first.line <= lines.count else { return (first.line, first.column, path) }
        // Flow style, `{ a: 1, a: 2 }`: the second one later on the same line.
        let firstLine = Array(lines[first.line - 1])
        let after = first.column - 1 + key.count
        if after < firstLine.count, let range = String(firstLine[after...]).range(of: "\(key):") {
            let offset = String(firstLine[after...]).distance(from: String(firstLine[after...]).startIndex, to: range.lowerBound)
            return (first.line, after + offset + 1, path)
        }
        // Block style: the next line at the same indentation that starts with the key.
        let indent = String(repeating: " ", count: first.column - 1)
        for number in first.line..<lines.count {
            let line = lines[number]
            let body = line.dropFirst(indent.count)
            guard line.hasPrefix(indent), !(body.first?.isWhitespace ?? true) else { continue }
            if body.hasPrefix("\(key):") || body.hasPrefix("\"\(key)\":") || body.hasPrefix("'\(key)':") {
                return (number + 1, first.column, path)
            }
        }
        return (first.line, first.column, path)
    }

    /// The keys of the block mappings that enclose a position, outermost first.
    static func parents(ofLine line: Int, column: Int, lines: [String]) -> [String] {
        var out: [String] = []
        var indent = column - 1
        var number = line - 2
        while indent > 0, number >= 0, number < lines.count {
            let text = lines[number]
            let leading = text.prefix(while: { $0 == " " }).count
            let body = text.dropFirst(leading)
            if leading < indent, !body.isEmpty, !body.hasPrefix("#"), let colon = body.firstIndex(of: ":") {
                out.insert(String(body[..<colon]).trimmingCharacters(in: ["\"", "'", "-", " "]), at: 0)
                indent = leading
            }
            number -= 1
        }
        return out
    }
}
