import Foundation
import SlipwayBuild
import SlipwayCore
import SlipwayDocker
import SlipwayRegistry
import Testing

/// The registry client against real registries: anonymous, basic auth (htpasswd) and token
/// auth (a token service, as Harbor and Docker Hub do it), each with an image the Docker
/// engine built and pushed there.
@Suite(.enabled(if: TestStack.enabled))
struct RegistryClientTests {
    static func login() throws -> RegistryLogin {
        RegistryLogin(username: try TestStack.value("SLIPWAY_STACK_REGISTRY_USER"),
                            password: try TestStack.value("SLIPWAY_STACK_REGISTRY_PASSWORD"))
    }

    /// Builds a one-layer image and pushes it to `host` with `login`; returns its tag and digest.
    static func push(to host: String, repository: String, tag: String, login: RegistryLogin?) async throws -> String {
        let engine = try DockerEngine(host: TestStack.dockerHost)
        let dir = try TestStack.temporaryDirectory("registry-client")
        try "FROM \(try TestStack.baseImage)\nLABEL build=\(UUID().uuidString)\n".write(toFile: "\(dir)/Dockerfile", atomically: true, encoding: .utf8)
        let auth = RegistryLogin(username: login?.username, password: login?.password, serveraddress: host)
        let built = try await EngineBuilder(engine: engine, auth: { _ in auth }).build(
            BuildRequest(contextDirectory: dir, dockerfile: "Dockerfile", reference: try ImageReference(parsing: "\(host)/\(repository):\(tag)"),
                         buildArgs: [:], network: TestStack.dockerNetwork, timeout: .minutes(2)),
            observer: RecordingObserver())
        return try #require(built.digest)
    }

    @Test(arguments: ["SLIPWAY_STACK_REGISTRY", "SLIPWAY_STACK_REGISTRY_BASIC", "SLIPWAY_STACK_REGISTRY_TOKEN"])
    func manifestsTagsAndDeletes(registry: String) async throws {
        let host = try TestStack.value(registry)
        let login = registry == "SLIPWAY_STACK_REGISTRY" ? nil : try Self.login()
        let repository = "it/client-\(UUID().uuidString.prefix(8).lowercased())"
        let first = try await Self.push(to: host, repository: repository, tag: "v1", login: login)
        let second = try await Self.push(to: host, repository: repository, tag: "v2", login: login)
        let client = RegistryClient { _ in login }

        #expect(try await client.manifestDigest(host: host, repository: repository, reference: "v1") == first)
        #expect(try await client.manifestDigest(host: host, repository: repository, reference: second) == second)
        #expect(try await client.manifestDigest(host: host, repository: repository, reference: "v3") == nil)
        let manifest = try #require(try await client.manifest(host: host, repository: repository, reference: "v2"))
        #expect(manifest.digest == second)
        #expect(manifest.mediaType?.contains("manifest") == true)
        #expect(try await client.tags(host: host, repository: repository).sorted() == ["v1", "v2"])
        #expect(try await client.tags(host: host, repository: "it/never-pushed").isEmpty)

        try await client.deleteManifest(host: host, repository: repository, digest: first)
        #expect(try await client.manifestDigest(host: host, repository: repository, reference: "v1") == nil)
        #expect(try await client.tags(host: host, repository: repository) == ["v2"])
        try await client.deleteManifest(host: host, repository: repository, digest: first)   // gone already: fine
    }

    @Test(arguments: ["SLIPWAY_STACK_REGISTRY_BASIC", "SLIPWAY_STACK_REGISTRY_TOKEN"])
    func wrongOrMissingLoginsSaySo(registry: String) async throws {
        let host = try TestStack.value(registry)
        let wrong = RegistryClient { _ in RegistryLogin(username: "slipway", password: "not-the-password") }
        let refused = await #expect(throws: RegistryError.self) {
            _ = try await wrong.manifestDigest(host: host, repository: "it/any", reference: "v1")
        }
        #expect(refused?.status == 401)
        #expect(refused?.description.contains("check the credentials for \(host)") == true, "\(String(describing: refused))")

        if registry == "SLIPWAY_STACK_REGISTRY_BASIC" {
            let anonymous = await #expect(throws: RegistryError.self) {
                _ = try await RegistryClient().tags(host: host, repository: "it/any")
            }
            #expect(anonymous?.description.contains("docker login \(host)") == true, "\(String(describing: anonymous))")
        }
    }

    @Test func anUnreachableRegistryIsTransient() async throws {
        let error = await #expect(throws: RegistryError.self) {
            _ = try await RegistryClient(timeout: .seconds(2)).manifestDigest(host: "127.0.0.1:1", repository: "a/b", reference: "v1")
        }
        #expect(error?.isTransient == true)
        #expect(error?.description.contains("did not answer") == true)
    }
}
