import Crypto
import _CryptoExtras
import Foundation
import SlipwayCore
import SlipwayGit
import SlipwaySourceHosts
import Testing

/// Host keys against known_hosts, and the GitHub App's JWT and token cache, on in-memory seams.
@Suite struct SourceHostsTests {
    static let key = Data((0..<51).map { UInt8($0) })
    static let other = Data((0..<51).map { UInt8(255 - $0) })

    static func hashed(_ name: String, salt: Data) -> String {
        let mac = HMAC<Insecure.SHA1>.authenticationCode(for: Data(name.utf8), using: SymmetricKey(data: salt))
        return "|1|\(salt.base64EncodedString())|\(Data(mac).base64EncodedString())"
    }

    @Test func hostKeysAreKnownChangedRevokedOrUnknown() {
        let hosts = KnownHosts("""
            # the test server
            [127.0.0.1]:2222 ssh-ed25519 \(Self.key.base64EncodedString())
            github.com,140.82.112.3 ssh-ed25519 \(Self.other.base64EncodedString())
            \(Self.hashed("[git.acme.internal]:7999", salt: Data(repeating: 7, count: 20))) ssh-ed25519 \(Self.key.base64EncodedString())
            *.corp.example ssh-ed25519 \(Self.key.base64EncodedString())
            @revoked old.example ssh-ed25519 \(Self.key.base64EncodedString())
            """)
        #expect(hosts.verdict(host: "127.0.0.1", port: 2222, keyType: "ssh-ed25519", key: Self.key) == .known)
        #expect(hosts.verdict(host: "127.0.0.1", port: 2222, keyType: "ssh-ed25519", key: Self.other) == .changed)
        #expect(hosts.verdict(host: "127.0.0.1", port: 22, keyType: "ssh-ed25519", key: Self.key) == .unknown)
        #expect(hosts.verdict(host: "GitHub.com", port: 22, keyType: "ssh-ed25519", key: Self.other) == .known)
        #expect(hosts.verdict(host: "git.acme.internal", port: 7999, keyType: "ssh-ed25519", key: Self.key) == .known)
        #expect(hosts.verdict(host: "git.acme.internal", port: 7999, keyType: "ssh-ed25519", key: Self.other) == .changed)
        #expect(hosts.verdict(host: "build.corp.example", port: 22, keyType: "ssh-ed25519", key: Self.key) == .known)
        #expect(hosts.verdict(host: "old.example", port: 22, keyType: "ssh-ed25519", key: Self.key) == .revoked)
        #expect(hosts.verdict(host: "elsewhere", port: 22, keyType: "ssh-ed25519", key: Self.key) == .unknown)
    }

    static let appKey = try! _RSA.Signing.PrivateKey(keySize: .bits2048)

    @Test func theAppsJWTIsRS256SignedByItsKeyWithinGitHubsLimits() throws {
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        let jwt = try GitHubAppJWT.make(appID: "4242", privateKeyPEM: Self.appKey.pemRepresentation, now: now)
        let parts = jwt.split(separator: ".").map(String.init)
        #expect(parts.count == 3)
        func decode(_ s: String) -> Data {
            var b = s.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
            while b.count % 4 != 0 { b += "=" }
            return Data(base64Encoded: b)!
        }
        let header = try JSONSerialization.jsonObject(with: decode(parts[0])) as! [String: Any]
        let claims = try JSONSerialization.jsonObject(with: decode(parts[1])) as! [String: Any]
        #expect(header["alg"] as? String == "RS256")
        #expect(claims["iss"] as? String == "4242")
        let iat = claims["iat"] as! Int, exp = claims["exp"] as! Int
        #expect(iat <= Int(now.timeIntervalSince1970) && exp > Int(now.timeIntervalSince1970) && exp - iat <= 600)
        let signature = _RSA.Signing.RSASignature(rawRepresentation: decode(parts[2]))
        #expect(Self.appKey.publicKey.isValidSignature(signature, for: Data("\(parts[0]).\(parts[1])".utf8), padding: .insecurePKCS1v1_5))
        let stranger = try _RSA.Signing.PrivateKey(keySize: .bits2048)
        #expect(!stranger.publicKey.isValidSignature(signature, for: Data("\(parts[0]).\(parts[1])".utf8), padding: .insecurePKCS1v1_5))
        #expect(throws: GitHubAppJWT.Invalid.self) { try GitHubAppJWT.make(appID: "1", privateKeyPEM: "nope", now: now) }
    }

    @Test func installationTokensAreReusedUntilNearExpiryThenRenewed() async throws {
        let clock = MutableClock(Date(timeIntervalSince1970: 1_800_000_000))
        let github = FakeGitHub(clock: clock)
        let tokens = GitHubAppTokens(transport: github, now: { clock.now })
        let app = GitCredential.GitHubApp(appID: "4242", privateKey: Self.appKey.pemRepresentation)
        let first = try await tokens.token(app: app, api: "https://api.github.com", repository: "acme/shop")
        #expect(try await tokens.token(app: app, api: "https://api.github.com", repository: "acme/shop") == first)
        clock.advance(by: 3600 - 400)   // 400 s before expiry: still good
        #expect(try await tokens.token(app: app, api: "https://api.github.com", repository: "acme/shop") == first)
        clock.advance(by: 200)          // 200 s before: renewed
        let second = try await tokens.token(app: app, api: "https://api.github.com", repository: "acme/shop")
        #expect(second != first)
        #expect(await tokens.issued == 2)
        #expect(github.calls.filter { $0.hasPrefix("POST") }.count == 2)
    }

    @Test func anAppNotInstalledOnTheOwnerSaysSo() async throws {
        let clock = MutableClock(Date())
        let tokens = GitHubAppTokens(transport: FakeGitHub(clock: clock, installed: false), now: { clock.now })
        let app = GitCredential.GitHubApp(appID: "1", privateKey: Self.appKey.pemRepresentation)
        await #expect {
            _ = try await tokens.token(app: app, api: "https://api.github.com", repository: "acme/shop")
        } throws: { error in
            (error as? GitHubAppTokens.Refused)?.description.contains("is the App installed") == true
        }
    }
}

final class MutableClock: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Date
    init(_ start: Date) { value = start }
    var now: Date { lock.withLock { value } }
    func advance(by seconds: TimeInterval) { lock.withLock { value += seconds } }
}

/// GitHub's two App endpoints, in memory: an installation per repository, hour-long tokens.
final class FakeGitHub: APITransport, @unchecked Sendable {
    let clock: MutableClock
    let installed: Bool
    private let lock = NSLock()
    private var _calls: [String] = []
    var calls: [String] { lock.withLock { _calls } }
    init(clock: MutableClock, installed: Bool = true) {
        self.clock = clock
        self.installed = installed
    }

    func send(_ call: APICall) async throws -> APIAnswer {
        lock.withLock { _calls.append("\(call.method) \(call.url)") }
        #expect(call.headers.contains { $0.0 == "Authorization" && $0.1.hasPrefix("Bearer ey") })
        if call.url.hasSuffix("/installation") {
            return installed ? APIAnswer(status: 200, body: #"{"id": 77}"#) : APIAnswer(status: 404, body: #"{"message":"Not Found"}"#)
        }
        let expires = ISO8601DateFormatter().string(from: clock.now.addingTimeInterval(3600))
        return APIAnswer(status: 201, body: #"{"token": "ghs_\#(UUID().uuidString)", "expires_at": "\#(expires)"}"#)
    }
}

/// Which credential the source host's API gets, from a policy's `user:password` or a server setting.
@Suite struct APICredentialTests {
    @Test(arguments: [
        ("ada", "app-password", CommitStatus.Provider.bitbucket, APICredential.basic(user: "ada", password: "app-password")),
        ("x-token-auth", "repo-token", .bitbucket, .token("repo-token")),
        ("x-access-token", "repo-token", .bitbucketServer, .token("repo-token")),
        ("ada", "http-token", .bitbucketServer, .basic(user: "ada", password: "http-token")),
        ("x-access-token", "ghs_1", .github, .token("ghs_1")),
        ("ada", "ghp_2", .github, .token("ghp_2")),
        ("oauth2", "glpat-3", .gitlab, .token("glpat-3")),
    ])
    func aPolicysPair(_ user: String, _ password: String, _ provider: CommitStatus.Provider, _ expected: APICredential) {
        #expect(APICredential.policy(user: user, password: password, provider: provider) == expected)
    }

    @Test(arguments: [
        ("ada:app-password", CommitStatus.Provider.bitbucket, APICredential.basic(user: "ada", password: "app-password")),
        ("token-without-colon", .bitbucket, .token("token-without-colon")),
        (":starts-with-colon", .bitbucketServer, .token(":starts-with-colon")),
        ("ghp_a:b", .github, .token("ghp_a:b")),
        ("glpat", .gitlab, .token("glpat")),
    ])
    func aServerSetting(_ value: String, _ provider: CommitStatus.Provider, _ expected: APICredential) {
        #expect(APICredential.setting(value, provider: provider) == expected)
    }
}

/// The generic webhook's signature is GitHub's scheme, checked against GitHub's documented example.
@Suite struct NotificationCallTests {
    @Test func theSignatureIsTheHMACOfTheBody() {
        #expect(NotificationCall.signature(Array("Hello, World!".utf8), secret: "It's a Secret to Everybody")
                == "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17")
    }

    @Test func aWebhookCallCarriesItsDeliveryEventAndSignatureAndSlackGetsNone() {
        let body = Array(#"{"a":1}"#.utf8)
        let hook = NotificationCall.make(kind: .webhook, url: "https://h.example.com/x", body: body, event: .rolledBack,
                                         delivery: "d-1", secret: "s3cret")
        let headers = Dictionary(hook.headers, uniquingKeysWith: { a, _ in a })
        #expect(headers["X-Slipway-Delivery"] == "d-1" && headers["X-Slipway-Event"] == "rolled_back")
        #expect(headers["X-Slipway-Signature"] == NotificationCall.signature(body, secret: "s3cret"))
        #expect(hook.method == "POST" && hook.body == Data(body))
        let slack = NotificationCall.make(kind: .slack, url: "https://hooks.slack.com/services/T/B/X", body: body, event: .failed,
                                          delivery: "d-2", secret: nil)
        #expect(!slack.headers.contains { $0.0.hasPrefix("X-Slipway") })
    }
}
