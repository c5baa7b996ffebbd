import Foundation

/// JSON for the API's responses, written straight into bytes as `encode(to:)` runs: no
/// intermediate tree, no key sorting. Foundation's `JSONEncoder` spent more than half of a
/// service list's time building and sorting that tree. Same values as `JSONEncoder.slipway`
/// (ISO 8601 dates, unescaped slashes, `null` for an encoded nil, omitted keys for
/// `encodeIfPresent`), compact, keys in the order a type encodes them; a dictionary's keys sorted.
public enum CompactJSON {
    public static func encode<T: Encodable>(_ value: T) throws -> [UInt8] {
        let writer = Writer()
        try writer.value(value, depth: 0, codingPath: [])
        writer.close(to: 0)
        return writer.bytes
    }
}

extension CompactJSON {
    /// The output and the containers still open, innermost last. A container closes when
    /// something is written to one outside it, or when the value that opened it is done.
    final class Writer {
        // One writer per encode, used by one thread: the per-append exclusivity check is pure cost.
        @exclusivity(unchecked) var bytes: [UInt8] = []
        /// Per open container: whether it is an object, and how many members it has so far.
        @exclusivity(unchecked) var open: [(object: Bool, count: Int)] = []

        init() { bytes.reserveCapacity(4096) }

        func close(to depth: Int) {
            while open.count > depth {
                bytes.append(open.removeLast().object ? UInt8(ascii: "}") : UInt8(ascii: "]"))
            }
        }

        /// Starts a member of the container at `depth` (its index + 1): closes deeper ones, writes the comma.
        func member(of depth: Int) {
            close(to: depth)
            if open[depth - 1].count > 0 { bytes.append(UInt8(ascii: ",")) }
            open[depth - 1].count += 1
        }

        func key(_ key: String) {
            string(key)
            bytes.append(UInt8(ascii: ":"))
        }

        func begin(object: Bool) {
            bytes.append(object ? UInt8(ascii: "{") : UInt8(ascii: "["))
            open.append((object, 0))
        }

        func raw(_ text: String) { bytes.append(contentsOf: text.utf8) }

        func string(_ text: String) {
            var text = text
            // Most strings need no escape: one append (each append to the buffer costs an access check).
            let plain = text.withUTF8 { utf8 -> Bool in
                for byte in utf8 where byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") { return false }
                bytes.append(UInt8(ascii: "\""))
                bytes.append(contentsOf: utf8)
                bytes.append(UInt8(ascii: "\""))
                return true
            }
            if plain { return }
            var out: [UInt8] = [UInt8(ascii: "\"")]
            out.reserveCapacity(text.utf8.count + 16)
            for byte in text.utf8 {
                switch byte {
                case UInt8(ascii: "\""): out += [UInt8(ascii: "\\"), UInt8(ascii: "\"")]
                case UInt8(ascii: "\\"): out += [UInt8(ascii: "\\"), UInt8(ascii: "\\")]
                case UInt8(ascii: "\n"): out += [UInt8(ascii: "\\"), UInt8(ascii: "n")]
                case UInt8(ascii: "\r"): out += [UInt8(ascii: "\\"), UInt8(ascii: "r")]
                case UInt8(ascii: "\t"): out += [UInt8(ascii: "\\"), UInt8(ascii: "t")]
                case 0..<0x20:
                    let hex = String(byte, radix: 16)
                    out += Array(("\\u" + String(repeating: "0", count: 4 - hex.count) + hex).utf8)
                default: out.append(byte)
                }
            }
            out.append(UInt8(ascii: "\""))
            bytes.append(contentsOf: out)
        }

        func double(_ value: Double, codingPath: @autoclosure () -> [any CodingKey]) throws {
            guard value.isFinite else {
                throw EncodingError.invalidValue(value, .init(codingPath: codingPath(), debugDescription: "\(value) is not a JSON number"))
            }
            // As Foundation writes them: 12 for 12.0, 0.25 for 0.25.
            if value == value.rounded(), abs(value) < 1e15 { raw(String(Int64(value))) } else { raw("\(value)") }
        }

        /// Writes `value` at a slot already opened (the key or comma written).
        func value<T: Encodable>(_ value: T, depth: Int, codingPath: @autoclosure () -> [any CodingKey]) throws {
            // Type comparisons first: cheaper than a cast per value, and most values are these.
            if T.self == String.self { return string(value as! String) }
            if T.self == Int64.self { return raw(String(value as! Int64)) }
            if T.self == Date.self { return string(ISO8601.format(value as! Date)) }
            if T.self == Int.self { return raw(String(value as! Int)) }
            if T.self == Bool.self { return raw(value as! Bool ? "true" : "false") }
            // The optionals of the contracts, without an encoder per value.
            if T.self == String?.self { return (value as! String?).map(string) ?? raw("null") }
            if T.self == Date?.self { return (value as! Date?).map { string(ISO8601.format($0)) } ?? raw("null") }
            if T.self == Int64?.self { return (value as! Int64?).map { raw(String($0)) } ?? raw("null") }
            if T.self == Double.self { return try double(value as! Double, codingPath: codingPath()) }
            // Casts only for what may need them; a struct or an enum goes straight to its encode(to:).
            guard T.self is any StringKeyedMap.Type || T.self is any BinaryInteger.Type || T.self == Float.self || T.self == URL.self else {
                return try encoded(value, depth: depth, codingPath: codingPath())
            }
            switch value {
            case let number as any BinaryInteger: raw("\(number)")
            case let number as Float: try double(Double(number), codingPath: codingPath())
            case let url as URL: string(url.absoluteString)
            case let dictionary as [String: any Encodable]:
                // Sorted, as the CLI's JSON has them: a map's order should not change between calls.
                begin(object: true)
                let inner = open.count
                for (key, member) in dictionary.sorted(by: { $0.key < $1.key }) {
                    self.member(of: inner)
                    self.key(key)
                    try self.value(member, depth: inner, codingPath: codingPath() + [AnyKey(key)])
                }
                close(to: depth)
            default:
                try encoded(value, depth: depth, codingPath: codingPath())
            }
        }

        /// A value through its own `encode(to:)`.
        private func encoded<T: Encodable>(_ value: T, depth: Int, codingPath: [any CodingKey]) throws {
            let start = bytes.count
            let encoder = SlotEncoder(writer: self, depth: depth, codingPath: codingPath)
            try value.encode(to: encoder)
            close(to: depth)
            // A value that encoded nothing is an empty object, as with Foundation.
            if bytes.count == start { raw("{}") }
        }
    }

    /// A map JSON writes as an object, keys sorted.
    protocol StringKeyedMap {}

    struct AnyKey: CodingKey {
        var stringValue: String
        var intValue: Int?
        init(_ string: String) { stringValue = string }
        init?(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { stringValue = "\(intValue)"; self.intValue = intValue }
    }

    /// The encoder for one value's slot; its container lives at `depth + 1`.
    final class SlotEncoder: Encoder {
        let writer: Writer
        let depth: Int
        let codingPath: [any CodingKey]
        var userInfo: [CodingUserInfoKey: Any] { [:] }
        /// Whether this slot opened a container (asking again, as a type encoding its parts does, reuses it).
        var opened: Bool?

        init(writer: Writer, depth: Int, codingPath: [any CodingKey]) {
            self.writer = writer
            self.depth = depth
            self.codingPath = codingPath
        }

        private func openContainer(object: Bool) {
            if opened == object, writer.open.count > depth {
                writer.close(to: depth + 1)
                return
            }
            writer.close(to: depth)
            writer.begin(object: object)
            opened = object
        }

        func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
            openContainer(object: true)
            return KeyedEncodingContainer(Keyed<Key>(writer: writer, depth: depth + 1, codingPath: codingPath))
        }

        func unkeyedContainer() -> any UnkeyedEncodingContainer {
            openContainer(object: false)
            return Unkeyed(writer: writer, depth: depth + 1, codingPath: codingPath)
        }

        func singleValueContainer() -> any SingleValueEncodingContainer {
            Single(writer: writer, depth: depth, codingPath: codingPath)
        }
    }

    struct Keyed<Key: CodingKey>: KeyedEncodingContainerProtocol {
        let writer: Writer
        let depth: Int
        let codingPath: [any CodingKey]

        mutating func encodeNil(forKey key: Key) throws {
            writer.member(of: depth)
            writer.key(key.stringValue)
            writer.raw("null")
        }

        mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
            writer.member(of: depth)
            writer.key(key.stringValue)
            try writer.value(value, depth: depth, codingPath: codingPath + [key])
        }

        mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key) -> KeyedEncodingContainer<NestedKey> {
            writer.member(of: depth)
            writer.key(key.stringValue)
            writer.begin(object: true)
            return KeyedEncodingContainer(Keyed<NestedKey>(writer: writer, depth: depth + 1, codingPath: codingPath + [key]))
        }

        mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
            writer.member(of: depth)
            writer.key(key.stringValue)
            writer.begin(object: false)
            return Unkeyed(writer: writer, depth: depth + 1, codingPath: codingPath + [key])
        }

        /// The parent's part under `"super"`, as Foundation writes it (a `Key` may have no such case).
        mutating func superEncoder() -> any Encoder { superEncoder(named: "super") }

        mutating func superEncoder(forKey key: Key) -> any Encoder { superEncoder(named: key.stringValue) }

        private mutating func superEncoder(named name: String) -> any Encoder {
            writer.member(of: depth)
            writer.key(name)
            return SlotEncoder(writer: writer, depth: depth, codingPath: codingPath + [AnyKey(name)])
        }
    }

    struct Unkeyed: UnkeyedEncodingContainer {
        let writer: Writer
        let depth: Int
        let codingPath: [any CodingKey]
        var count: Int { writer.open.count >= depth ? writer.open[depth - 1].count : 0 }

        mutating func encodeNil() throws {
            writer.member(of: depth)
            writer.raw("null")
        }

        mutating func encode<T: Encodable>(_ value: T) throws {
            writer.member(of: depth)
            try writer.value(value, depth: depth, codingPath: codingPath + [AnyKey("\(count - 1)")])
        }

        mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
            writer.member(of: depth)
            writer.begin(object: true)
            return KeyedEncodingContainer(Keyed<NestedKey>(writer: writer, depth: depth + 1, codingPath: codingPath))
        }

        mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
            writer.member(of: depth)
            writer.begin(object: false)
            return Unkeyed(writer: writer, depth: depth + 1, codingPath: codingPath)
        }

        mutating func superEncoder() -> any Encoder {
            writer.member(of: depth)
            return SlotEncoder(writer: writer, depth: depth, codingPath: codingPath)
        }
    }

    /// One value at the slot its parent opened.
    struct Single: SingleValueEncodingContainer {
        let writer: Writer
        let depth: Int
        let codingPath: [any CodingKey]

        mutating func encodeNil() throws { writer.raw("null") }
        mutating func encode<T: Encodable>(_ value: T) throws { try writer.value(value, depth: depth, codingPath: codingPath) }
        mutating func encode(_ value: Bool) throws { writer.raw(value ? "true" : "false") }
        mutating func encode(_ value: String) throws { writer.string(value) }
        mutating func encode(_ value: Double) throws { try writer.double(value, codingPath: codingPath) }
        mutating func encode(_ value: Float) throws { try writer.double(Double(value), codingPath: codingPath) }
        mutating func encode(_ value: Int) throws { writer.raw(String(value)) }
        mutating func encode(_ value: Int8) throws { writer.raw(String(value)) }
        mutating func encode(_ value: Int16) throws { writer.raw(String(value)) }
        mutating func encode(_ value: Int32) throws { writer.raw(String(value)) }
        mutating func encode(_ value: Int64) throws { writer.raw(String(value)) }
        mutating func encode(_ value: UInt) throws { writer.raw(String(value)) }
        mutating func encode(_ value: UInt8) throws { writer.raw(String(value)) }
        mutating func encode(_ value: UInt16) throws { writer.raw(String(value)) }
        mutating func encode(_ value: UInt32) throws { writer.raw(String(value)) }
        mutating func encode(_ value: UInt64) throws { writer.raw(String(value)) }
    }
}

extension Dictionary: CompactJSON.StringKeyedMap where Key == String, Value: Encodable {}
