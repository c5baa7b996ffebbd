import Foundation
import SlipwayCore
import Testing

/// The API's compact JSON says what `JSONEncoder.slipway` says: both parsed, the values are
/// equal, for the shapes the API serves and the Codable corners (a type encoding into its
/// parent's object, nested containers, nil encoded or omitted, maps, escapes, numbers).
struct CompactJSONTests {
    struct Nested: Encodable {
        var name: String
        var optional: String?
        var explicitNil: String?
        var numbers: [Double]
        var map: [String: Int]
        var inner: [[String: String]]
        var flag: Bool
        var small: Int8
        var big: UInt64

        enum CodingKeys: String, CodingKey { case name, optional, explicitNil, numbers, map, inner, flag, small, big, deep, list }
        enum Deep: String, CodingKey { case a, b }

        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(name, forKey: .name)
            try c.encodeIfPresent(optional, forKey: .optional)
            try c.encode(explicitNil, forKey: .explicitNil)
            try c.encode(numbers, forKey: .numbers)
            var deep = c.nestedContainer(keyedBy: Deep.self, forKey: .deep)
            try deep.encode("x", forKey: .a)
            var list = deep.nestedUnkeyedContainer(forKey: .b)
            try list.encode(1)
            try list.encodeNil()
            var deeper = list.nestedContainer(keyedBy: Deep.self)
            try deeper.encode(true, forKey: .a)
            // Back to the outer container: whatever was open inside closes first.
            try c.encode(map, forKey: .map)
            try c.encode(inner, forKey: .inner)
            try c.encode(flag, forKey: .flag)
            try c.encode(small, forKey: .small)
            try c.encode(big, forKey: .big)
            var empty = c.nestedUnkeyedContainer(forKey: .list)
            _ = empty
            empty = c.nestedUnkeyedContainer(forKey: .list)
        }
    }

    struct Nothing: Encodable {
        func encode(to encoder: any Encoder) throws {}
    }

    static let at = Date(timeIntervalSince1970: 1_765_000_000.123)

    static func deployment(_ id: Int64, state: DeploymentState, reason: String? = nil, by: String? = nil) -> ServiceStatus.Deployment {
        ServiceStatus.Deployment(id: id, sha: String(repeating: "a", count: 40), state: state, reason: reason, trigger: .push,
                                 image: "r.example.com/web:1", digest: nil, createdAt: at, updatedAt: at.addingTimeInterval(1.5),
                                 liveAt: state == .succeeded ? at : nil, finishedAt: nil, by: by)
    }

    static func same<T: Encodable>(_ value: T) throws -> (compact: String, equal: Bool) {
        let compact = try CompactJSON.encode(value)
        let foundation = try JSONEncoder.slipway.encode(value)
        let a = try JSONSerialization.jsonObject(with: Data(compact), options: [.fragmentsAllowed]) as! NSObject
        let b = try JSONSerialization.jsonObject(with: foundation, options: [.fragmentsAllowed]) as! NSObject
        return (String(decoding: compact, as: UTF8.self), a.isEqual(b))
    }

    @Test func servicesAsTheAPIListsThem() throws {
        var status = ServiceStatus(service: "web", live: (7, String(repeating: "a", count: 40)), deployments: [
            Self.deployment(8, state: .failed, reason: "exit code 2\n<script>alert(\"x\")</script>\t\u{1B}[31m", by: "ada"),
            Self.deployment(7, state: .succeeded),
        ])
        status.previews = []
        let result = try Self.same([status, ServiceStatus(service: "api", live: nil, deployments: [])])
        #expect(result.equal, "\(result.compact)")
        #expect(!result.compact.contains("\n"), "compact: one line")
        #expect(result.compact.contains(#""by":null"#), "a nil encoded is null, as the contract's `by`")
    }

    @Test func aTypeEncodingIntoItsPartsObject() throws {
        let summary = DeploymentSummary(service: "web", environment: "pr-4", deployment: Self.deployment(3, state: .rolledBack, reason: "crashed"))
        let result = try Self.same([summary, summary])
        #expect(result.equal, "\(result.compact)")
        #expect(result.compact.hasPrefix("[{") && result.compact.hasSuffix("}]") && result.compact.components(separatedBy: "},{").count == 2)
    }

    @Test(arguments: [
        Nested(name: "plain", optional: nil, explicitNil: nil, numbers: [1, 0.25, -3, 1e20, 123456.5], map: ["b": 2, "a": 1, "é": 3],
               inner: [["k": "v/with/slashes"], [:]], flag: false, small: -5, big: .max),
        Nested(name: "ünï \u{0} \u{1F} \u{7F} 🚀 \\ \"", optional: "set", explicitNil: "also", numbers: [], map: [:], inner: [],
               flag: true, small: 0, big: 0),
    ])
    func codableCorners(_ value: Nested) throws {
        let result = try Self.same(value)
        #expect(result.equal, "\(result.compact)")
    }

    class Base: Encodable {
        var base = "b"
        private enum CodingKeys: String, CodingKey { case base }
        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(base, forKey: .base)
        }
    }

    final class Derived: Base {
        var own = 2
        private enum CodingKeys: String, CodingKey { case own }
        override func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(own, forKey: .own)
            try super.encode(to: c.superEncoder())
        }
    }

    /// A class writing its parent's part under "super", its keys having no such case.
    @Test func aSuperclassUnderSuper() throws {
        let result = try Self.same([Derived()])
        #expect(result.equal, "\(result.compact)")
        #expect(result.compact == #"[{"own":2,"super":{"base":"b"}}]"#)
    }

    @Test func mapsAreSortedAndEmptyValuesAreEmptyObjects() throws {
        #expect(String(decoding: try CompactJSON.encode(["b": "2", "a": "1", "c": "3"]), as: UTF8.self) == #"{"a":"1","b":"2","c":"3"}"#)
        #expect(String(decoding: try CompactJSON.encode([Nothing()]), as: UTF8.self) == "[{}]")
        #expect(String(decoding: try CompactJSON.encode(["x": [Int]()]), as: UTF8.self) == #"{"x":[]}"#)
    }

    @Test func numbersJSONCannotHoldAreRefused() {
        #expect(throws: EncodingError.self) { try CompactJSON.encode([Double.nan]) }
        #expect(throws: EncodingError.self) { try CompactJSON.encode(["x": Double.infinity]) }
    }
}

/// Dates as the API and the CLI write them: Foundation's ISO 8601 form, to the nearest
/// millisecond, and what is read back is written the same (a date through the API and the
/// CLI prints as it does from the database).
struct ISO8601FormatTests {
    @Test func writesFoundationsFormAndReadsBackTheSame() throws {
        let style = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
        var generator = SystemRandomNumberGenerator()
        var dates: [Date] = [0, 0.0005, 0.9995, 0.999_999, 951_782_400, 951_868_799.999, 1_765_000_000.123, 4_102_444_800.5, 253_402_300_799.999]
            .map { Date(timeIntervalSince1970: $0) }
        dates += (0..<20_000).map { _ in Date(timeIntervalSince1970: Double.random(in: 0..<4_102_444_800, using: &generator)) }
        // Postgres keeps microseconds.
        dates += (0..<20_000).map { _ in Date(timeIntervalSince1970: Double(Int64.random(in: 0..<4_102_444_800_000_000, using: &generator)) / 1_000_000) }
        for date in dates {
            let text = ISO8601.format(date)
            let back = try #require(ISO8601.parse(text), "\(text)")
            guard ISO8601.format(back) == text, abs(back.timeIntervalSince(date)) <= 0.0005 + 1e-6,
                  let foundation = try? style.parse(date.formatted(style)), abs(foundation.timeIntervalSince(back)) < 0.0015 else {
                Issue.record("\(date.timeIntervalSince1970): \(text), read back \(ISO8601.parse(text).map(ISO8601.format) ?? "-"), Foundation \(date.formatted(style))")
                return
            }
        }
        #expect(ISO8601.format(Date(timeIntervalSince1970: 1_765_000_000.125)) == "2025-12-06T05:46:40.125Z")
        #expect(ISO8601.format(Date(timeIntervalSince1970: 1_765_000_000.9996)) == "2025-12-06T05:46:41.000Z")
        #expect(ISO8601.format(Date(timeIntervalSince1970: 951_782_400)) == "2000-02-29T00:00:00.000Z")
    }
}
