import Foundation
import Hummingbird
import HummingbirdTesting
import HTTPTypes
import NIOCore
import SlipwayApp
import SlipwayCore
import SlipwayFakes
import SlipwayServer
import SlipwayStore
import SlipwayWebhooks
import Testing

/// The dashboard on real Postgres: sign-in with a token for an HttpOnly SameSite=Strict cookie,
/// CSRF on every form, buttons only for roles that may use them, everything from outside escaped,
/// and a revoked token ending its sessions at once.
@Suite(.enabled(if: TestStack.enabled))
struct DashboardTests {
    static let sha = "3f2c1b0a9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a"

    func withApp(_ body: @Sendable (any TestClientProtocol, Store) async throws -> Void) async throws {
        try await TestStack.withWebApp(runtime: FakeRuntime(), body)
    }

    /// Signs in as `role`: the session cookie and the page's CSRF secret.
    func signIn(_ client: any TestClientProtocol, _ store: Store, role: APIRole) async throws -> (cookie: String, csrf: String) {
        let token = try await Operations(store: store).createToken(name: "\(role)-\(UUID().uuidString.prefix(4))", role: role, expiresIn: nil)
        let loginCookie = try await client.execute(uri: "/login", method: .get) { response -> String in
            #expect(response.status == .ok)
            return String(response.headers[.setCookie]!.split(separator: ";")[0])
        }
        let csrf = String(loginCookie.split(separator: "=")[1])
        let session = try await client.execute(uri: "/login", method: .post, headers: [.cookie: loginCookie, .contentType: "application/x-www-form-urlencoded"],
                                               body: ByteBuffer(string: "token=\(token)&csrf=\(csrf)")) { response -> String in
            #expect(response.status == .seeOther)
            let cookie = response.headers[.setCookie] ?? ""
            #expect(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"))
            return String(cookie.split(separator: ";")[0])
        }
        let page = try await client.execute(uri: "/services/web", method: .get, headers: [.cookie: session]) { String(buffer: $0.body) }
        let marker = #"name="csrf" value=""#
        let start = try #require(page.range(of: marker))
        return (session, String(page[start.upperBound...].prefix { $0 != "\"" }))
    }

    @Test func aViewerReadsEscapedPagesAndHasNoButtons() async throws {
        try await withApp { client, store in
            let id = try await store.createDeployment(service: "web", trigger: .manual, sha: Self.sha, image: nil, firstJob: .build)
            try await store.appendLogs(id, stream: "build", lines: ["<script>alert('log')</script>"])
            _ = try await store.transition(id, to: .building)
            _ = try await store.transition(id, to: .failed, reason: "<img src=x onerror=alert(1)> exit code 3")
            try await client.execute(uri: "/", method: .get) { response in
                #expect(response.status == .seeOther && response.headers[.location] == "/login")
            }
            let (cookie, _) = try await signIn(client, store, role: .viewer)
            for path in ["/", "/services/web", "/deployments/\(id)"] {
                try await client.execute(uri: path, method: .get, headers: [.cookie: cookie]) { response in
                    let page = String(buffer: response.body)
                    #expect(response.status == .ok, "\(path)")
                    #expect(!page.contains("<script>alert") && !page.contains("<img src=x"), "\(path)")
                    #expect(!page.contains("Roll back") && !page.contains(">Deploy<") && !page.contains(">Cancel<"), "\(path)")
                    #expect(response.headers[.contentSecurityPolicy]?.contains("default-src 'self'") == true)
                }
            }
            let page = try await client.execute(uri: "/deployments/\(id)", method: .get, headers: [.cookie: cookie]) { String(buffer: $0.body) }
            #expect(page.contains("&lt;script&gt;alert(&#39;log&#39;)&lt;/script&gt;"))
            #expect(page.contains("&lt;img src=x onerror=alert(1)&gt; exit code 3"))
            #expect(page.contains(#"<ol class="timeline">"#) && page.contains("state-failed"))
        }
    }

    @Test func formsNeedTheSessionsSecretAndARoleThatMay() async throws {
        try await withApp { client, store in
            let (viewer, viewerCSRF) = try await signIn(client, store, role: .viewer)
            let form: HTTPFields = [.contentType: "application/x-www-form-urlencoded"]
            try await client.execute(uri: "/services/web/deploy", method: .post, headers: form + [.cookie: viewer],
                                     body: ByteBuffer(string: "csrf=\(viewerCSRF)&sha=\(Self.sha)")) { response in
                #expect(response.status == .forbidden)
                #expect(String(buffer: response.body).contains("role viewer cannot deploy"))
            }
            let (deployer, csrf) = try await signIn(client, store, role: .deployer)
            try await client.execute(uri: "/services/web/deploy", method: .post, headers: form + [.cookie: deployer],
                                     body: ByteBuffer(string: "csrf=wrong&sha=\(Self.sha)")) { #expect($0.status == .forbidden) }
            let jobs = try await store.client.query("SELECT count(*)::int FROM jobs").collect()[0].decode(Int.self)
            #expect(jobs == 0)
            try await client.execute(uri: "/services/web/deploy", method: .post, headers: form + [.cookie: deployer],
                                     body: ByteBuffer(string: "csrf=\(csrf)&sha=\(Self.sha)")) { response in
                #expect(response.status == .seeOther)
                #expect(response.headers[.location]?.hasPrefix("/deployments/") == true)
            }
            #expect(try await store.status(service: "web").first?.deployments.first?.by?.hasPrefix("deployer-") == true)
        }
    }

    @Test func revokingTheTokenEndsItsSessions() async throws {
        try await withApp { client, store in
            let (cookie, _) = try await signIn(client, store, role: .viewer)
            try await client.execute(uri: "/", method: .get, headers: [.cookie: cookie]) { #expect($0.status == .ok) }
            let name = try await store.tokens().first { $0.role == .viewer }!.name
            try await Operations(store: store).revokeToken(name: name)
            try await client.execute(uri: "/", method: .get, headers: [.cookie: cookie]) { response in
                #expect(response.status == .seeOther && response.headers[.location] == "/login")
            }
            try await client.execute(uri: "/login", method: .post, headers: [.contentType: "application/x-www-form-urlencoded"],
                                     body: ByteBuffer(string: "token=x&csrf=y")) { #expect($0.status == .forbidden) }
        }
    }
}

extension HTTPFields {
    static func + (a: HTTPFields, b: HTTPFields) -> HTTPFields {
        var out = a
        out.append(contentsOf: b)
        return out
    }
}
