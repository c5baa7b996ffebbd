import Foundation

/// BuildKit's `StatusResponse` (moby/buildkit control.proto), the parts a build log needs.
struct BuildKitStatus: Sendable, Hashable {
    struct Vertex: Sendable, Hashable {
        var digest: String
        var name: String
        var cached: Bool
        var started: Date?
        var completed: Date?
        var error: String
    }

    struct Log: Sendable, Hashable {
        var vertex: String
        var stream: Int
        var message: [UInt8]
    }

    var vertexes: [Vertex] = []
    var logs: [Log] = []

    init(vertexes: [Vertex], logs: [Log]) {
        self.vertexes = vertexes
        self.logs = logs
    }

    /// One line of `buildctl --progress rawjson`: BuildKit's client.SolveStatus as JSON
    /// (`vertexes`, `statuses`, `logs`, `warnings`; times RFC 3339, log data base64).
    init(rawJSON line: Data) throws {
        guard let object = (try? JSONSerialization.jsonObject(with: line)) as? [String: Any] else { throw ProtobufReader.Malformed() }
        func date(_ value: Any?) -> Date? {
            guard let text = value as? String else { return nil }
            return RFC3339.parse(text)
        }
        vertexes = (object["vertexes"] as? [[String: Any]] ?? []).map { v in
            Vertex(digest: v["digest"] as? String ?? "", name: v["name"] as? String ?? "", cached: v["cached"] as? Bool ?? false,
                   started: date(v["started"]), completed: date(v["completed"]), error: v["error"] as? String ?? "")
        }
        logs = (object["logs"] as? [[String: Any]] ?? []).map { l in
            Log(vertex: l["vertex"] as? String ?? "", stream: l["stream"] as? Int ?? 1,
                message: Array(Data(base64Encoded: l["data"] as? String ?? "") ?? Data()))
        }
    }

    /// Decodes the base64 `aux` of a `moby.buildkit.trace` line.
    init(base64: String) throws {
        guard let data = Data(base64Encoded: base64) else { throw ProtobufReader.Malformed() }
        try self.init(bytes: Array(data))
    }

    init(bytes: [UInt8]) throws {
        var reader = ProtobufReader(bytes)
        while !reader.isAtEnd {
            let (number, type) = try reader.nextField()
            switch (number, type) {
            case (1, .lengthDelimited): vertexes.append(try Self.vertex(reader.lengthDelimited()))
            case (3, .lengthDelimited): logs.append(try Self.log(reader.lengthDelimited()))
            default: try reader.skip(type)
            }
        }
    }

    private static func vertex(_ bytes: ArraySlice<UInt8>) throws -> Vertex {
        var reader = ProtobufReader(bytes)
        var vertex = Vertex(digest: "", name: "", cached: false, started: nil, completed: nil, error: "")
        while !reader.isAtEnd {
            let (number, type) = try reader.nextField()
            switch (number, type) {
            case (1, .lengthDelimited): vertex.digest = try reader.string()
            case (3, .lengthDelimited): vertex.name = try reader.string()
            case (4, .varint): vertex.cached = try reader.varint() != 0
            case (5, .lengthDelimited): vertex.started = try timestamp(reader.lengthDelimited())
            case (6, .lengthDelimited): vertex.completed = try timestamp(reader.lengthDelimited())
            case (7, .lengthDelimited): vertex.error = try reader.string()
            default: try reader.skip(type)
            }
        }
        return vertex
    }

    private static func log(_ bytes: ArraySlice<UInt8>) throws -> Log {
        var reader = ProtobufReader(bytes)
        var log = Log(vertex: "", stream: 1, message: [])
        while !reader.isAtEnd {
            let (number, type) = try reader.nextField()
            switch (number, type) {
            case (1, .lengthDelimited): log.vertex = try reader.string()
            case (3, .varint): log.stream = Int(truncatingIfNeeded: try reader.varint())
            case (4, .lengthDelimited): log.message = Array(try reader.lengthDelimited())
            default: try reader.skip(type)
            }
        }
        return log
    }

    /// google.protobuf.Timestamp
    private static func timestamp(_ bytes: ArraySlice<UInt8>) throws -> Date {
        var reader = ProtobufReader(bytes)
        var seconds: Int64 = 0
        var nanos: Int64 = 0
        while !reader.isAtEnd {
            let (number, type) = try reader.nextField()
            switch (number, type) {
            case (1, .varint): seconds = Int64(bitPattern: try reader.varint())
            case (2, .varint): nanos = Int64(bitPattern: try reader.varint())
            default: try reader.skip(type)
            }
        }
        return Date(timeIntervalSince1970: Double(seconds) + Double(nanos) / 1e9)
    }
}

/// RFC 3339 times as Go writes them: fractional seconds of any length (nanoseconds), `Z` or an offset.
enum RFC3339 {
    static func parse(_ text: String) -> Date? {
        // ISO8601DateFormatter takes at most milliseconds: cut the fraction to three digits.
        var trimmed = text
        if let dot = text.firstIndex(of: "."), let end = text[dot...].firstIndex(where: { $0 == "Z" || $0 == "+" || $0 == "-" }) {
            let digits = text[text.index(after: dot)..<end]
            trimmed = String(text[..<dot]) + "." + String((digits + "000").prefix(3)) + String(text[end...])
        }
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = trimmed.contains(".") ? [.withInternetDateTime, .withFractionalSeconds] : [.withInternetDateTime]
        return formatter.date(from: trimmed)
    }
}
