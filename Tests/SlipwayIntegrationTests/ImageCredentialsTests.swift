import Foundation
import SlipwayBuild
import SlipwayCore
import SlipwayDocker
import SlipwayRegistry
import SlipwaySystem
import Testing

/// A policy's `imageCredentials` log in to its registry: the push to the registry with
/// htpasswd auth works with them and is refused without them.
@Suite(.enabled(if: TestStack.enabled))
struct ImageCredentialsTests {
    @Test func aPolicyLoginPushesWhereTheServerHasNone() async throws {
        let host = try TestStack.value("SLIPWAY_STACK_REGISTRY_BASIC")
        let login = try RegistryClientTests.login()
        let file = try TestStack.temporaryDirectory("login") + "/login"
        try "\(login.username ?? ""):\(login.password ?? "")\n".write(toFile: file, atomically: true, encoding: .utf8)
        // Policies may read files of this folder only (SLIPWAY_POLICY_SECRET_DIRS).
        let reader = SecretReader(rules: SecretRules(environmentPrefixes: ["SLIPWAY_SECRET_"], folders: [(file as NSString).deletingLastPathComponent]))
        let auth = try RegistryLogin.from(.file(file), registry: host, reader: reader)
        #expect(auth.username == login.username && auth.password == login.password, "the trailing newline is not part of it")

        let engine = try DockerEngine(host: TestStack.dockerHost)
        let dir = try TestStack.temporaryDirectory("login-build")
        try "FROM \(try TestStack.baseImage)\nLABEL id=\(UUID().uuidString)\n".write(toFile: "\(dir)/Dockerfile", atomically: true, encoding: .utf8)
        var request = BuildRequest(contextDirectory: dir, dockerfile: "Dockerfile",
                                   reference: try ImageReference(parsing: "\(host)/it/login-\(UUID().uuidString.prefix(8).lowercased()):v1"),
                                   buildArgs: [:], network: TestStack.dockerNetwork, timeout: .minutes(2))
        // The server knows no login for this registry: refused, in plain words.
        let refused = await #expect(throws: BuildFailure.self) { _ = try await EngineBuilder(engine: engine).build(request, observer: RecordingObserver()) }
        #expect(refused?.stage == .push)
        #expect(refused?.transient == false, "\(String(describing: refused))")

        request.registryLogin = auth
        let built = try await EngineBuilder(engine: engine).build(request, observer: RecordingObserver())
        let digest = try #require(built.digest)
        let client = RegistryClient().logging(in: login, at: host)
        #expect(try await client.manifestDigest(host: host, repository: request.reference.path, reference: "v1") == digest)

        #expect(throws: RegistryLogin.Unreadable.self) { try RegistryLogin.from(.environment("SLIPWAY_SECRET_NO_SUCH_LOGIN"), registry: host, reader: reader) }
        try "no-colon".write(toFile: file, atomically: true, encoding: .utf8)
        #expect(throws: RegistryLogin.Unreadable.self) { try RegistryLogin.from(.file(file), registry: host, reader: reader) }
        // The server's own settings are never a policy's login, wherever it would be sent.
        let own = SecretReader(rules: reader.rules, environment: ["DATABASE_URL": "postgres://u:p@db/x", "SLIPWAY_WEBHOOK_SECRET_GITHUB": "s"])
        for name in ["DATABASE_URL", "SLIPWAY_WEBHOOK_SECRET_GITHUB"] {
            #expect(throws: RegistryLogin.Unreadable.self) { try RegistryLogin.from(.environment(name), registry: host, reader: own) }
        }
    }
}
