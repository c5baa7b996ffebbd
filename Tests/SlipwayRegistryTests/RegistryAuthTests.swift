import SlipwayCore
import Foundation
@testable import SlipwayRegistry
import Testing

@Suite struct RegistryAuthTests {
    @Test(arguments: [
        (#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull""#,
         Challenge.bearer(realm: "https://auth.docker.io/token", service: "registry.docker.io", scope: "repository:library/busybox:pull")),
        (#"Bearer realm="https://harbor.example.com/service/token", service="harbor-registry", scope="repository:team/web:pull,push""#,
         Challenge.bearer(realm: "https://harbor.example.com/service/token", service: "harbor-registry", scope: "repository:team/web:pull,push")),
        (#"Basic realm="slipway""#, Challenge.basic(realm: "slipway")),
        (#"basic realm=Registry"#, Challenge.basic(realm: "Registry")),
        (#"Bearer realm="https://r.example.com/token""#, Challenge.bearer(realm: "https://r.example.com/token", service: nil, scope: nil)),
    ] as [(String, Challenge)])
    func challenges(header: String, want: Challenge) {
        #expect(Challenge.parse(header) == want)
    }

    /// A policy's login is for the registry of its image: any other host gets the server's own, or none.
    @Test func aPolicyLoginGoesToItsRegistryOnly() async throws {
        let server = RegistryLogin(username: "server", password: "s")
        let base = RegistryClient { host in host == "shared.example.com" ? server : nil }
        let client = base.logging(in: RegistryLogin(username: "team", password: "t"), at: "team.example.com")
        #expect(try await client.credentials("team.example.com")?.username == "team")
        #expect(try await client.credentials("attacker.example.com") == nil)
        #expect(try await client.credentials("shared.example.com")?.username == "server")
    }

    @Test func challengesItCannotFollow() {
        #expect(Challenge.parse("Bearer service=\"x\"") == nil, "no realm")
        #expect(Challenge.parse("Negotiate abc") == nil)
        #expect(Challenge.parse("") == nil)
    }

    @Test func dockerConfigLogins() {
        let json = """
            {"auths": {"https://index.docker.io/v1/": {"auth": "\(Data("me:hub-secret".utf8).base64EncodedString())"},
                       "127.0.0.1:5000": {"username": "ci", "password": "p:w"},
                       "ghcr.io": {"auth": "bm90LWEtcGFpcg=="}},
             "credsStore": "desktop"}
            """
        let config = DockerConfig(json: Data(json.utf8))
        #expect(config.credentials(for: "docker.io") == RegistryLogin(username: "me", password: "hub-secret"))
        #expect(config.credentials(for: "127.0.0.1:5000") == RegistryLogin(username: "ci", password: "p:w"))
        #expect(config.credentials(for: "ghcr.io") == nil, "not user:password")
        #expect(DockerConfig(json: Data("not json".utf8)).logins.isEmpty)
    }

    @Test func pagesAndSchemes() {
        #expect(RegistryClient.nextPage(#"</v2/a/tags/list?n=100&last=v9>; rel="next""#) == "/v2/a/tags/list?n=100&last=v9")
        #expect(RegistryClient.nextPage(#"<https://r.example.com/v2/a/tags/list?last=v9&n=100>; rel="next""#) == "/v2/a/tags/list?last=v9&n=100")
        #expect(RegistryClient.nextPage(#"</v2/a/tags/list?n=100>; rel="prev""#) == nil)
        #expect(RegistryClient.scheme("127.0.0.1:5000") == "http")
        #expect(RegistryClient.scheme("localhost:5000") == "http")
        #expect(RegistryClient.scheme("registry.localhost") == "http")
        #expect(RegistryClient.scheme("ghcr.io") == "https")
        #expect(RegistryClient.scheme("10.0.0.5:5000") == "https")
    }
}
