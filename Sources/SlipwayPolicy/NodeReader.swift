import SlipwayCore
import Yams

/// The entries of one YAML mapping, with the nodes of their keys (errors about a key
/// point at the key) and the key that holds the mapping (a missing entry points there).
struct Fields {
    let path: String
    let node: Node
    /// The key whose value this mapping is; nil for a document.
    let holder: Node?
    var values: [String: Node] = [:]
    var keys: [String: Node] = [:]

    subscript(name: String) -> Node? { values[name] }
    func qualified(_ name: String) -> String { path.isEmpty ? name : "\(path).\(name)" }
    /// Where a missing entry is reported.
    var anchor: Node { holder ?? node }
    /// Of two keys, the one written later in the file.
    func later(_ a: String, _ b: String) -> String {
        guard let ma = keys[a]?.mark, let mb = keys[b]?.mark else { return b }
        return (ma.line, ma.column) > (mb.line, mb.column) ? a : b
    }
}

/// Walks a YAML node tree and collects diagnostics with line and column; each
/// accessor returns nil after reporting why the value is not usable.
struct NodeReader {
    let file: String
    private(set) var diagnostics: [PolicyDiagnostic] = []

    init(file: String) { self.file = file }

    mutating func report(_ node: Node?, _ message: String) {
        let mark = node?.mark
        diagnostics.append(PolicyDiagnostic(file: file, line: mark?.line ?? 1, column: mark?.column ?? 1, message: message))
    }

    mutating func report(line: Int, column: Int, _ message: String) {
        diagnostics.append(PolicyDiagnostic(file: file, line: line, column: column, message: message))
    }

    static func isDecimal(_ text: String) -> Bool {
        let digits = text.first == "-" || text.first == "+" ? text.dropFirst() : Substring(text)
        return !digits.isEmpty && digits.allSatisfy { $0.isASCII && $0.isNumber }
    }

    static func isNull(_ node: Node) -> Bool {
        if case .scalar(let scalar) = node, scalar.style == .plain, node.null != nil { return true }
        return false
    }

    /// A mapping's entries; unknown keys are reported with a suggestion. `elsewhere`
    /// names keys of the format that do not belong here, with why.
    mutating func mapping(_ node: Node, at path: String, holder: Node?, allowed: [String],
                          elsewhere: [String: String] = [:]) -> Fields? {
        guard case .mapping(let mapping) = node else {
            if Self.isNull(node), let holder {
                report(holder, "`\(path)` is empty; it must be a mapping of keys to values")
            } else {
                report(node, path.isEmpty ? "a policy document must be a mapping of keys to values, as in `service: web`"
                                          : "`\(path)` must be a mapping of keys to values")
            }
            return nil
        }
        var fields = Fields(path: path, node: node, holder: holder)
        for (keyNode, value) in mapping {
            guard case .scalar = keyNode, let key = keyNode.scalar?.string else {
                report(keyNode, "keys in `\(path)` must be plain words")
                continue
            }
            let qualified = fields.qualified(key)
            if allowed.contains(key) {
                fields.values[key] = value
                fields.keys[key] = keyNode
            } else if let why = elsewhere[key] {
                report(keyNode, "`\(qualified)` \(why)")
            } else if let guess = EditDistance.suggestion(for: key, among: allowed) {
                report(keyNode, "unknown key `\(qualified)`; did you mean `\(fields.qualified(guess))`?")
            } else {
                report(keyNode, "unknown key `\(qualified)`; \(path.isEmpty ? "a policy" : "`\(path)`") takes \(allowed.map { "`\($0)`" }.joined(separator: ", "))")
            }
        }
        return fields
    }

    /// The value of a required entry, or a report at the mapping's holder.
    mutating func required(_ fields: Fields, _ name: String, hint: String = "") -> Node? {
        if let value = fields[name] { return value }
        report(fields.anchor, "missing required key `\(fields.qualified(name))`\(hint)")
        return nil
    }

    mutating func string(_ node: Node, at path: String) -> String? {
        guard case .scalar(let scalar) = node, !Self.isNull(node) else {
            report(node, "`\(path)` must be a text value")
            return nil
        }
        return scalar.string
    }

    mutating func nonEmptyString(_ node: Node, at path: String) -> String? {
        guard let text = string(node, at: path) else { return nil }
        guard !text.trimmingCharacters(in: .whitespaces).isEmpty else {
            report(node, "`\(path)` is empty")
            return nil
        }
        return text
    }

    /// A plain whole number; a quoted "2" is text, as YAML and the schema read it.
    mutating func int(_ node: Node, at path: String, range: ClosedRange<Int>) -> Int? {
        // Decimal digits only: YAML's other integer forms (base 60, hex, `1_000`) are not what
        // anyone means by a count, and Yams' base-60 reader overflows on long input.
        guard case .scalar(let scalar) = node, scalar.style == .plain, Self.isDecimal(scalar.string) else {
            report(node, "`\(path)` must be a whole number, written without quotes")
            return nil
        }
        guard let value = Int(scalar.string) else {
            report(node, "`\(path)` is \(scalar.string); it must be between \(range.lowerBound) and \(range.upperBound)")
            return nil
        }
        guard range.contains(value) else {
            report(node, "`\(path)` is \(value); it must be between \(range.lowerBound) and \(range.upperBound)")
            return nil
        }
        return value
    }

    mutating func bool(_ node: Node, at path: String) -> Bool? {
        guard case .scalar(let scalar) = node, scalar.style == .plain, let value = node.bool else {
            report(node, "`\(path)` must be true or false")
            return nil
        }
        return value
    }

    mutating func duration(_ node: Node, at path: String, range: ClosedRange<TimeSpan>) -> TimeSpan? {
        guard let text = string(node, at: path) else { return nil }
        guard let span = TimeSpan(parsing: text) else {
            report(node, "`\(path)` is `\(text)`, not a duration; write it like 90s, 5m or 72h")
            return nil
        }
        guard range.contains(span) else {
            report(node, "`\(path)` is \(span); it must be between \(range.lowerBound) and \(range.upperBound)")
            return nil
        }
        return span
    }

    /// A list of texts; each entry comes with its node so callers can point at it.
    mutating func list(_ node: Node, at path: String, example: String) -> [(text: String, node: Node)]? {
        guard case .sequence(let sequence) = node else {
            report(node, "`\(path)` must be a list, as in \(example)")
            return nil
        }
        var out: [(String, Node)] = []
        for (index, item) in sequence.enumerated() {
            if let text = nonEmptyString(item, at: "\(path)[\(index)]") { out.append((text, item)) }
        }
        return out
    }

    mutating func strings(_ node: Node, at path: String, example: String) -> [String]? {
        list(node, at: path, example: example)?.map(\.text)
    }

    /// A mapping of names to scalar values (numbers and booleans are kept as written).
    mutating func stringMap(_ node: Node, at path: String, keyRule: (String) -> Bool, keyHint: String) -> [String: (value: String, key: Node, node: Node)]? {
        guard case .mapping(let mapping) = node else {
            report(node, "`\(path)` must be a mapping, as in { NAME: value }")
            return nil
        }
        var out: [String: (String, Node, Node)] = [:]
        for (keyNode, value) in mapping {
            guard let key = keyNode.scalar?.string, keyRule(key) else {
                report(keyNode, "`\(keyNode.scalar?.string ?? "?")` in `\(path)` is not \(keyHint)")
                continue
            }
            guard case .scalar(let scalar) = value, !Self.isNull(value) else {
                report(value, "`\(path).\(key)` must be a single value, not empty, a list or a mapping")
                continue
            }
            out[key] = (scalar.string, keyNode, value)
        }
        return out
    }

    mutating func variables(_ node: Node, at path: String, what: String) -> [String: String]? {
        stringMap(node, at: path, keyRule: VariableName.isValid, keyHint: "\(what) name ([A-Za-z_][A-Za-z0-9_]*)")?
            .mapValues(\.value)
    }
}
