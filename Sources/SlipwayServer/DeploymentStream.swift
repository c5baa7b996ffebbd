import Foundation
import SlipwayCore
import SlipwayStore

/// A deployment as it happens, as server-sent events: `log` (a build or runtime line),
/// `step` (a build step started, cached, done, failed, with its duration), `state` and the
/// other events of its life (crash, rollback, …), then `end` with the outcome. Everything
/// recorded before the reader came is sent first, so a late reader misses nothing.
struct DeploymentStream: Sendable {
    let store: Store
    let deploymentID: Int64
    var interval: Duration = .milliseconds(250)
    /// A comment this often keeps proxies from closing a quiet stream.
    var keepAlive: Duration = .seconds(15)

    func run(_ send: (String) async throws -> Void) async throws {
        var afterLog: Int64 = 0
        var afterEvent: Int64 = 0
        var quietSince = ContinuousClock.now
        while !Task.isCancelled {
            // The state first: whatever it says, the lines and events before it are sent before `end`.
            let record = try await store.deployment(deploymentID).record
            // Lines and events interleaved as they happened.
            var batch: [(at: Date, order: Int, text: String)] = []
            // Page by page: a deployment that ended sends every line before `end`, however many.
            while true {
                let page = try await store.logs(deploymentID, after: afterLog, limit: Self.page)
                for line in page {
                    batch.append((line.at, batch.count, Self.event("log", ["stream": line.stream, "line": line.line, "at": ISO8601.format(line.at)],
                                                                  id: "log-\(line.id)")))
                    afterLog = line.id
                }
                if page.count < Self.page { break }
            }
            for event in try await store.events(deploymentID, after: afterEvent) {
                var data = event.detail
                data["message"] = event.message
                data["at"] = ISO8601.format(event.at)
                batch.append((event.at, batch.count, Self.event(event.kind, data, id: "event-\(event.id)")))
                afterEvent = event.id
            }
            for item in batch.sorted(by: { ($0.at, $0.order) < ($1.at, $1.order) }) { try await send(item.text) }
            let sent = !batch.isEmpty
            if record.state.isFinal {
                var data = ["state": record.state.rawValue]
                data["reason"] = record.reason
                try await send(Self.event("end", data, id: nil))
                return
            }
            if sent {
                quietSince = .now
            } else if ContinuousClock.now - quietSince >= keepAlive {
                try await send(": still \(record.state.rawValue)\n\n")
                quietSince = .now
            }
            try await Task.sleep(for: interval)
        }
    }

    static let page = 5_000

    /// `event: KIND`, `id: …`, `data: {json}`, blank line.
    static func event(_ kind: String, _ data: [String: String], id: String?) -> String {
        let json = (try? JSONSerialization.data(withJSONObject: data, options: [.sortedKeys, .withoutEscapingSlashes])).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
        return "event: \(kind)\n" + (id.map { "id: \($0)\n" } ?? "") + "data: \(json)\n\n"
    }
}
