import Foundation

/// A JSON document with `"{{name}}"` placeholders (the ECS templates of `manifests/ecs`).
/// A string that is exactly one placeholder takes the value whole (a number, a list, an
/// object); a value that is absent removes its key or list element, so optional settings
/// leave no trace. Placeholders inside longer strings are replaced as text.
public struct JSONTemplate: Sendable {
    public struct Problem: Error, Sendable, CustomStringConvertible {
        public var description: String
    }

    let root: JSONValue

    public init(_ text: String) throws(Problem) {
        do {
            root = try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
        } catch {
            throw Problem(description: "the template is not JSON: \(error)")
        }
    }

    /// Every placeholder name the template uses.
    public var names: Set<String> { root.placeholders }

    /// Fills the template. A name the template uses but `values` lacks counts as absent;
    /// `required` names must be given, or rendering fails.
    public func render(_ values: [String: JSONValue], required: Set<String> = []) throws(Problem) -> JSONValue {
        if let missing = required.subtracting(values.keys).sorted().first {
            throw Problem(description: "the template needs a value for {{\(missing)}}")
        }
        return root.filled(values) ?? .object([:])
    }
}

/// JSON as a Sendable value, so rendered documents can be passed around and compared.
public indirect enum JSONValue: Sendable, Hashable, Decodable {
    case string(String)
    case number(Double)
    case bool(Bool)
    case array([JSONValue])
    case object([String: JSONValue])
    case null

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() { self = .null }
        else if let value = try? container.decode(Bool.self) { self = .bool(value) }
        else if let value = try? container.decode(Double.self) { self = .number(value) }
        else if let value = try? container.decode(String.self) { self = .string(value) }
        else if let value = try? container.decode([JSONValue].self) { self = .array(value) }
        else { self = .object(try container.decode([String: JSONValue].self)) }
    }

    /// For JSONSerialization (requests) and comparisons with decoded answers.
    public var any: Any {
        switch self {
        case .string(let value): value
        case .number(let value): value.rounded() == value && abs(value) < 1e15 ? Int(value) as Any : value
        case .bool(let value): value
        case .array(let values): values.map(\.any)
        case .object(let map): map.mapValues(\.any)
        case .null: NSNull()
        }
    }

    public subscript(key: String) -> JSONValue? {
        if case .object(let map) = self { return map[key] }
        return nil
    }

    static func placeholder(_ text: String) -> String? {
        guard text.hasPrefix("{{"), text.hasSuffix("}}"), text.count > 4 else { return nil }
        let name = String(text.dropFirst(2).dropLast(2))
        return name.contains("{") || name.contains("}") ? nil : name
    }

    var placeholders: Set<String> {
        switch self {
        case .string(let text):
            var names: Set<String> = []
            var rest = Substring(text)
            while let open = rest.range(of: "{{"), let close = rest.range(of: "}}", range: open.upperBound..<rest.endIndex) {
                names.insert(String(rest[open.upperBound..<close.lowerBound]))
                rest = rest[close.upperBound...]
            }
            return names
        case .array(let values): return values.reduce(into: []) { $0.formUnion($1.placeholders) }
        case .object(let map): return map.values.reduce(into: []) { $0.formUnion($1.placeholders) }
        default: return []
        }
    }

    /// nil: absent (the key or element goes).
    func filled(_ values: [String: JSONValue]) -> JSONValue? {
        switch self {
        case .string(let text):
            if let name = Self.placeholder(text) {
                guard let value = values[name], value != .null else { return nil }
                return value
            }
            var out = text
            for name in placeholders {
                guard case .string(let value)? = values[name] else { continue }
                out = out.replacingOccurrences(of: "{{\(name)}}", with: value)
            }
            return .string(out)
        case .array(let elements): return .array(elements.compactMap { $0.filled(values) })
        case .object(let map): return .object(map.compactMapValues { $0.filled(values) })
        default: return self
        }
    }
}
