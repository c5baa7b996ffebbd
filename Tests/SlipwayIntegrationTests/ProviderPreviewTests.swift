import Foundation
import Hummingbird
import HummingbirdTesting
import HTTPTypes
import NIOCore
import PostgresNIO
import SlipwayApp
@testable import SlipwayController
import SlipwayCore
import SlipwayFakes
import SlipwayServer
import SlipwayStore
import SlipwayTestSupport
import SlipwayWebhooks
import Testing

/// Open → update → close of a preview from GitLab, Bitbucket Cloud and Bitbucket Server,
/// each through its webhook endpoint and signature, on real Postgres: each provider's head
/// is fetched by its own ref (`refs/merge-requests/N/head`, the source branch,
/// `refs/pull-requests/N/from`), and Bitbucket Cloud's 12-character hash becomes the full SHA.
@Suite(.enabled(if: TestStack.enabled))
struct ProviderPreviewTests {
    static let secret = ProviderWebhookTests.secret

    struct Provider: Sendable, CustomStringConvertible {
        var name: String
        var service: String
        var repo: String
        var number: Int
        /// The ref the head is fetched by.
        var ref: String
        var body: @Sendable (_ action: String, _ sha: String) -> (key: String, body: String)
        var headers: @Sendable (_ key: String, _ body: String, _ delivery: String) -> [(String, String)]
        var description: String { name }
    }

    static let gitlab = Provider(
        name: "gitlab", service: "gl", repo: "https://gitlab.example.com/acme/shop.git", number: 5, ref: "refs/merge-requests/5/head",
        body: { action, sha in
            let project = #"{"path_with_namespace":"acme/shop","git_http_url":"https://gitlab.example.com/acme/shop.git"}"#
            return ("Merge Request Hook", """
                {"object_kind":"merge_request","event_type":"merge_request","project":\(project),
                 "object_attributes":{"iid":5,"action":"\(action)","source_branch":"feat","target_branch":"main",
                                      "last_commit":{"id":"\(sha)"},"source":\(project)}}
                """)
        },
        headers: { key, _, delivery in [("X-Gitlab-Event", key), ("X-Gitlab-Event-UUID", delivery), ("X-Gitlab-Token", secret)] })

    static let bitbucketCloud = Provider(
        name: "bitbucket", service: "bb", repo: "https://bitbucket.org/acme/shop.git", number: 3, ref: "refs/heads/feat",
        body: { action, sha in
            let repository = #"{"full_name":"acme/shop","links":{"html":{"href":"https://bitbucket.org/acme/shop"}}}"#
            // Bitbucket Cloud names commits by their first 12 characters.
            return (action, """
                {"pullrequest":{"id":3,"source":{"branch":{"name":"feat"},"commit":{"hash":"\(sha.prefix(12))"},"repository":\(repository)},
                                "destination":{"branch":{"name":"main"},"repository":\(repository)}},
                 "repository":\(repository)}
                """)
        },
        headers: { key, body, delivery in
            [("X-Event-Key", key), ("X-Request-UUID", delivery), ("X-Hub-Signature", WebhookSignature.sign(body: Data(body.utf8), secret: secret))]
        })

    static let bitbucketServer = Provider(
        name: "bitbucket-server", service: "bbs", repo: "ssh://git@bitbucket.example.com:7999/acme/shop.git", number: 4,
        ref: "refs/pull-requests/4/from",
        body: { action, sha in
            let repository = """
                {"slug":"shop","project":{"key":"ACME"},"links":{"clone":[
                  {"href":"ssh://git@bitbucket.example.com:7999/acme/shop.git","name":"ssh"},
                  {"href":"https://bitbucket.example.com/scm/acme/shop.git","name":"http"}]}}
                """
            return (action, """
                {"eventKey":"\(action)","date":"2026-12-07T10:00:00+0000","pullRequest":{"id":4,
                 "fromRef":{"id":"refs/heads/feat","displayId":"feat","latestCommit":"\(sha)","repository":\(repository)},
                 "toRef":{"id":"refs/heads/main","displayId":"main","latestCommit":"\(sha)","repository":\(repository)}}}
                """)
        },
        headers: { key, body, delivery in
            [("X-Event-Key", key), ("X-Request-Id", delivery), ("X-Hub-Signature", WebhookSignature.sign(body: Data(body.utf8), secret: secret))]
        })

    static let actions: [String: (open: String, update: String, close: String)] = [
        "gitlab": ("open", "update", "close"),
        "bitbucket": ("pullrequest:created", "pullrequest:updated", "pullrequest:rejected"),
        "bitbucket-server": ("pr:opened", "pr:from_ref_updated", "pr:declined"),
    ]

    @Test(arguments: [gitlab, bitbucketCloud, bitbucketServer])
    func openUpdateCloseThroughTheEndpoint(_ provider: Provider) async throws {
        try await JobHandlerTests.withRig { rig in
            var policy = Policy(service: provider.service, source: .init(repo: provider.repo), image: "r.example.com/\(provider.service)")
            policy.previews.enabled = true
            policy.build.dockerfile = "Dockerfile"
            try await rig.store.syncServices([(policy, "a.yaml")])
            let intake = WebhookIntake(store: rig.store, secrets: [.gitlab: Self.secret, .bitbucket: Self.secret, .bitbucketServer: Self.secret],
                                       logger: TestStack.logger)
            let app = Application(router: HTTPServer.router(operations: Operations(store: rig.store), intake: intake))
            let (open, update, close) = Self.actions[provider.name]!
            try await app.test(.router) { client in
                func send(_ action: String, _ sha: String) async throws {
                    let (key, body) = provider.body(action, sha)
                    var fields = HTTPFields()
                    for (name, value) in provider.headers(key, body, UUID().uuidString) { fields[HTTPField.Name(name)!] = value }
                    fields[.contentType] = "application/json"
                    try await client.execute(uri: "/webhooks/\(provider.name == "gitlab" ? "gitlab" : "bitbucket")", method: .post,
                                             headers: fields, body: ByteBuffer(string: body)) { response in
                        #expect(response.status == .accepted, "\(provider): \(String(buffer: response.body))")
                    }
                    for job in try await rig.store.queue.claim(kinds: [.preview], limit: 10, owner: "test", lease: .seconds(60)) {
                        try await rig.handler(.preview).run(job, logger: TestStack.logger)
                        _ = try await rig.store.queue.complete(job)
                    }
                }
                let target = DeploymentTarget(service: provider.service, environment: .pullRequest(provider.number))
                let first = rig.git.commit(["Dockerfile": "FROM scratch\n# 1"], branch: "feat")
                rig.git.setRef(provider.ref, to: first)
                try await send(open, first)
                let opened = try #require(try await rig.store.history(of: target).first, "\(provider): no preview deployment")
                #expect(opened.record.sha == first, "\(provider): the full SHA")
                try await rig.run(.build, opened.record.id)
                try await rig.run(.rollout, opened.record.id)
                #expect(try await rig.store.previews(service: provider.service).first?.state == .live)
                // The API lists it as `slipway previews` does.
                let auth = try await TestStack.bearer(rig.store, role: .viewer)
                try await client.execute(uri: "/api/v1/services/\(provider.service)/previews", method: .get, headers: auth) { response in
                    #expect(response.status == .ok)
                    let listed = try JSONSerialization.jsonObject(with: Data(buffer: response.body)) as? [[String: Any]]
                    #expect(listed?.first?["number"] as? Int == provider.number && listed?.first?["state"] as? String == "live",
                            "\(String(buffer: response.body))")
                    #expect(listed?.first?["service"] as? String == "\(provider.service)-pr-\(provider.number)")
                }
                try await client.execute(uri: "/api/v1/services/nope/previews", method: .get, headers: auth) { response in
                    #expect(response.status == .notFound)
                }

                let second = rig.git.commit(["Dockerfile": "FROM scratch\n# 2"], branch: "feat")
                rig.git.setRef(provider.ref, to: second)
                try await send(update, second)
                let updated = try #require(try await rig.store.history(of: target).first)
                #expect(updated.record.sha == second && updated.record.id != opened.record.id, "\(provider)")

                try await send(close, second)
                let closed = try #require(try await rig.store.previews(service: provider.service).first)
                #expect(closed.state == .tornDown, "\(provider)")
                #expect(updated.record.id != 0)
                #expect(try await rig.store.deployment(updated.record.id).record.state == .cancelled)
                for job in try await rig.store.queue.claim(kinds: [.teardown], limit: 10, owner: "test", lease: .seconds(60)) {
                    try await rig.handler(.teardown).run(job, logger: TestStack.logger)
                    _ = try await rig.store.queue.complete(job)
                }
                #expect(rig.runtime.running.isEmpty, "\(provider)")
            }
        }
    }
}
