import Foundation
import SlipwayCore

/// A deployment as server-sent events: `log` (a build or runtime line), `step` (a build step
/// started, cached, done, failed, with its duration), `state` and the other events of its
/// life (crash, rollback, …), then `end` with the outcome. The wire format of the API's and
/// the dashboard's streams, here so a shared feed renders each batch once for all its followers.
public enum ServerSentEvents {
    /// A batch of items, one event each, in order.
    public static func text(_ items: [DeploymentFollower.Item]) -> String {
        items.map(text).joined()
    }

    public static func text(_ item: DeploymentFollower.Item) -> String {
        switch item {
        case .log(let line):
            return event("log", ["stream": line.stream, "line": line.line, "at": ISO8601.format(line.at)], id: "log-\(line.id)")
        case .event(let event):
            var data = event.detail
            data["message"] = event.message
            data["at"] = ISO8601.format(event.at)
            return Self.event(event.kind, data, id: "event-\(event.id)")
        case .quiet(let state):
            return ": still \(state.rawValue)\n\n"
        case .done(let record):
            var data = ["state": record.state.rawValue]
            data["reason"] = record.reason
            return event("end", data, id: nil)
        }
    }

    /// `event: KIND`, `id: …`, `data: {json}`, blank line.
    public static func event(_ kind: String, _ data: [String: String], id: String?) -> String {
        let json = "{" + data.sorted { $0.key < $1.key }.map { quoted($0.key) + ":" + quoted($0.value) }.joined(separator: ",") + "}"
        return "event: \(kind)\n" + (id.map { "id: \($0)\n" } ?? "") + "data: \(json)\n\n"
    }

    /// A JSON string: quotes, backslashes and control characters escaped (a line break in
    /// the data would end the event). Written out rather than through JSONSerialization,
    /// which costs more than the rest of a stream's work.
    public static func quoted(_ text: String) -> String {
        var out = "\""
        out.reserveCapacity(text.utf8.count + 2)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{2028}": out += "\\u2028"
            case "\u{2029}": out += "\\u2029"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}
