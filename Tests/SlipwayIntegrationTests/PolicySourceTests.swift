import Foundation
import SlipwayController
import SlipwayCore
import SlipwayGit
import SlipwayServer
import SlipwayStore
import SlipwayTestSupport
import SlipwayWebhooks
import Testing

/// A policies repository (real git, real Postgres): a change with a bad file is rejected
/// whole and recorded with its errors; the last good set stays; a good change applies.
@Suite(.enabled(if: TestStack.enabled))
struct PolicySourceTests {
    static func policy(_ service: String, repo: String, count: Int = 1, extra: String = "") -> String {
        """
        service: \(service)
        source:
          repo: \(repo)
        image: 127.0.0.1:5000/acme/\(service)
        deploy:
          count: \(count)
        \(extra)
        """
    }

    @Test func aBadChangeKeepsTheLastGoodSetAndAGoodOneApplies() async throws {
        let policies = try TestRepo()
        let app = try TestRepo()
        try policies.commit(["prod/web.yaml": Self.policy("web", repo: app.url), "README.md": "policies"])
        let data = try TestStack.temporaryDirectory("policies")
        try FileManager.default.createDirectory(atPath: "\(data)/work", withIntermediateDirectories: true)
        try await TestStack.withStore { store, _ in
            let spec = try PolicySourceSpec(parsing: "\(policies.url)#main:prod")
            let sync = PolicySync(spec: spec, store: store, git: MirrorCache(directory: "\(data)/mirrors", allowLocalRepos: true),
                                  allowLocalRepos: true, workDirectory: "\(data)/work", logger: TestStack.logger)
            guard case .applied(_, let first) = try await sync.refresh() else { Issue.record("first set not applied"); return }
            #expect(first == ["web"])
            #expect(try await sync.refresh() == .unchanged)

            // web scaled up, and a new file with a typo: nothing of it applies.
            let bad = try policies.commit([
                "prod/web.yaml": Self.policy("web", repo: app.url, count: 3),
                "prod/api.yaml": Self.policy("api", repo: app.url, extra: "rollback:\n  windw: 30s"),
            ])
            guard case .rejected(let revision, let errors) = try await sync.refresh() else { Issue.record("bad set applied"); return }
            #expect(revision == bad)
            #expect(errors == ["prod/api.yaml:8:3: unknown key `rollback.windw`; did you mean `rollback.window`?"])
            #expect(try await store.services().map(\.name) == ["web"])
            #expect(try await store.service(named: "web")?.policy.deploy.count == 1)
            let recorded = try #require(try await store.policySets().first)
            #expect(recorded.state == "rejected")
            #expect(recorded.revision == bad)
            #expect(recorded.errors == errors)
            // Read again, the same bad revision is not recorded twice.
            #expect(try await sync.refresh() == .unchanged)

            let good = try policies.commit(["prod/api.yaml": Self.policy("api", repo: app.url, extra: "rollback:\n  window: 30s")])
            #expect(try await sync.refresh() == .applied(revision: good, services: ["api", "web"]))
            #expect(try await store.services().map(\.name) == ["api", "web"])
            #expect(try await store.service(named: "web")?.policy.deploy.count == 3)
            #expect(try await store.policySets().map(\.state).prefix(3) == ["applied", "rejected", "applied"])

            // A file deleted from the set removes its service (its history stays).
            try FileManager.default.removeItem(atPath: "\(policies.work)/prod/api.yaml")
            let removed = try policies.commit([:], message: "retire api")
            #expect(try await sync.refresh() == .applied(revision: removed, services: ["web"]))
            #expect(try await store.services().map(\.name) == ["web"])
        }
    }

    /// The watcher's interval is ten minutes here: only the webhook can make it read again.
    @Test func aPushToThePoliciesRepositoryReloadsAtOnce() async throws {
        let policies = try TestRepo()
        let app = try TestRepo()
        try policies.commit(["web.yaml": Self.policy("web", repo: app.url)])
        let data = try TestStack.temporaryDirectory("policies")
        try await TestStack.withStore { store, _ in
            let spec = try PolicySourceSpec(parsing: policies.url)
            let sync = PolicySync(spec: spec, store: store, git: MirrorCache(directory: "\(data)/mirrors", allowLocalRepos: true),
                                  allowLocalRepos: true, workDirectory: data, logger: TestStack.logger)
            let wake = WakeSignal()
            let watcher = PolicyWatcher(sync: sync, interval: .seconds(600), wake: wake,
                                        lease: LeaderLease(pool: store.pool, name: "policies", logger: TestStack.logger),
                                        logger: TestStack.logger)
            let intake = WebhookIntake(store: store, secrets: [.github: "s"], logger: TestStack.logger, onEvents: { events in
                if events.contains(where: { PolicyWatcher.concerns($0, spec: spec) }) { wake.signal() }
            })
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await watcher.run() }
                defer { group.cancelAll() }
                try await waitFor { try await store.services().map(\.name) == ["web"] }

                let second = try policies.commit(["api.yaml": Self.policy("api", repo: app.url)])
                let body = """
                    {"ref":"refs/heads/main","before":"\(String(repeating: "0", count: 40))","after":"\(second)","deleted":false,
                     "commits":[{"added":["api.yaml"],"modified":[],"removed":[]}],
                     "repository":{"full_name":"acme/deploys","clone_url":"\(policies.url)"}}
                    """
                let headers = WebhookHeaders([("X-GitHub-Event", "push"), ("X-GitHub-Delivery", "policies-1"),
                                              ("X-Hub-Signature-256", WebhookSignature.sign(body: Data(body.utf8), secret: "s"))])
                let pushed = ContinuousClock.now
                _ = try await intake.receive(endpoint: .github, headers: headers, body: Data(body.utf8))
                try await waitFor { try await store.services().map(\.name) == ["api", "web"] }
                print("policies: push webhook → new set applied \(ContinuousClock.now - pushed)")
            }
        }
    }

    /// Two replicas: B receives the push, A leads the policies. B announces it through the
    /// database and A, woken by its listener, applies the new set long before its next poll.
    @Test func aPushThatReachesAnotherReplicaWakesTheLeader() async throws {
        let policies = try TestRepo()
        let app = try TestRepo()
        try policies.commit(["web.yaml": Self.policy("web", repo: app.url)])
        let data = try TestStack.temporaryDirectory("policies")
        try await TestStack.withStore { store, url in
            let spec = try PolicySourceSpec(parsing: policies.url)
            func watcher(_ holder: String, wake: WakeSignal) -> PolicyWatcher {
                let sync = PolicySync(spec: spec, store: store, git: MirrorCache(directory: "\(data)/\(holder)", allowLocalRepos: true),
                                      allowLocalRepos: true, workDirectory: data, logger: TestStack.logger)
                return PolicyWatcher(sync: sync, interval: .seconds(600), wake: wake,
                                     lease: LeaderLease(pool: store.pool, name: "policies", logger: TestStack.logger),
                                     holder: holder, logger: TestStack.logger)
            }
            let (wakeA, wakeB) = (WakeSignal(), WakeSignal())
            let listener = QueueListener(configuration: Database.connectionConfiguration(url), wake: WakeSignal(),
                                         policiesPushed: wakeA, logger: TestStack.logger)
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await listener.run() }
                group.addTask { try await watcher("a", wake: wakeA).run() }
                defer { group.cancelAll() }
                try await waitFor { try await store.services().map(\.name) == ["web"] }
                group.addTask { try await watcher("b", wake: wakeB).run() }   // B follows: A holds the lease

                let second = try policies.commit(["api.yaml": Self.policy("api", repo: app.url)])
                // What B's intake does with the push: its own watcher does not lead, so only the announcement reaches A.
                wakeB.signal()
                try await store.announcePoliciesPushed()
                try await waitFor({ try await store.services().map(\.name) == ["api", "web"] }, timeout: .seconds(60))
                #expect(try await store.policySets(limit: 1).first?.revision == second)
            }
        }
    }

    @Test func aMissingBranchSaysHowToFixTheSource() async throws {
        let policies = try TestRepo()
        try policies.commit(["web.yaml": "service: web\n"])
        let data = try TestStack.temporaryDirectory("policies")
        try await TestStack.withStore { store, _ in
            let sync = PolicySync(spec: try PolicySourceSpec(parsing: "\(policies.url)#release"), store: store,
                                  git: MirrorCache(directory: "\(data)/mirrors", allowLocalRepos: true),
                                  allowLocalRepos: true, workDirectory: data, logger: TestStack.logger)
            await #expect { try await sync.refresh() } throws: { error in
                "\(error)".contains("has no branch `release`") && "\(error)".contains("<git URL>#<branch>:<path>")
            }
        }
    }
}
