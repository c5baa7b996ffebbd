import Foundation

/// The parts of railpack.json (or RAILPACK_CONFIG_FILE) that shape the plan.
struct RailpackConfig: Sendable {
    var provider: String?
    var startCommand: String?
    var installCommands: [String]?
    var buildCommands: [String]?
    var packages: [String: String] = [:]

    static let spliceMarker = "..."

    init() {}

    init(json: [String: Any]) {
        provider = json["provider"] as? String
        startCommand = (json["deploy"] as? [String: Any])?["startCommand"] as? String
        let steps = json["steps"] as? [String: Any]
        installCommands = Self.commands((steps?["install"] as? [String: Any])?["commands"])
        buildCommands = Self.commands((steps?["build"] as? [String: Any])?["commands"])
        for (tool, version) in json["packages"] as? [String: Any] ?? [:] {
            if let version = version as? String { packages[tool] = version }
        }
    }

    /// Shell commands of a step's command list: `RUN:x` and plain strings run, `COPY:`/`PATH:`/`FILE:`
    /// are file operations, objects with `cmd` run; `...` stays as the splice marker.
    static func commands(_ value: Any?) -> [String]? {
        guard let list = value as? [Any] else { return nil }
        return list.compactMap { item in
            if let text = item as? String {
                if text == spliceMarker { return text }
                if text.hasPrefix("RUN:") { return String(text.dropFirst(4)).trimmingCharacters(in: .whitespaces) }
                if ["COPY:", "PATH:", "FILE:"].contains(where: { text.hasPrefix($0) }) { return nil }
                return text
            }
            return (item as? [String: Any])?["cmd"] as? String
        }
    }

    /// `list` with `...` replaced by `generated`; without it, `list` replaces `generated`.
    static func splice(_ list: [String], into generated: [String]) -> [String] {
        guard list.contains(spliceMarker) else { return list }
        return list.flatMap { $0 == spliceMarker ? generated : [$0] }
    }
}
