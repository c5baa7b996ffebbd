import SlipwayApp
import Foundation
import Hummingbird
import HummingbirdTesting
import HTTPTypes
import NIOCore
import PostgresNIO
import SlipwayCore
import SlipwayServer
import SlipwayStore
import SlipwayWebhooks
import Testing

/// GitLab, Bitbucket Cloud and Bitbucket Server through the HTTP endpoints on real Postgres.
@Suite(.enabled(if: TestStack.enabled))
struct ProviderWebhookTests {
    static let secret = "provider-secret"
    static let before = "6113728f27ae82c7b1a177c8d03f9e96e0adf246"
    static let after = "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c"

    static let gitlabPush = """
        {"object_kind":"push","event_name":"push","ref":"refs/heads/main","before":"\(before)","after":"\(after)",
         "checkout_sha":"\(after)","total_commits_count":1,
         "project":{"path_with_namespace":"acme/platform/shop","git_http_url":"https://gitlab.example.com/acme/platform/shop.git",
                    "git_ssh_url":"git@gitlab.example.com:acme/platform/shop.git"},
         "commits":[{"id":"\(after)","added":[],"modified":["src/app.rb"],"removed":[]}]}
        """

    static func bitbucketCloudPush(changes: [(branch: String, old: String?, new: String?)]) -> String {
        let items = changes.map { c in
            let old = c.old.map { #"{"type":"branch","name":"\#(c.branch)","target":{"type":"commit","hash":"\#($0)"}}"# } ?? "null"
            let new = c.new.map { #"{"type":"branch","name":"\#(c.branch)","target":{"type":"commit","hash":"\#($0)"}}"# } ?? "null"
            return #"{"old":\#(old),"new":\#(new),"created":\#(c.old == nil),"closed":\#(c.new == nil),"forced":false,"truncated":false}"#
        }
        return #"{"push":{"changes":[\#(items.joined(separator: ","))]},"repository":{"type":"repository","full_name":"acme/shop","name":"shop","links":{"html":{"href":"https://bitbucket.org/acme/shop"}}},"actor":{"display_name":"Ada"}}"#
    }

    static let serverPush = """
        {"eventKey":"repo:refs_changed","date":"2026-11-23T10:00:00+0000","actor":{"name":"ada"},
         "repository":{"slug":"shop","project":{"key":"ACME"},"links":{"clone":[
            {"href":"ssh://git@bitbucket.example.com:7999/acme/shop.git","name":"ssh"},
            {"href":"https://bitbucket.example.com/scm/acme/shop.git","name":"http"}]}},
         "changes":[{"ref":{"id":"refs/heads/main","displayId":"main","type":"BRANCH"},"refId":"refs/heads/main",
                     "fromHash":"\(before)","toHash":"\(after)","type":"UPDATE"}]}
        """

    func withApp(secrets: [NormalizedEvent.Provider: String] = [.github: secret, .gitlab: secret, .bitbucket: secret,
                                                                 .bitbucketServer: secret],
                 _ body: @Sendable @escaping (any TestClientProtocol, Store) async throws -> Void) async throws {
        try await TestStack.withStore { store, _ in
            try await store.syncServices([
                (Policy(service: "gl", source: .init(repo: "git@gitlab.example.com:acme/platform/shop.git"), image: "r.example.com/gl"), "a.yaml"),
                (Policy(service: "bb", source: .init(repo: "https://bitbucket.org/acme/shop.git"), image: "r.example.com/bb"), "a.yaml"),
                (Policy(service: "bbs", source: .init(repo: "ssh://git@bitbucket.example.com:7999/acme/shop.git"),
                        image: "r.example.com/bbs"), "a.yaml"),
            ])
            let intake = WebhookIntake(store: store, secrets: secrets, logger: TestStack.logger)
            let app = Application(router: HTTPServer.router(operations: Operations(store: store), intake: intake))
            try await app.test(.router) { client in try await body(client, store) }
        }
    }

    func post(_ client: any TestClientProtocol, _ path: String, _ headers: [(String, String)], _ body: String,
              check: @escaping @Sendable (TestResponse) throws -> Void) async throws {
        var fields = HTTPFields()
        for (name, value) in headers { fields[HTTPField.Name(name)!] = value }
        fields[.contentType] = "application/json"
        try await client.execute(uri: path, method: .post, headers: fields, body: ByteBuffer(string: body)) { try check($0) }
    }

    func receipt(_ response: TestResponse) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(buffer: response.body)) as! [String: Any]
    }

    func count(_ store: Store, _ sql: String) async throws -> Int {
        try await store.client.query(PostgresQuery(unsafeSQL: sql)).collect()[0].decode(Int.self)
    }

    @Test func gitlabPushWithTheRightTokenDeploysAndAWrongOneIsRefused() async throws {
        try await withApp { client, store in
            let headers = [("X-Gitlab-Event", "Push Hook"), ("X-Gitlab-Event-UUID", "gl-1")]
            try await post(client, "/webhooks/gitlab", headers + [("X-Gitlab-Token", "nope")], Self.gitlabPush) {
                #expect($0.status == .unauthorized)
                #expect(String(buffer: $0.body).contains("X-Gitlab-Token"))
            }
            try await post(client, "/webhooks/gitlab", headers, Self.gitlabPush) { #expect($0.status == .unauthorized) }
            #expect(try await count(store, "SELECT count(*) FROM webhook_deliveries") == 0)

            try await post(client, "/webhooks/gitlab", headers + [("X-Gitlab-Token", Self.secret)], Self.gitlabPush) { response in
                #expect(response.status == .accepted)
                // The policy names the ssh address; the payload's clone URL is https: same repository.
                let r = try receipt(response)
                #expect((r["deployments"] as? [String: Any])?.keys.sorted() == ["gl"])
            }
            // GitLab retries with the same Idempotency-Key / event UUID.
            try await post(client, "/webhooks/gitlab", headers + [("X-Gitlab-Token", Self.secret)], Self.gitlabPush) { response in
                let r = try receipt(response)
                #expect(r["duplicate"] as? Bool == true)
            }
            #expect(try await count(store, "SELECT count(*) FROM deployments WHERE service = 'gl'") == 1)
        }
    }

    @Test func aWebhookAtAnotherProvidersEndpointIsRefusedWithWhereToSendIt() async throws {
        try await withApp { client, store in
            try await post(client, "/webhooks/github", [("X-Gitlab-Event", "Push Hook"), ("X-Gitlab-Token", Self.secret)],
                           Self.gitlabPush) { response in
                #expect(response.status == .badRequest)
                #expect(String(buffer: response.body).contains("/webhooks/gitlab"))
            }
            #expect(try await count(store, "SELECT count(*) FROM webhook_deliveries") == 0)
        }
    }

    @Test func noGitLabSecretRefusesGitLabWebhooksAndSaysWhatToSet() async throws {
        try await withApp(secrets: [.github: Self.secret]) { client, _ in
            try await post(client, "/webhooks/gitlab", [("X-Gitlab-Event", "Push Hook"), ("X-Gitlab-Token", "anything")],
                           Self.gitlabPush) { response in
                #expect(response.status == .unauthorized)
                #expect(String(buffer: response.body).contains("SLIPWAY_WEBHOOK_SECRET_GITLAB"))
            }
        }
    }

    @Test func bitbucketCloudPushWithSeveralChangesIsOneDeliveryPerChangeAndARedeliveryAddsNothing() async throws {
        try await withApp { client, store in
            let body = Self.bitbucketCloudPush(changes: [("main", Self.before, Self.after), ("old-feature", Self.before, nil)])
            let headers = [("X-Event-Key", "repo:push"), ("X-Request-UUID", "bb-1"), ("X-Hook-UUID", "hook-1"),
                           ("X-Hub-Signature", WebhookSignature.sign(body: Data(body.utf8), secret: Self.secret))]
            for attempt in 1...2 {
                try await post(client, "/webhooks/bitbucket", headers, body) { response in
                    #expect(response.status == .accepted)
                    let r = try receipt(response)
                    #expect(r["provider"] as? String == "bitbucket")
                    #expect(r["duplicate"] as? Bool == (attempt == 2))
                    if attempt == 1 { #expect((r["deployments"] as? [String: Any])?.keys.sorted() == ["bb"]) }
                }
            }
            #expect(try await count(store, "SELECT count(*) FROM webhook_deliveries") == 2)
            #expect(try await count(store, "SELECT count(*) FROM webhook_deliveries WHERE delivery_id = 'bb-1#2' AND outcome = 'skipped'") == 1)
            #expect(try await count(store, "SELECT count(*) FROM jobs") == 1)

            let unsigned = [("X-Event-Key", "repo:push"), ("X-Request-UUID", "bb-2"), ("X-Hub-Signature", "sha256=00")]
            try await post(client, "/webhooks/bitbucket", unsigned, body) { #expect($0.status == .unauthorized) }
        }
    }

    @Test func bitbucketServerIsToldApartAndVerifiedOnTheSameEndpoint() async throws {
        try await withApp { client, store in
            let body = Self.serverPush
            let headers = [("X-Event-Key", "repo:refs_changed"), ("X-Request-Id", "bbs-1"),
                           ("X-Hub-Signature", WebhookSignature.sign(body: Data(body.utf8), secret: Self.secret))]
            try await post(client, "/webhooks/bitbucket", headers, body) { response in
                #expect(response.status == .accepted)
                let r = try receipt(response)
                #expect(r["provider"] as? String == "bitbucket-server")
                #expect((r["deployments"] as? [String: Any])?.keys.sorted() == ["bbs"])
            }
            let ping = #"{"test": true}"#
            try await post(client, "/webhooks/bitbucket", [("X-Event-Key", "diagnostics:ping"), ("X-Request-Id", "bbs-2"),
                                                          ("X-Hub-Signature", WebhookSignature.sign(body: Data(ping.utf8), secret: Self.secret))],
                           ping) { response in
                #expect(response.status == .accepted)
                let r = try receipt(response)
                #expect(r["kind"] as? String == "ping")
            }
            #expect(try await count(store, "SELECT count(*) FROM deployments") == 1)
        }
    }

    @Test func theSameCommitFromTwoHooksDeploysOnce() async throws {
        try await withApp { client, store in
            // A repository hook and an organization hook both send the push, with different delivery ids.
            for delivery in ["gl-a", "gl-b"] {
                try await post(client, "/webhooks/gitlab", [("X-Gitlab-Event", "Push Hook"), ("X-Gitlab-Event-UUID", delivery),
                                                           ("X-Gitlab-Token", Self.secret)], Self.gitlabPush) { response in
                    #expect(response.status == .accepted)
                    if delivery == "gl-b" {
                        let skipped = try receipt(response)["skipped"] as? [String: String]
                        #expect(skipped?["gl"]?.contains("is already deploying") == true)
                    }
                }
            }
            #expect(try await count(store, "SELECT count(*) FROM deployments") == 1)
            #expect(try await count(store, "SELECT count(*) FROM jobs") == 1)
        }
    }
}
