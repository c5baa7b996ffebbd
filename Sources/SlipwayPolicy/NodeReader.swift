import SlipwayCore
import Yams

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

    /// The entries of a mapping by key; unknown keys are reported with a suggestion.
    /// `elsewhere` names keys that exist in the format but do not belong here, with why.
    mutating func mapping(_ node: Node, at path: String, allowed: [String],
                          elsewhere: [String: String] = [:]) -> [String: Node]? {
        guard case .mapping(let mapping) = node else {
            report(node, "`\(path)` must be a mapping of keys to values")
            return nil
        }
        var entries: [String: Node] = [:]
        for (keyNode, value) in mapping {
            guard let key = keyNode.scalar?.string else {
                report(keyNode, "keys in `\(path)` must be plain words")
                continue
            }
            let qualified = path.isEmpty ? key : "\(path).\(key)"
            if allowed.contains(key) {
                entries[key] = value
            } else if let why = elsewhere[key] {
                report(keyNode, "`\(qualified)` \(why)")
            } else if let guess = EditDistance.suggestion(for: key, among: allowed) {
                report(keyNode, "unknown key `\(qualified)`; did you mean `\(guess)`?")
            } else {
                report(keyNode, "unknown key `\(qualified)`; \(path.isEmpty ? "a policy" : "`\(path)`") takes \(allowed.map { "`\($0)`" }.joined(separator: ", "))")
            }
        }
        return entries
    }

    mutating func string(_ node: Node, at path: String) -> String? {
        guard case .scalar(let scalar) = node, node.null == nil || scalar.style != .plain else {
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

    mutating func int(_ node: Node, at path: String, range: ClosedRange<Int>) -> Int? {
        guard case .scalar = node, let value = node.int else {
            report(node, "`\(path)` must be a whole number")
            return nil
        }
        guard range.contains(value) else {
            report(node, "`\(path)` is \(value); it must be between \(range.lowerBound) and \(range.upperBound)")
            return nil
        }
        return value
    }

    mutating func bool(_ node: Node, at path: String) -> Bool? {
        guard case .scalar = node, let value = node.bool else {
            report(node, "`\(path)` must be true or false")
            return nil
        }
        return value
    }

    mutating func duration(_ node: Node, at path: String, minimum: TimeSpan = TimeSpan(milliseconds: 1)) -> TimeSpan? {
        guard let text = string(node, at: path) else { return nil }
        guard let span = TimeSpan(parsing: text) else {
            report(node, "`\(path)` is `\(text)`, not a duration; write it like 90s, 5m or 72h")
            return nil
        }
        guard span >= minimum else {
            report(node, "`\(path)` is \(span); it must be at least \(minimum)")
            return nil
        }
        return span
    }

    mutating func strings(_ node: Node, at path: String) -> [String]? {
        guard case .sequence(let sequence) = node else {
            report(node, "`\(path)` must be a list, as in [\"services/web/**\"]")
            return nil
        }
        var out: [String] = []
        for (index, item) in sequence.enumerated() {
            if let text = nonEmptyString(item, at: "\(path)[\(index)]") { out.append(text) }
        }
        return out
    }

    /// A mapping of names to scalar values (numbers and booleans are kept as written).
    mutating func stringMap(_ node: Node, at path: String, keyRule: (String) -> Bool, keyHint: String) -> [String: String]? {
        guard case .mapping(let mapping) = node else {
            report(node, "`\(path)` must be a mapping, as in { NAME: value }")
            return nil
        }
        var out: [String: String] = [:]
        for (keyNode, value) in mapping {
            guard let key = keyNode.scalar?.string, keyRule(key) else {
                report(keyNode, "`\(keyNode.scalar?.string ?? "?")` in `\(path)` is not \(keyHint)")
                continue
            }
            guard case .scalar(let scalar) = value else {
                report(value, "`\(path).\(key)` must be a single value, not a list or mapping")
                continue
            }
            out[key] = scalar.string
        }
        return out
    }
}

import Foundation
