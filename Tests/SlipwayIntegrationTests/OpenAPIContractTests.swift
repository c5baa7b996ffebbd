import Foundation
import Hummingbird
import HummingbirdTesting
import HTTPTypes
import NIOCore
import SlipwayApp
import SlipwayCore
import SlipwayFakes
@testable import SlipwayServer
import SlipwayStore
import SlipwayTestSupport
import SlipwayWebhooks
import Testing

/// manifests/openapi.yaml against the live API: every route of the server is driven (and some
/// refusals), and each answer is held against its description by a JSON Schema validator
/// (deploy/check-openapi.py); a route the description lacks fails the test.
@Suite(.enabled(if: TestStack.enabled))
struct OpenAPIContractTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../..").standardized.path
    static let sha = "3f2c1b0a9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a"

    @Test func everyRouteAnswersAsTheDescriptionSays() async throws {
        try await TestStack.withStore { store, _ in
            try await store.syncServices([(Policy(service: "web", source: .init(repo: "https://github.com/acme/shop.git"),
                                                  image: "127.0.0.1:5000/acme/web"), "web.yaml")])
            let operations = Operations(store: store, runtime: FakeRuntime(now: { Date() }))
            let done = try await store.createDeployment(service: "web", trigger: .manual, sha: Self.sha, image: nil, firstJob: .build)
            try await store.appendLogs(done, stream: "build", lines: ["#1 [1/2] FROM busybox", "<script>alert(1)</script>"])
            _ = try await store.transition(done, to: .building)
            _ = try await store.transition(done, to: .failed, reason: "build failed: exit code 2")
            try await store.client.query("""
                INSERT INTO previews (service, number, state, branch, head_sha, url) VALUES ('web', 7, 'open', 'feature', \(Self.sha), 'https://web-pr-7.example.com')
                """)
            _ = try await store.createDeployment(service: "web", environment: .pullRequest(7), trigger: .pullRequest, sha: Self.sha, image: nil, firstJob: .build)
            let intake = WebhookIntake(store: store, secrets: [:], logger: TestStack.logger)
            let app = Application(router: HTTPServer.router(operations: operations, intake: intake))
            let admin = try await TestStack.bearer(store, role: .admin, name: "admin")
            let viewer = try await TestStack.bearer(store, role: .viewer, name: "viewer")

            // (method, route template, concrete path, headers, body)
            let calls: [(HTTPRequest.Method, String, String, HTTPFields, String?)] = [
                (.get, "services", "/api/v1/services", admin, nil),
                (.get, "services", "/api/v1/services", [:], nil),
                (.get, "services/:name", "/api/v1/services/web", admin, nil),
                (.get, "services/:name", "/api/v1/services/web?timeline=true", admin, nil),
                (.get, "services", "/api/v1/services?timeline=yes", admin, nil),
                (.get, "services/:name", "/api/v1/services/nope", admin, nil),
                (.get, "services/:name/previews", "/api/v1/services/web/previews", admin, nil),
                (.post, "services/:name/deploy", "/api/v1/services/web/deploy", admin, #"{"sha": "\#(Self.sha)"}"#),
                (.post, "services/:name/deploy", "/api/v1/services/web/deploy", admin, #"{"sha": "zz"}"#),
                (.post, "services/:name/deploy", "/api/v1/services/web/deploy", viewer, "{}"),
                (.post, "services/:name/rollback", "/api/v1/services/web/rollback", admin, "{}"),
                (.get, "deployments", "/api/v1/deployments?service=web&limit=5", admin, nil),
                (.get, "deployments", "/api/v1/deployments?state=nope", admin, nil),
                (.get, "deployments/:id", "/api/v1/deployments/\(done)", admin, nil),
                (.get, "deployments/:id", "/api/v1/deployments/abc", admin, nil),
                (.get, "deployments/:id/logs", "/api/v1/deployments/\(done)/logs", admin, nil),
                (.get, "deployments/:id/stream", "/api/v1/deployments/\(done)/stream", admin, nil),
                (.post, "deployments/:id/cancel", "/api/v1/deployments/\(done)/cancel", admin, nil),
                (.get, "previews", "/api/v1/previews", viewer, nil),
                (.get, "plan", "/api/v1/plan", admin, nil),
                (.get, "plan", "/api/v1/plan?service=nope", admin, nil),
                (.get, "policies", "/api/v1/policies", admin, nil),
                (.get, "policies", "/api/v1/policies?limit=0", admin, nil),
                (.post, "tokens", "/api/v1/tokens", admin, #"{"name": "ci", "role": "deployer", "expires": "90d"}"#),
                (.post, "tokens", "/api/v1/tokens", admin, #"{"name": "ci", "role": "deployer"}"#),
                (.get, "tokens", "/api/v1/tokens", admin, nil),
                (.get, "tokens", "/api/v1/tokens", viewer, nil),
                (.delete, "tokens/:name", "/api/v1/tokens/ci", admin, nil),
                (.delete, "services/:name/previews/:number", "/api/v1/services/web/previews/7", admin, nil),
                (.delete, "services/:name/previews/:number", "/api/v1/services/web/previews/8", admin, nil),
            ]
            let recorded = Recorded()
            try await app.test(.router) { client in
                for (method, route, path, headers, body) in calls {
                    try await client.execute(uri: path, method: method, headers: headers, body: body.map { ByteBuffer(string: $0) }) { response in
                        let text = String(buffer: response.body)
                        let type = response.headers[.contentType] ?? ""
                        recorded.add(method: method.rawValue, route: route, status: Int(response.status.code), type: type, text: text)
                        // Escaped, never markup, wherever a log line goes out.
                        #expect(!text.contains("<script>") || route == "deployments/:id/logs" || route == "deployments/:id/stream")
                    }
                }
            }
            let exchanges = try recorded.exchanges()
            // Every route of the table was driven.
            let driven = Set(exchanges.map { "\($0["method"]!) \($0["route"]!)" })
            for route in APIRoutes.table { #expect(driven.contains("\(route.method.rawValue) \(route.path)"), "\(route.method) \(route.path) not driven") }
            let file = try Scratch.directory("openapi") + "/exchanges.json"
            let routes = APIRoutes.table.map { [$0.method.rawValue, $0.path] }
            try JSONSerialization.data(withJSONObject: ["routes": routes, "exchanges": exchanges], options: [.prettyPrinted])
                .write(to: URL(fileURLWithPath: file))
            var environment = ProcessInfo.processInfo.environment
            environment["PYTHONDONTWRITEBYTECODE"] = "1"
            let result = try Command.run("/bin/sh", ["-c", "cd '\(Self.root)' && python3 deploy/check-openapi.py '\(file)'"], environment: environment, check: false)
            #expect(result.status == 0, "\(result.output)\n\(result.errors)")
        }
    }
}

/// Answers as they came, for the checker.
final class Recorded: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [(String, String, Int, String, String)] = []

    func add(method: String, route: String, status: Int, type: String, text: String) {
        lock.withLock { items.append((method, route, status, type, text)) }
    }

    func exchanges() throws -> [[String: Any]] {
        try lock.withLock { items }.map { method, route, status, type, text in
            let body: Any = type.hasPrefix("application/json") ? try JSONSerialization.jsonObject(with: Data(text.utf8), options: .fragmentsAllowed) : text
            return ["method": method, "route": route, "status": status, "contentType": type, "body": body]
        }
    }
}
