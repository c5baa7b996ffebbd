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
import SlipwaySystem
import SlipwayWebhooks
import Testing

/// What a webhook sender can and cannot make Slipway do: name a branch as a commit, repeat a
/// push, deploy a repository with its own secret using the shared one, or fill memory.
@Suite(.enabled(if: TestStack.enabled))
struct WebhookSecurityTests {
    static let shared = "shared-secret"
    static let shopSecret = "shop-own-secret"
    static let a = String(repeating: "a", count: 40), b = String(repeating: "b", count: 40)

    static func push(repo: String = "acme/shop", before: String = a, after: String = b, extra: String = "") -> String {
        #"{"ref":"refs/heads/main","before":"\#(before)","after":"\#(after)","deleted":false,\#(extra)"repository":{"full_name":"\#(repo)","clone_url":"https://github.com/\#(repo).git"}}"#
    }

    static func headers(_ body: String, secret: String?, delivery: String?) -> HTTPFields {
        var fields = HTTPFields()
        fields[HTTPField.Name("X-GitHub-Event")!] = "push"
        if let delivery { fields[HTTPField.Name("X-GitHub-Delivery")!] = delivery }
        fields[.contentType] = "application/json"
        if let secret { fields[HTTPField.Name("X-Hub-Signature-256")!] = WebhookSignature.sign(body: Data(body.utf8), secret: secret) }
        return fields
    }

    /// shop has its own webhook secret; api has none.
    func withApp(shared: String? = Self.shared, budget: Int = HTTPServer.defaultInflightBytes,
                 _ body: @Sendable @escaping (any TestClientProtocol, Store) async throws -> Void) async throws {
        try await TestStack.withStore { store, _ in
            try await store.syncServices([
                (Policy(service: "shop", source: .init(repo: "https://github.com/acme/shop.git",
                                                        webhookSecret: .environment("SLIPWAY_SECRET_SHOP_HOOK")), image: "r.example.com/shop"), "a.yaml"),
                (Policy(service: "api", source: .init(repo: "https://github.com/acme/api.git"), image: "r.example.com/api"), "a.yaml"),
            ])
            let reader = SecretReader(rules: .standard(dataDirectory: nil), environment: ["SLIPWAY_SECRET_SHOP_HOOK": Self.shopSecret])
            var secrets: [NormalizedEvent.Provider: String] = [:]
            secrets[.github] = shared
            secrets[.gitlab] = shared
            let intake = WebhookIntake(store: store, secrets: secrets, secretReader: reader, logger: TestStack.logger)
            let app = Application(router: HTTPServer.router(operations: Operations(store: store), intake: intake, budget: BodyBudget(limit: budget)))
            try await app.test(.router) { client in try await body(client, store) }
        }
    }

    func send(_ client: any TestClientProtocol, _ body: String, secret: String?, delivery: String?,
              extraHeaders: [(String, String)] = []) async throws -> (status: HTTPResponse.Status, body: [String: Any]) {
        var fields = Self.headers(body, secret: secret, delivery: delivery)
        for (name, value) in extraHeaders { fields[HTTPField.Name(name)!] = value }
        return try await Self.redelivered {
            try await client.execute(uri: "/webhooks/github", method: .post, headers: fields, body: ByteBuffer(string: body)) { response in
                (response.status, (try? JSONSerialization.jsonObject(with: Data(buffer: response.body))) as? [String: Any] ?? [:])
            }
        }
    }

    /// Sends again after a 503, as providers redeliver: a database slowed by the parallel suite
    /// may miss the durable-write deadline, which is that answer's whole point.
    static func redelivered(_ send: () async throws -> (HTTPResponse.Status, [String: Any])) async throws -> (status: HTTPResponse.Status, body: [String: Any]) {
        for _ in 1..<5 {
            let answer = try await send()
            if answer.0 != .serviceUnavailable { return answer }
            try await Task.sleep(for: .milliseconds(500))
        }
        return try await send()
    }

    func count(_ store: Store, _ sql: String) async throws -> Int {
        try await store.client.query(PostgresQuery(unsafeSQL: sql)).collect()[0].decode(Int.self)
    }

    @Test func aBranchNameAsTheCommitIsRefusedAndNothingIsStored() async throws {
        try await withApp { client, store in
            let body = Self.push(repo: "acme/api", after: "some-branch")
            let answer = try await send(client, body, secret: Self.shared, delivery: "d-branch")
            #expect(answer.status == .badRequest)
            #expect((answer.body["error"] as? String)?.contains("not a commit SHA") == true)
            #expect(try await count(store, "SELECT count(*) FROM webhook_deliveries") == 0)
            #expect(try await count(store, "SELECT count(*) FROM deployments") == 0)
        }
    }

    /// Without delivery ids, A→B, a force-push back to A, then B again: B deploys twice; a
    /// byte-for-byte redelivery of the last push does not.
    @Test func theSamePushMadeAgainLaterDeploysAgainWithoutDeliveryIDs() async throws {
        try await withApp { client, store in
            let toB = Self.push(repo: "acme/api", before: Self.a, after: Self.b)
            let backToA = Self.push(repo: "acme/api", before: Self.b, after: Self.a, extra: #""forced":true,"#)
            #expect(try await send(client, toB, secret: Self.shared, delivery: nil).status == .accepted)
            #expect(try await send(client, backToA, secret: Self.shared, delivery: nil).status == .accepted)
            let again = try await send(client, toB, secret: Self.shared, delivery: nil)
            #expect(again.status == .accepted)
            #expect((again.body["duplicate"] as? Bool) == false)
            #expect(try await count(store, "SELECT count(*) FROM deployments WHERE service = 'api' AND sha = '\(Self.b)'") == 2)
            let redelivered = try await send(client, toB, secret: Self.shared, delivery: nil)
            #expect((redelivered.body["duplicate"] as? Bool) == true)
            #expect(try await count(store, "SELECT count(*) FROM deployments WHERE service = 'api'") == 3)
        }
    }

    @Test func aRepositoryWithItsOwnSecretIsDeployedOnlyWithIt() async throws {
        try await withApp { client, store in
            // The shared secret reaches api, not shop.
            let shared = try await send(client, Self.push(), secret: Self.shared, delivery: "d-1")
            #expect(shared.status == .accepted)
            #expect((shared.body["skipped"] as? [String: String])?["shop"]?.contains("source.webhookSecret") == true)
            #expect(try await count(store, "SELECT count(*) FROM deployments") == 0)
            // Shop's own secret deploys shop.
            let own = try await send(client, Self.push(), secret: Self.shopSecret, delivery: "d-2")
            #expect(own.status == .accepted)
            #expect((own.body["deployments"] as? [String: Any])?.keys.sorted() == ["shop"])
            // Shop's secret proves nothing about api.
            let elsewhere = try await send(client, Self.push(repo: "acme/api"), secret: Self.shopSecret, delivery: "d-3")
            #expect(elsewhere.status == .unauthorized)
            let api = try await send(client, Self.push(repo: "acme/api"), secret: Self.shared, delivery: "d-4")
            #expect((api.body["deployments"] as? [String: Any])?.keys.sorted() == ["api"])
        }
    }

    @Test func ownSecretsWorkWithoutASharedOne() async throws {
        try await withApp(shared: nil) { client, store in
            #expect(try await send(client, Self.push(), secret: nil, delivery: "n-1").status == .unauthorized)
            #expect(try await send(client, Self.push(), secret: "guess", delivery: "n-2").status == .unauthorized)
            let own = try await send(client, Self.push(), secret: Self.shopSecret, delivery: "n-3")
            #expect((own.body["deployments"] as? [String: Any])?.keys.sorted() == ["shop"])
            #expect(try await count(store, "SELECT count(*) FROM webhook_deliveries") == 1)
        }
    }

    @Test func gitLabTokensAreCheckedBeforeTheBodyAndScopedToTheirRepository() async throws {
        try await withApp { client, store in
            func gitlab(_ repo: String, token: String) async throws -> (HTTPResponse.Status, [String: Any]) {
                let body = #"{"object_kind":"push","ref":"refs/heads/main","before":"\#(Self.a)","after":"\#(Self.b)","project":{"path_with_namespace":"\#(repo)","git_http_url":"https://github.com/\#(repo).git"}}"#
                var fields = HTTPFields()
                fields[HTTPField.Name("X-Gitlab-Event")!] = "Push Hook"
                fields[HTTPField.Name("X-Gitlab-Token")!] = token
                return try await Self.redelivered {
                    try await client.execute(uri: "/webhooks/gitlab", method: .post, headers: fields, body: ByteBuffer(string: body)) { response in
                        (response.status, (try? JSONSerialization.jsonObject(with: Data(buffer: response.body))) as? [String: Any] ?? [:])
                    }
                }
            }
            #expect(try await gitlab("acme/shop", token: "wrong").0 == .unauthorized)
            let own = try await gitlab("acme/shop", token: Self.shopSecret)
            #expect((own.1["deployments"] as? [String: Any])?.keys.sorted() == ["shop"], "\(own.0): \(own.1)")
            let other = try await gitlab("acme/api", token: Self.shopSecret)
            #expect(other.0 == .unauthorized)
            #expect((other.1["error"] as? String)?.contains("another repository's own secret") == true)
            #expect(try await count(store, "SELECT count(*) FROM deployments WHERE service = 'api'") == 0)
        }
    }

    /// Past the budget every request shares, a signed body is answered 503 with Retry-After, unread.
    @Test func bodiesPastTheSharedBudgetAre503WithRetryAfter() async throws {
        try await withApp(budget: 1000) { client, store in
            let body = Self.push(repo: "acme/api", extra: #""padding":"\#(String(repeating: "x", count: 2000))","#)
            try await client.execute(uri: "/webhooks/github", method: .post, headers: Self.headers(body, secret: Self.shared, delivery: "big"),
                                     body: ByteBuffer(string: body)) { response in
                #expect(response.status == .serviceUnavailable)
                #expect(response.headers[.retryAfter] == "5")
            }
            #expect(try await count(store, "SELECT count(*) FROM webhook_deliveries") == 0)
            let small = Self.push(repo: "acme/api")
            #expect(try await send(client, small, secret: Self.shared, delivery: "small").status == .accepted)
        }
    }
}

/// Senders that declare a body and do not send it, on a real socket.
@Suite(.enabled(if: TestStack.enabled))
struct SlowWebhookSenderTests {
    /// Opens a connection, sends the headers of a signed-looking push with a large declared body
    /// and `sent` bytes of it, and returns the socket.
    static func stall(port: Int, sent: Int) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw POSIXError(.ECONNREFUSED) }
        let head = "POST /webhooks/github HTTP/1.1\r\nHost: 127.0.0.1\r\nX-GitHub-Event: push\r\nX-Hub-Signature-256: sha256=\(String(repeating: "0", count: 64))\r\n"
            + "Content-Length: \(25 << 20)\r\n\r\n" + String(repeating: " ", count: sent)
        _ = head.withCString { send(fd, $0, strlen($0), 0) }
        return fd
    }

    /// Reads the status line the server answers on `fd` (up to 60 s), on a Dispatch thread: a
    /// blocking read on the task pool could starve the very server that is to answer it.
    static func status(_ fd: Int32) async -> String {
        await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                var timeout = timeval(tv_sec: 60, tv_usec: 0)
                setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
                var buffer = [UInt8](repeating: 0, count: 512)
                let count = recv(fd, &buffer, buffer.count, 0)
                continuation.resume(returning: count > 0
                    ? String(decoding: buffer[..<count], as: UTF8.self).split(separator: "\r\n").first.map(String.init) ?? "" : "closed")
            }
        }
    }

    @Test func declaredBodiesHoldNothingAndAStalledOneIsCutOff() async throws {
        try await TestStack.withStore { store, _ in
            try await store.syncServices([
                (Policy(service: "api", source: .init(repo: "https://github.com/acme/api.git"), image: "r.example.com/api"), "a.yaml"),
            ])
            let intake = WebhookIntake(store: store, secrets: [.github: WebhookSecurityTests.shared], logger: TestStack.logger)
            let budget = BodyBudget(limit: 40 << 20)
            let app = Application(router: HTTPServer.router(operations: Operations(store: store), intake: intake, budget: budget, bodyReadDeadline: .seconds(2)))
            try await app.test(.live) { client in
                let port = try #require(client.port)
                // Ten senders declare 250 MiB between them against a 40 MiB budget, and send a little.
                let stalled = try (0..<10).map { _ in try Self.stall(port: port, sent: 1000) }
                defer { stalled.forEach { close($0) } }
                let body = WebhookSecurityTests.push(repo: "acme/api")
                try await client.execute(uri: "/webhooks/github", method: .post,
                                         headers: WebhookSecurityTests.headers(body, secret: WebhookSecurityTests.shared, delivery: "while-stalled"),
                                         body: ByteBuffer(string: body)) { response in
                    #expect(response.status == .accepted, "a real push is taken while others stall")
                }
                #expect(budget.inUse <= 10 * 1000)
                // Each stalled sender is answered at the deadline, and gives back what it held.
                for fd in stalled { #expect(await Self.status(fd).contains("408")) }
                #expect(budget.inUse == 0)
            }
        }
    }
}
