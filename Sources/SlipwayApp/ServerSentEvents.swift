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

    /// `event: KIND`, `id: …`, `data: {json}`, blank line. The data is the API's compact JSON
    /// (keys sorted; line breaks and control characters escaped, so none ends the event early).
    public static func event(_ kind: String, _ data: [String: String], id: String?) -> String {
        // A map of strings holds no number JSON could not: encoding it cannot fail.
        let json = String(decoding: try! CompactJSON.encode(data), as: UTF8.self)
        return "event: \(kind)\n" + (id.map { "id: \($0)\n" } ?? "") + "data: \(json)\n\n"
    }
}
