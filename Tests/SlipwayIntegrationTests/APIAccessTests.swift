import Foundation
import Hummingbird
import HummingbirdTesting
import HTTPTypes
import NIOCore
import SlipwayApp
import SlipwayCore
@testable import SlipwayServer
import SlipwayStore
import SlipwayWebhooks
import Testing

/// The API's door on real Postgres: every route × every role, tokens that are missing,
/// malformed, revoked or expired, a token in the URL, and bodies and ids that are wrong.
@Suite(.enabled(if: TestStack.enabled))
struct APIAccessTests {
    static let sha = "3f2c1b0a9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a"

    func withApp(_ body: @Sendable (any TestClientProtocol, Store) async throws -> Void) async throws {
        try await TestStack.withWebApp(runtime: nil, body)
    }

    /// A concrete path for a route's pattern.
    static func path(_ route: APIRoutes.Route) -> String {
        "/api/v1/" + route.path.replacingOccurrences(of: ":name", with: "web").replacingOccurrences(of: ":id", with: "999999")
            .replacingOccurrences(of: ":number", with: "7")
    }

    @Test func everyRouteAnswersEachRoleAsTheTableSays() async throws {
        try await withApp { client, store in
            var tokens: [APIRole: HTTPFields] = [:]
            for role in APIRole.allCases { tokens[role] = try await TestStack.bearer(store, role: role, name: "t-\(role)") }
            for route in APIRoutes.table {
                let method = HTTPRequest.Method(rawValue: route.method.rawValue)!
                // The stream route follows a deployment; an unknown one answers 404 at once.
                try await client.execute(uri: Self.path(route), method: method) { response in
                    #expect(response.status == .unauthorized, "\(route.method) \(route.path) without a token")
                    #expect(response.headers[.wwwAuthenticate] != nil)
                }
                for role in APIRole.allCases {
                    let body = route.method == .post ? ByteBuffer(string: route.path == "tokens" ? #"{"name": "x-\#(role)", "role": "viewer"}"# : "{}") : nil
                    try await client.execute(uri: Self.path(route), method: method, headers: tokens[role]!, body: body) { response in
                        if role.may(route.action) {
                            #expect(![.unauthorized, .forbidden].contains(response.status), "\(role) \(route.method) \(route.path): \(response.status)")
                        } else {
                            #expect(response.status == .forbidden, "\(role) \(route.method) \(route.path): \(response.status)")
                            let error = try JSONSerialization.jsonObject(with: Data(buffer: response.body)) as? [String: String]
                            #expect(error?["error"]?.hasPrefix("role \(role) cannot") == true)
                            #expect(error?["hint"]?.hasPrefix("ask for a ") == true)
                        }
                    }
                }
            }
        }
    }

    @Test func badTokensAreRefusedAtOnce() async throws {
        try await withApp { client, store in
            let operations = Operations(store: store)
            let live = try await operations.createToken(name: "ci", role: .viewer, expiresIn: nil)
            let expired = try await operations.createToken(name: "old", role: .admin, expiresIn: .seconds(1), now: Date().addingTimeInterval(-10))
            func status(_ header: String?) async throws -> HTTPResponse.Status {
                var headers: HTTPFields = [:]
                if let header { headers[.authorization] = header }
                return try await client.execute(uri: "/api/v1/services", method: .get, headers: headers) { $0.status }
            }
            #expect(try await status("Bearer \(live)") == .ok)
            #expect(try await status(nil) == .unauthorized)
            #expect(try await status("Basic \(live)") == .unauthorized)
            #expect(try await status("Bearer slw_nope") == .unauthorized)
            // One character changed (never to itself).
            #expect(try await status("Bearer \(live.dropLast())\(live.last == "x" ? "y" : "x")") == .unauthorized)
            #expect(try await status("Bearer \(expired)") == .unauthorized)
            try await operations.revokeToken(name: "ci")
            #expect(try await status("Bearer \(live)") == .unauthorized)
            // In the URL: refused, whatever the token.
            try await client.execute(uri: "/api/v1/services?access_token=\(live)", method: .get) { response in
                #expect(response.status == .badRequest)
                #expect(String(buffer: response.body).contains("Authorization: Bearer"))
            }
            let listed = try await operations.tokens()
            #expect(listed.map(\.name) == ["old"])
            #expect(!String(decoding: try JSONEncoder().encode(listed), as: UTF8.self).contains("slw_"))
        }
    }

    @Test func changesRecordWhoAskedAndBadInputQueuesNothing() async throws {
        try await withApp { client, store in
            let deployer = try await TestStack.bearer(store, role: .deployer, name: "ada")
            func post(_ uri: String, _ body: String) async throws -> (HTTPResponse.Status, [String: Any]) {
                try await client.execute(uri: uri, method: .post, headers: deployer, body: ByteBuffer(string: body)) { response in
                    (response.status, (try? JSONSerialization.jsonObject(with: Data(buffer: response.body)) as? [String: Any]) ?? [:])
                }
            }
            var (status, answer) = try await post("/api/v1/services/web/deploy", #"{"sha": "\#(Self.sha)"}"#)
            #expect(status == .accepted)
            let id = try #require(answer["deployment"] as? Int)
            let deployment = try await store.status(service: "web").first?.deployments.first
            #expect(deployment?.id == Int64(id) && deployment?.by == "ada")
            let events = try await store.events(Int64(id), kind: "request")
            #expect(events.first?.message == "manual requested by ada")
            let json = String(decoding: try JSONEncoder().encode(try await store.status(service: "web")), as: UTF8.self)
            #expect(json.contains(#""by":"ada""#))

            let jobs = try await store.client.query("SELECT count(*)::int FROM jobs").collect()[0].decode(Int.self)
            (status, answer) = try await post("/api/v1/services/web/deploy", #"{"sha": "xyz"}"#)
            #expect(status == .badRequest && (answer["error"] as? String)?.contains("not a commit SHA") == true)
            (status, answer) = try await post("/api/v1/services/web/deploy", #"{"sha": "\#(Self.sha)", "force": true}"#)
            #expect(status == .badRequest && (answer["error"] as? String)?.contains("unknown field `force`") == true, "\(answer)")
            (status, answer) = try await post("/api/v1/services/nope/deploy", "{}")
            #expect(status == .notFound && answer["hint"] is String)
            (status, answer) = try await post("/api/v1/services/web/deploy", "[1, 2]")
            #expect(status == .badRequest)
            (status, answer) = try await post("/api/v1/services/web/deploy", String(repeating: " ", count: 70_000) + "{}")
            #expect(status == .badRequest)
            (status, answer) = try await post("/api/v1/deployments/abc/cancel", "")
            #expect(status == .badRequest && (answer["error"] as? String)?.contains("is not a number") == true)
            #expect(try await store.client.query("SELECT count(*)::int FROM jobs").collect()[0].decode(Int.self) == jobs)
        }
    }
}

extension APIAccessTests {
    @Test func metricsAreOpenUnlessATokenIsRequired() async throws {
        try await TestStack.withStore { store, _ in
            let intake = WebhookIntake(store: store, secrets: [:], logger: TestStack.logger)
            let open = Application(router: HTTPServer.router(operations: Operations(store: store), intake: intake))
            try await open.test(.router) { client in
                try await client.execute(uri: "/metrics", method: .get) { #expect($0.status == .ok) }
            }
            let closed = Application(router: HTTPServer.router(operations: Operations(store: store), intake: intake, metricsNeedToken: true))
            let viewer = try await TestStack.bearer(store, role: .viewer)
            try await closed.test(.router) { client in
                try await client.execute(uri: "/metrics", method: .get) { #expect($0.status == .unauthorized) }
                try await client.execute(uri: "/metrics", method: .get, headers: viewer) { #expect($0.status == .ok) }
                try await client.execute(uri: "/health", method: .get) { #expect($0.status == .ok) }
            }
        }
    }
}

extension APIAccessTests {
    @Test func tokensHideInNoQueryAndErrorsKeepTheirShape() async throws {
        try await withApp { client, store in
            let admin = try await TestStack.bearer(store, role: .admin, name: "root")
            for query in ["Token=x", "access%5Ftoken=x", "after=slw_0000000000000000_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "BEARER=x"] {
                try await client.execute(uri: "/api/v1/services?\(query)", method: .get, headers: admin) { response in
                    #expect(response.status == .badRequest, "\(query)")
                }
            }
            try await client.execute(uri: "/api/v1/nope", method: .get, headers: admin) { response in
                #expect(response.status == .notFound)
                let body = try JSONSerialization.jsonObject(with: Data(buffer: response.body)) as? [String: String]
                #expect(body?["error"]?.contains("no such route") == true && body?["hint"] != nil, "\(String(buffer: response.body))")
            }
            try await client.execute(uri: "/api/v1/deployments/1/cancel", method: .post, headers: admin, body: ByteBuffer(string: #"{"force": true}"#)) { response in
                #expect(response.status == .badRequest)
            }
            // A name with `@` is revoked through the API as through the database.
            _ = try await Operations(store: store).createToken(name: "ada@acme.com", role: .viewer, expiresIn: nil)
            try await client.execute(uri: "/api/v1/tokens/ada%40acme.com", method: .delete, headers: admin) { #expect($0.status == .ok) }
            #expect(try await store.tokens().map(\.name) == ["root"])
        }
    }

    @Test func aServicesStateDoesNotDependOnHowManyDeploymentsAreShown() async throws {
        try await withApp { client, store in
            let viewer = try await TestStack.bearer(store, role: .viewer)
            let old = try await store.createDeployment(service: "web", trigger: .manual, sha: Self.sha, image: nil, firstJob: .build)
            _ = try await store.transition(old, to: .building)
            for _ in 0..<4 {
                let newer = try await store.createDeployment(service: "web", trigger: .image, sha: nil, image: "r.example.com/web:1", firstJob: .rollout)
                _ = try await store.transition(newer, to: .failed, reason: "x")
            }
            for shown in [0, 3] {
                try await client.execute(uri: "/api/v1/services?deployments=\(shown)", method: .get, headers: viewer) { response in
                    let list = try JSONSerialization.jsonObject(with: Data(buffer: response.body)) as? [[String: Any]]
                    #expect(list?.first?["state"] as? String == "deploying", "\(shown): \(String(buffer: response.body).prefix(300))")
                    #expect((list?.first?["deployments"] as? [Any])?.count == shown)
                }
            }
        }
    }
}
