import Foundation
import PostgresNIO
import SlipwayCore
import SlipwayStore
import Testing

/// Old deployments' log lines and events go (SLIPWAY_LOG_RETENTION); the newest of each
/// target, the live one and recent ones keep theirs; the deployments themselves stay.
@Suite(.enabled(if: TestStack.enabled))
struct LogRetentionTests {
    @Test func oldLogsGoInSmallStatementsAndTheNewestAndTheLiveStay() async throws {
        try await TestStack.withStore { store, _ in
            let policy = Policy(service: "web", source: .init(repo: "https://github.com/acme/shop.git"), image: "r.example.com/web")
            try await store.syncServices([(policy, "a.yaml")])
            var ids: [Int64] = []
            for n in 0..<30 {
                let id = try await store.createDeployment(service: "web", trigger: .manual, sha: String(format: "%040x", n + 1), image: nil, firstJob: .build)
                try await store.transition(id, to: .building)
                try await store.appendLogs(id, stream: "build", lines: (0..<7).map { "line \($0) of \(n)" })
                try await store.transition(id, to: .failed, reason: "build failed")
                ids.append(id)
            }
            // The 25 oldest finished 40 days ago; the 3rd of them is the live revision.
            try await store.client.query("UPDATE deployments SET finished_at = now() - interval '40 days' WHERE id = ANY(\(Array(ids.prefix(25))))")
            try await store.client.query("INSERT INTO targets (service, environment, live_deployment_id) VALUES ('web', 'main', \(ids[2]))")
            func lines(_ id: Int64) async throws -> Int {
                try await store.client.query("SELECT count(*)::int FROM deployment_logs WHERE deployment_id = \(id)").collect()[0].decode(Int.self)
            }
            let events = try await store.client.query("SELECT count(*)::int FROM deployment_events WHERE deployment_id = \(ids[0])").collect()[0].decode(Int.self)
            #expect(events > 0)

            // Kept: the newest 20 of the target (ids 10…29) and the live one (ids[2]); pruned: 0…9 but 2, in batches of 4.
            let first = try await store.queue.pruneDeploymentLogs(olderThan: .seconds(30 * 86_400), keep: 20, deployments: 4, rows: 5)
            #expect(first.deployments == 4 && first.lines == 28)
            var total = first
            while true {
                let batch = try await store.queue.pruneDeploymentLogs(olderThan: .seconds(30 * 86_400), keep: 20, deployments: 4, rows: 5)
                if batch.deployments == 0 { break }
                total.deployments += batch.deployments
                total.lines += batch.lines
                total.events += batch.events
            }
            #expect(total.deployments == 9 && total.lines == 63, "\(total)")
            #expect(total.events >= 9 * 2, "each had its state events: \(total)")
            for (index, id) in ids.enumerated() {
                let pruned = index < 10 && index != 2
                // A pruned log keeps one line saying so.
                #expect(try await lines(id) == (pruned ? 1 : 7), "deployment \(index)")
            }
            let note = try await store.logs(ids[0])
            #expect(note.count == 1 && note[0].line.contains("deleted by the log retention (SLIPWAY_LOG_RETENTION: 720h)"), "\(note)")
            #expect(try await store.history(service: "web", limit: 100).count == 30, "the deployments stay")
            let marked = try await store.client.query("SELECT count(*)::int FROM deployments WHERE logs_pruned_at IS NOT NULL").collect()[0].decode(Int.self)
            #expect(marked == 9)
        }
    }
}
