import Foundation
import Logging
import SlipwayApp
import PostgresNIO
import SlipwayBuild
import SlipwayController
import SlipwayCore
import SlipwayDocker
import SlipwayGit
import SlipwayRuntime
import SlipwayServer
import SlipwayStore
import SlipwayTestSupport
import SlipwayWebhooks
import Testing

/// Pushes whose changed files come from git (libgit2 on a real repository), and polling.
@Suite(.enabled(if: TestStack.enabled))
struct MonorepoAndPollingTests {
    /// The system as `serve` assembles it (no engine behind it: these tests stop before builds).
    func pipeline(_ store: Store) throws -> Pipeline {
        let data = try TestStack.temporaryDirectory("paths")
        let config = try Configuration.resolve(environment: [
            "SLIPWAY_ALLOW_LOCAL_REPOS": "1", "DOCKER_HOST": "unix:///nonexistent.sock", "SLIPWAY_DATA_DIR": data, "SLIPWAY_POLICIES": data,
        ])
        let engine = try DockerEngine(host: config.dockerHost)
        return Assembly(config: config, spec: .folder(data), store: store, engine: engine, dataDirectory: data,
                        wiring: RuntimeWiring(engine: engine, network: nil, environment: [:], logger: TestStack.logger),
                        logger: TestStack.logger).pipeline
    }

    func policies(_ repo: TestRepo, poll: TimeSpan? = nil) -> [(policy: Policy, file: String)] {
        [(Policy(service: "web", source: .init(repo: repo.url, paths: ["services/web/**"], poll: poll), image: "r.example.com/web"), "m.yaml"),
         (Policy(service: "api", source: .init(repo: repo.url, paths: ["services/api/**", "libs/**"], poll: poll),
                 image: "r.example.com/api"), "m.yaml")]
    }

    func deployments(_ store: Store, _ service: String) async throws -> [String] {
        try await store.history(service: service).compactMap(\.record.sha)
    }

    @Test func aForcedPushIsDecidedFromTheDiffComputedWithGit() async throws {
        let repo = try TestRepo()
        let first = try repo.commit(["services/web/app.py": "v1", "services/api/main.go": "v1", "README.md": "hi"])
        let second = try repo.commit(["services/web/app.py": "v2", "README.md": "hello"])
        try await TestStack.withStore { store, _ in
            try await store.syncServices(policies(repo))
            let intake = WebhookIntake(store: store, secrets: [.github: "s"], logger: TestStack.logger)
            // Forced: GitHub's commit list no longer says what changed, so git decides.
            let body = """
                {"ref":"refs/heads/main","before":"\(first)","after":"\(second)","forced":true,"deleted":false,
                 "commits":[{"added":[],"modified":["services/api/main.go"],"removed":[]}],
                 "repository":{"full_name":"acme/mono","clone_url":"\(repo.url)"}}
                """
            let headers = WebhookHeaders([("X-GitHub-Event", "push"), ("X-GitHub-Delivery", "forced-1"),
                                          ("X-Hub-Signature-256", WebhookSignature.sign(body: Data(body.utf8), secret: "s"))])
            guard case .accepted(let receipt) = try await intake.receive(endpoint: .github, headers: headers, body: Data(body.utf8)) else {
                Issue.record("push refused")
                return
            }
            #expect(receipt.waiting.sorted() == ["api", "web"])
            #expect(receipt.deployments.isEmpty)

            let jobs = try await store.queue.claim(kinds: [.paths], limit: 5, owner: "test", lease: .seconds(30))
            #expect(jobs.count == 1)
            let handler = try #require(try pipeline(store).handlers.first { $0.kind == .paths })
            try await handler.run(jobs[0], logger: TestStack.logger)

            #expect(try await deployments(store, "web") == [second])
            #expect(try await deployments(store, "api").isEmpty)
            let rows = try await store.client.query("SELECT outcome, detail->>'api' FROM webhook_deliveries").collect()
            let (outcome, api) = try rows[0].decode((String, String).self)
            #expect(outcome == "queued")
            #expect(api.hasPrefix("skipped because no changed file is under the policy's paths"))
            #expect(api.contains("2 files changed (e.g. README.md)"))
        }
    }

    @Test func polledHeadsDeployWhatMovedAndOnlyWhereThePathsSaySo() async throws {
        let repo = try TestRepo()
        let first = try repo.commit(["services/web/app.py": "v1", "services/api/main.go": "v1"])
        try await TestStack.withStore { store, _ in
            try await store.syncServices(policies(repo, poll: .milliseconds(200)))
            let pipeline = try pipeline(store)
            let poller = Poller(store: store, git: pipeline.git,
                                lease: LeaderLease(pool: store.pool, name: "poller", logger: TestStack.logger),
                                tick: .milliseconds(100), leaderTTL: .seconds(2), logger: TestStack.logger)
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await poller.run() }
                defer { group.cancelAll() }
                // First sight of the branch: nothing was deployed, so both deploy the head.
                try await waitFor {
                    let web = try await deployments(store, "web"), api = try await deployments(store, "api")
                    return web == [first] && api == [first]
                }

                let second = try repo.commit(["libs/db/pool.go": "v2"])
                try await waitFor { try await deployments(store, "api") == [second, first] }
                // web's paths were not touched: recorded, not deployed.
                #expect(try await deployments(store, "web") == [first])
                let rows = try await store.client.query(
                    "SELECT detail->>'web' FROM webhook_deliveries WHERE provider = 'poll' AND after_sha = \(second)").collect()
                #expect(try rows[0].decode(String.self).hasPrefix("skipped because no changed file"))
            }
        }
    }

    @Test func aPushTouchingManyServicesQueuesThemAllAndSupersedesTheirOlderBuilds() async throws {
        try await TestStack.withStore { store, _ in
            let names = (1...60).map { String(format: "svc-%02d", $0) }
            try await store.syncServices(names.map {
                (Policy(service: $0, source: .init(repo: "https://github.com/acme/mono.git", paths: ["services/\($0)/**"]),
                        image: "r.example.com/\($0)"), "mono.yaml")
            })
            let intake = WebhookIntake(store: store, secrets: [.github: "s"], logger: TestStack.logger)
            func push(_ after: String, delivery: String, touching: [String]) async throws -> WebhookIntake.Receipt {
                let files = touching.map { "\"services/\($0)/app.py\"" }.joined(separator: ",")
                let body = """
                    {"ref":"refs/heads/main","before":"\(String(repeating: "1", count: 40))","after":"\(after)",
                     "commits":[{"added":[],"modified":[\(files)],"removed":[]}],
                     "repository":{"full_name":"acme/mono","clone_url":"https://github.com/acme/mono.git"}}
                    """
                let headers = WebhookHeaders([("X-GitHub-Event", "push"), ("X-GitHub-Delivery", delivery),
                                              ("X-Hub-Signature-256", WebhookSignature.sign(body: Data(body.utf8), secret: "s"))])
                guard case .accepted(let receipt) = try await intake.receive(endpoint: .github, headers: headers, body: Data(body.utf8)) else {
                    throw CancellationError()
                }
                return receipt
            }
            let first = try await push(String(repeating: "a", count: 40), delivery: "m-1", touching: names)
            #expect(first.deployments.count == 60 && first.skipped.isEmpty)
            // The second push touches the first 40 only: their older builds are superseded, the other 20 keep theirs.
            let second = try await push(String(repeating: "b", count: 40), delivery: "m-2", touching: Array(names.prefix(40)))
            #expect(second.deployments.count == 40 && second.skipped.count == 20)

            let states = try await store.client.query("""
                SELECT state, count(*)::int8 FROM jobs WHERE kind = 'build' GROUP BY state ORDER BY state
                """).collect().map { try $0.decode((String, Int64).self) }
            #expect(states.map(\.0) == ["queued", "superseded"] && states.map(\.1) == [60, 40])
            let old = try await store.history(service: "svc-01")
            #expect(old.map(\.record.state) == [.queued, .superseded])
            #expect(old[1].record.reason == "superseded by deployment \(second.deployments["svc-01"]!) (bbbbbbbbbbbb)")
            #expect(try await store.history(service: "svc-60").map(\.record.state) == [.queued])
            let events = try await store.client.query("SELECT count(*)::int8 FROM deployment_events WHERE message LIKE 'superseded: %'")
                .collect()[0].decode(Int64.self)
            #expect(events == 40)
        }
    }
}
