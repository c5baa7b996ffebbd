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
import SlipwayTestSupport
import SlipwayWebhooks
import Testing

@Suite(.enabled(if: TestStack.enabled))
struct WebhookIntakeTests {
    static let secret = "test-secret"
    static let sha = "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c"

    static func pushBody(branch: String = "main", after: String = sha, repo: String = "https://github.com/acme/shop.git") -> String {
        """
        {"ref":"refs/heads/\(branch)","before":"6113728f27ae82c7b1a177c8d03f9e96e0adf246","after":"\(after)","deleted":false,
         "repository":{"full_name":"acme/shop","clone_url":"\(repo)"}}
        """
    }

    static func headers(event: String = "push", delivery: String, body: String, secret: String? = Self.secret) -> HTTPFields {
        var fields = HTTPFields()
        fields[HTTPField.Name("X-GitHub-Event")!] = event
        fields[HTTPField.Name("X-GitHub-Delivery")!] = delivery
        fields[.contentType] = "application/json"
        if let secret {
            fields[HTTPField.Name("X-Hub-Signature-256")!] = WebhookSignature.sign(body: Data(body.utf8), secret: secret)
        }
        return fields
    }

    /// Runs `body` against the router with a store whose services are web (main) and worker (release).
    func withApp(secrets: [NormalizedEvent.Provider: String] = [.github: secret],
                 _ body: @Sendable @escaping (any TestClientProtocol, Store) async throws -> Void) async throws {
        try await TestStack.withStore { store, _ in
            try await store.syncServices([
                (Policy(service: "web", source: .init(repo: "https://github.com/acme/shop.git"), image: "r.example.com/acme/web"), "a.yaml"),
                (Policy(service: "worker", source: .init(repo: "git@github.com:acme/shop.git", branch: "release"),
                        image: "r.example.com/acme/worker"), "a.yaml"),
            ])
            let intake = WebhookIntake(store: store, secrets: secrets, logger: TestStack.logger)
            let app = Application(router: HTTPServer.router(operations: Operations(store: store), intake: intake))
            try await app.test(.router) { client in try await body(client, store) }
        }
    }

    func count(_ store: Store, _ table: String) async throws -> Int {
        try await store.client.query(PostgresQuery(unsafeSQL: "SELECT count(*) FROM \(table)")).collect()[0].decode(Int.self)
    }

    @Test func signedPushStoresDeliveryDeploymentAndJobThenReplayAddsNothing() async throws {
        try await withApp { client, store in
            let body = Self.pushBody()
            let headers = Self.headers(delivery: "d-1", body: body)
            try await client.execute(uri: "/webhooks/github", method: .post, headers: headers, body: ByteBuffer(string: body)) { response in
                #expect(response.status == .accepted)
                let receipt = try JSONSerialization.jsonObject(with: Data(buffer: response.body)) as! [String: Any]
                #expect(receipt["duplicate"] as? Bool == false)
                #expect((receipt["deployments"] as? [String: Any])?.keys.sorted() == ["web"])
                #expect((receipt["skipped"] as? [String: String])?["worker"] == "push to branch main; the policy tracks release")
            }
            #expect(try await count(store, "webhook_deliveries") == 1)
            #expect(try await count(store, "deployments") == 1)
            #expect(try await count(store, "jobs") == 1)
            let deployment = try await store.history(service: "web")[0]
            #expect(deployment.record.sha == Self.sha && deployment.record.state == .queued && deployment.record.trigger == .push)

            // GitHub redelivers with the same X-GitHub-Delivery.
            try await client.execute(uri: "/webhooks/github", method: .post, headers: headers, body: ByteBuffer(string: body)) { response in
                #expect(response.status == .accepted)
                let receipt = try JSONSerialization.jsonObject(with: Data(buffer: response.body)) as! [String: Any]
                #expect(receipt["duplicate"] as? Bool == true)
            }
            #expect(try await count(store, "webhook_deliveries") == 1)
            #expect(try await count(store, "jobs") == 1)
        }
    }

    @Test(arguments: [nil, "wrong-secret"] as [String?])
    func badOrMissingSignatureIs401AndStoresNothing(signingSecret: String?) async throws {
        try await withApp { client, store in
            let body = Self.pushBody()
            try await client.execute(uri: "/webhooks/github", method: .post,
                                     headers: Self.headers(delivery: "d-2", body: body, secret: signingSecret),
                                     body: ByteBuffer(string: body)) { response in
                #expect(response.status == .unauthorized)
            }
            #expect(try await count(store, "webhook_deliveries") == 0)
            #expect(try await count(store, "jobs") == 0)
        }
    }

    @Test func noSecretConfiguredRefusesWebhooks() async throws {
        try await withApp(secrets: [:]) { client, store in
            let body = Self.pushBody()
            try await client.execute(uri: "/webhooks/github", method: .post, headers: Self.headers(delivery: "d-3", body: body),
                                     body: ByteBuffer(string: body)) { response in
                #expect(response.status == .unauthorized)
                #expect(String(buffer: response.body).contains("SLIPWAY_WEBHOOK_SECRET_GITHUB"))
            }
            #expect(try await count(store, "webhook_deliveries") == 0)
        }
    }

    @Test func malformedJSONIs400() async throws {
        try await withApp { client, store in
            let body = "{\"ref\": "
            try await client.execute(uri: "/webhooks/github", method: .post, headers: Self.headers(delivery: "d-4", body: body),
                                     body: ByteBuffer(string: body)) { response in
                #expect(response.status == .badRequest)
            }
            #expect(try await count(store, "webhook_deliveries") == 0)
        }
    }

    @Test func unknownEventIsAcceptedAndRecordedAsIgnored() async throws {
        try await withApp { client, store in
            let body = #"{"action":"opened","repository":{"full_name":"acme/shop","clone_url":"https://github.com/acme/shop.git"}}"#
            try await client.execute(uri: "/webhooks/github", method: .post,
                                     headers: Self.headers(event: "issues", delivery: "d-5", body: body),
                                     body: ByteBuffer(string: body)) { response in
                #expect(response.status == .accepted)
            }
            let rows = try await store.client.query("SELECT kind, outcome FROM webhook_deliveries").collect()
            let (kind, outcome) = try rows[0].decode((String, String).self)
            #expect(kind == "ignored" && outcome == "ignored")
            #expect(try await count(store, "jobs") == 0)
        }
    }

    @Test func oversizedBodyIs413() async throws {
        try await withApp { client, store in
            let body = String(repeating: " ", count: HTTPServer.maxWebhookBytes + 1)
            try await client.execute(uri: "/webhooks/github", method: .post, headers: Self.headers(delivery: "d-6", body: body),
                                     body: ByteBuffer(string: body)) { response in
                #expect(response.status == .contentTooLarge)
            }
            #expect(try await count(store, "webhook_deliveries") == 0)
        }
    }

    @Test func healthReadyStatusAPIAndMetrics() async throws {
        try await withApp { client, store in
            let auth = try await TestStack.bearer(store, role: .viewer)
            try await client.execute(uri: "/health", method: .get) { #expect($0.status == .ok) }
            try await client.execute(uri: "/ready", method: .get) { #expect($0.status == .ok) }
            try await client.execute(uri: "/api/v1/services/web", method: .get) { #expect($0.status == .unauthorized) }
            try await client.execute(uri: "/api/v1/services/web", method: .get, headers: auth) { response in
                #expect(response.status == .ok)
                let status = try JSONSerialization.jsonObject(with: Data(buffer: response.body)) as! [[String: Any]]
                #expect(status.first?["service"] as? String == "web")
                #expect(status.first?["state"] as? String == "not_deployed")
            }
            try await client.execute(uri: "/api/v1/services/nope", method: .get, headers: auth) { #expect($0.status == .notFound) }
            let body = Self.pushBody()
            for _ in 0..<2 {   // the second is a redelivery
                try await client.execute(uri: "/webhooks/github", method: .post, headers: Self.headers(delivery: "d-7", body: body),
                                         body: ByteBuffer(string: body)) { #expect($0.status == .accepted) }
            }
            try await client.execute(uri: "/webhooks/github", method: .post, headers: [.init("X-GitHub-Event")!: "push"],
                                     body: ByteBuffer(string: body)) { #expect($0.status == .unauthorized) }
            try await client.execute(uri: "/metrics", method: .get) { response in
                #expect(response.status == .ok)
                let text = String(buffer: response.body)
                let series = Set(text.split(separator: "\n").filter { !$0.hasPrefix("#") }.map(String.init))
                for expected in [
                    #"slipway_jobs{kind="build",state="queued"} 1.0"#, #"slipway_deployments{service="web",state="queued"} 1.0"#,
                    #"slipway_webhooks_total{provider="github",outcome="accepted"} 1"#,
                    #"slipway_webhooks_total{provider="github",outcome="duplicate"} 1"#,
                    #"slipway_webhooks_total{provider="github",outcome="unauthorized"} 1"#,
                    #"slipway_webhook_durable_seconds_count{provider="github"} 2"#,
                    #"slipway_queue_depth{kind="build"} 1.0"#, "slipway_previews_open 0.0", "slipway_policy_set_rejected 0.0",
                ] {
                    #expect(series.contains(expected), "\(expected) not in\n\(text)")
                }
                #expect(series.contains { $0.hasPrefix(#"slipway_queue_oldest_seconds{kind="build"} "#) }, "\(text)")
                // The exposition passes Prometheus's own linter.
                let file = try Scratch.directory("metrics") + "/metrics.txt"
                try text.write(toFile: file, atomically: true, encoding: .utf8)
                let lint = try Command.run("/bin/sh", ["-c", "promtool check metrics < '\(file)'"], check: false)
                #expect(lint.status == 0, "promtool: \(lint.output)\(lint.errors)")
            }
        }
    }
}
