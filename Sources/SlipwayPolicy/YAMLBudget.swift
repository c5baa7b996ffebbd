import Yams

/// How much YAML a policy document may expand to. Anchors and aliases are shared when
/// composed, so 435 bytes can stand for billions of nodes; walking (or printing) such a
/// document would take the controller down. A policy needs a few hundred nodes.
enum YAMLBudget {
    static let maxNodes = 100_000
    static let maxDepth = 64

    /// Why the document is refused; nil when it is within the budget. Stops counting at the limit.
    static func problem(_ document: Node) -> String? {
        var count = 0
        var deepest = false
        func walk(_ node: Node, depth: Int) -> Bool {
            count += 1
            guard count <= maxNodes else { return false }
            guard depth <= maxDepth else { deepest = true; return false }
            switch node {
            case .scalar, .alias: return true
            case .mapping(let mapping):
                for (key, value) in mapping where !walk(key, depth: depth + 1) || !walk(value, depth: depth + 1) { return false }
                return true
            case .sequence(let sequence):
                for item in sequence where !walk(item, depth: depth + 1) { return false }
                return true
            }
        }
        guard !walk(document, depth: 0) else { return nil }
        return deepest
            ? "the document nests deeper than \(maxDepth) levels; a policy needs a few"
            : "the document expands to over \(maxNodes) YAML values (anchors and aliases count each time they are used); write the values out"
    }
}
