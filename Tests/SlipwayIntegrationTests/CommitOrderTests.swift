import Foundation
import PostgresNIO
import SlipwayCore
@testable import SlipwayStore
import SlipwayTestSupport
import Testing

/// A deployment's log lines and events are numbered in commit order: a line written while an
/// earlier writer's transaction is still open waits for it, so a reader following by id
/// (`after` the last it saw) can never pass over a line that commits later with a lower id.
@Suite(.enabled(if: TestStack.enabled))
struct CommitOrderTests {
    @Test func aLaterWriterWaitsSoNoLineIsSkipped() async throws {
        try await TestStack.withStore { store, _ in
            try await store.syncServices([(Policy(service: "web", source: .init(repo: "https://github.com/acme/web.git"),
                                                  image: "r.example.com/web"), "web.yaml")])
            let id = try await store.createDeployment(service: "web", trigger: .manual, sha: nil, image: nil, firstJob: .build)
            try await store.client.withConnection { slow in
                // An earlier writer: its line has its number, and its transaction is still open.
                try await slow.query("BEGIN", logger: TestStack.logger)
                try await slow.query("INSERT INTO deployment_logs (deployment_id, stream, line) VALUES (\(id), 'build', 'one')",
                                     logger: TestStack.logger)
                let later = Task { try await store.appendLogs(id, stream: "build", lines: ["two"]) }
                // The later writer waits on the deployment (seen in pg_stat_activity), it does not commit first.
                let waiting = await eventually(timeout: .seconds(20)) {
                    (try? await store.client.query("""
                        SELECT count(*)::int FROM pg_stat_activity
                        WHERE wait_event_type = 'Lock' AND query LIKE 'INSERT INTO deployment_logs%'
                        """, logger: TestStack.logger).collect().first?.decode(Int.self)) == 1
                }
                #expect(waiting, "the second writer did not wait for the first")
                // A follower looking now sees nothing it could pass over later.
                #expect(try await store.logs(id).map(\.line) == [])
                try await slow.query("COMMIT", logger: TestStack.logger)
                try await later.value
            }
            let lines = try await store.logs(id)
            #expect(lines.map(\.line) == ["one", "two"])
            #expect(lines[0].id < lines[1].id)
        }
    }
}
