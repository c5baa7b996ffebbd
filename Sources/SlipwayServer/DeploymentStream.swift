import Foundation
import SlipwayApp
import SlipwayCore

/// A deployment as server-sent events: `log` (a build or runtime line), `step` (a build step
/// started, cached, done, failed, with its duration), `state` and the other events of its
/// life (crash, rollback, …), then `end` with the outcome. What to send comes from the
/// one `DeploymentFollower`; this only writes it in the event-stream format.
struct DeploymentStream: Sendable {
    let follower: DeploymentFollower
    /// A comment this often keeps proxies from closing a quiet stream.
    var keepAlive: Duration = .seconds(15)

    func run(_ send: (String) async throws -> Void) async throws {
        try await follower.run(quietAfter: keepAlive) { item in
            switch item {
            case .log(let line):
                try await send(Self.event("log", ["stream": line.stream, "line": line.line, "at": ISO8601.format(line.at)], id: "log-\(line.id)"))
            case .event(let event):
                var data = event.detail
                data["message"] = event.message
                data["at"] = ISO8601.format(event.at)
                try await send(Self.event(event.kind, data, id: "event-\(event.id)"))
            case .quiet(let state):
                try await send(": still \(state.rawValue)\n\n")
            case .done(let record):
                var data = ["state": record.state.rawValue]
                data["reason"] = record.reason
                try await send(Self.event("end", data, id: nil))
            }
        }
    }

    /// `event: KIND`, `id: …`, `data: {json}`, blank line.
    static func event(_ kind: String, _ data: [String: String], id: String?) -> String {
        let json = (try? JSONSerialization.data(withJSONObject: data, options: [.sortedKeys, .withoutEscapingSlashes])).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
        return "event: \(kind)\n" + (id.map { "id: \($0)\n" } ?? "") + "data: \(json)\n\n"
    }
}
