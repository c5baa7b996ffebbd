import Foundation
import Logging
import PostgresNIO
import SlipwayCore
import SlipwayStore
import Testing

/// A preview is a second copy of a service: its own live pointer, its own latest-wins and
/// lock, and none of it touches the main environment. And an existing installation keeps
/// its live revisions through the migration that brought targets.
@Suite(.enabled(if: TestStack.enabled))
struct DeploymentTargetStoreTests {
    static let policy = Policy(service: "web", source: .init(repo: "https://github.com/acme/shop.git"), image: "r.example.com/web")

    @Test func aPreviewNeitherSupersedesNorReplacesTheMainEnvironment() async throws {
        try await TestStack.withStore { store, _ in
            try await store.syncServices([(Self.policy, "web.yaml")])
            let preview = DeploymentTarget(service: "web", environment: .pullRequest(7))
            let mainBuild = try await store.createDeployment(service: "web", trigger: .manual, sha: String(repeating: "a", count: 40),
                                                             image: nil, firstJob: .build)
            let previewBuild = try await store.createDeployment(service: "web", environment: .pullRequest(7), trigger: .manual,
                                                                sha: String(repeating: "b", count: 40), image: nil, firstJob: .build)
            // Latest wins per target: the preview's build did not supersede main's.
            #expect(try await store.deployment(mainBuild).record.state == .queued)
            #expect(try await store.deployment(previewBuild).record.target == preview)
            let newerPreview = try await store.createDeployment(service: "web", environment: .pullRequest(7), trigger: .manual,
                                                                sha: String(repeating: "c", count: 40), image: nil, firstJob: .build)
            #expect(try await store.deployment(previewBuild).record.state == .superseded)
            #expect(try await store.deployment(mainBuild).record.state == .queued)

            // Live pointers are per target.
            try await store.finishBuild(newerPreview, service: "web", environment: .pullRequest(7), policy: Self.policy,
                                        sha: String(repeating: "c", count: 40), image: "r.example.com/web:c", digest: nil)
            #expect(try await store.goLive(newerPreview, target: preview, policy: Self.policy))
            #expect(try await store.liveDeploymentID(of: preview) == newerPreview)
            #expect(try await store.liveDeploymentID(of: .main("web")) == nil)
            #expect(try await store.service(named: "web")?.liveDeploymentID == nil)
            #expect(try await store.history(service: "web").map(\.id) == [mainBuild])
            #expect(try await store.history(of: preview).map(\.id) == [newerPreview, previewBuild])

            // Its watch and retire jobs carry the preview's environment.
            let rows = try await store.client.query("""
                SELECT kind || ':' || environment FROM jobs WHERE deployment_id = \(newerPreview) ORDER BY id
                """).collect()
            #expect(try rows.map { try $0.decode(String.self) } == ["build:pr-7", "rollout:pr-7", "watch:pr-7", "retire:pr-7"])
        }
    }

    @Test func theLocksOfTwoTargetsDoNotWaitForEachOther() async throws {
        try await TestStack.withStore { store, _ in
            let preview = DeploymentTarget(service: "web", environment: .pullRequest(1))
            let inner: Bool = try await store.withTargetLock(.main("web")) {
                try await store.withTargetLock(preview) { true }   // on another connection: would deadlock if shared
            }
            #expect(inner)
        }
    }

    @Test func anExistingInstallationKeepsItsLiveRevisionsThroughTheMigration() async throws {
        let url = try await TestStack.freshDatabase()
        let client = PostgresClient(configuration: Database.configuration(url), backgroundLogger: TestStack.logger)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            defer { group.cancelAll() }
            let migrator = Migrator(client: client, logger: TestStack.logger)
            try await migrator.migrate(upTo: 6)
            try await client.query("""
                INSERT INTO services (name, repo_url, repo_key, branch, policy, policy_file)
                VALUES ('web', 'https://github.com/acme/shop.git', 'github.com/acme/shop', 'main', '{}', 'web.yaml'),
                       ('api', 'https://github.com/acme/shop.git', 'github.com/acme/shop', 'main', '{}', 'api.yaml')
                """, logger: TestStack.logger)
            try await client.query("""
                INSERT INTO deployments (id, service, trigger, state, sha, policy) VALUES (41, 'web', 'push', 'succeeded', 'x', '{}')
                """, logger: TestStack.logger)
            try await client.query("UPDATE services SET live_deployment_id = 41 WHERE name = 'web'", logger: TestStack.logger)
            try await client.query("""
                INSERT INTO jobs (kind, deployment_id, service, branch) VALUES ('build', 41, 'web', 'main')
                """, logger: TestStack.logger)
            #expect(try await migrator.migrate() == Migrator.migrations.map(\.version).filter { $0 > 6 })
            let targets = try await client.query("""
                SELECT service || '/' || environment || '=' || coalesce(live_deployment_id::text, '-') FROM targets ORDER BY service
                """, logger: TestStack.logger).collect().map { try $0.decode(String.self) }
            #expect(targets == ["api/main=-", "web/main=41"])
            let environments = try await client.query("""
                SELECT (SELECT environment FROM deployments WHERE id = 41) || ',' || (SELECT environment FROM jobs WHERE deployment_id = 41)
                """, logger: TestStack.logger).collect().map { try $0.decode(String.self) }
            #expect(environments == ["main,main"])
        }
    }
}
