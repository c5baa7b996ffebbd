/// Just enough of the protobuf wire format to read BuildKit's progress messages:
/// varints, length-delimited fields, and skipping the rest.
struct ProtobufReader {
    enum WireType: UInt64 { case varint = 0, fixed64 = 1, lengthDelimited = 2, fixed32 = 5 }

    struct Malformed: Error {}

    private let bytes: [UInt8]
    private var index: Int

    init(_ bytes: [UInt8]) {
        self.bytes = bytes
        self.index = 0
    }

    init(_ slice: ArraySlice<UInt8>) { self.init(Array(slice)) }

    var isAtEnd: Bool { index >= bytes.count }

    /// The next field number and wire type.
    mutating func nextField() throws -> (number: Int, type: WireType) {
        let key = try varint()
        guard let type = WireType(rawValue: key & 7) else { throw Malformed() }
        return (Int(key >> 3), type)
    }

    mutating func varint() throws -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while index < bytes.count {
            let byte = bytes[index]
            index += 1
            result |= UInt64(byte & 0x7f) << shift
            if byte & 0x80 == 0 { return result }
            shift += 7
            if shift >= 64 { throw Malformed() }
        }
        throw Malformed()
    }

    mutating func lengthDelimited() throws -> ArraySlice<UInt8> {
        // A length past Int's range (a varint may say up to 2^64 - 1) or past the message is malformed, not a trap.
        guard let length = Int(exactly: try varint()), length <= bytes.count - index else { throw Malformed() }
        defer { index += length }
        return bytes[index..<(index + length)]
    }

    mutating func string() throws -> String {
        String(decoding: try lengthDelimited(), as: UTF8.self)
    }

    mutating func skip(_ type: WireType) throws {
        switch type {
        case .varint: _ = try varint()
        case .fixed64: try advance(8)
        case .fixed32: try advance(4)
        case .lengthDelimited: _ = try lengthDelimited()
        }
    }

    private mutating func advance(_ n: Int) throws {
        guard n <= bytes.count - index else { throw Malformed() }
        index += n
    }
}
