import Foundation
import SlipwayBuild
import SlipwayCore
import SlipwayDocker
import SlipwaySystem
import SlipwayTestSupport
import Testing

/// Build secrets on the real engine: the secret reaches the `RUN --mount=type=secret` step,
/// and is in no layer of the pushed image and in no line of the build log.
@Suite(.enabled(if: TestStack.enabled))
struct BuildSecretsTests {
    static let cli = "/usr/bin/docker"   // the docker.io package's client (20.10): BuildKit's session, no buildx needed

    @Test func aSecretIsUsedAndLeavesNoTrace() async throws {
        let engine = try DockerEngine(host: TestStack.dockerHost)
        let dir = try TestStack.temporaryDirectory("secret-build")
        let secret = "s3cr3t-\(UUID().uuidString)"
        // A secret's value is not part of BuildKit's cache key: the step is made unique so it runs with this one.
        let secretFile = "\(dir)-secret"
        try secret.write(toFile: secretFile, atomically: true, encoding: .utf8)
        try """
            FROM \(try TestStack.baseImage)
            ARG GREETING
            RUN --mount=type=secret,id=token sh -c 'sha256sum /run/secrets/token | cut -d" " -f1 > /token.sha; echo "greeting: $GREETING" # \(UUID().uuidString)'
            """.write(toFile: "\(dir)/Dockerfile", atomically: true, encoding: .utf8)
        let reference = try ImageReference(parsing: "\(try TestStack.registry)/it/secret-\(UUID().uuidString.prefix(8).lowercased()):v1")
        let observer = RecordingObserver()
        let builder = EngineBuilder(engine: engine, cli: (Self.cli, try TestStack.dockerHost))
        let built = try await builder.build(BuildRequest(contextDirectory: dir, dockerfile: "Dockerfile", reference: reference,
                                                         buildArgs: ["GREETING": "hello"], network: TestStack.dockerNetwork,
                                                         timeout: .minutes(3), secrets: ["token": .file(secretFile)],
                                                         secretReader: SecretReader(rules: SecretRules(
                                                             environmentPrefixes: [], folders: [(secretFile as NSString).deletingLastPathComponent]))),
                                            observer: observer)
        #expect(built.digest?.hasPrefix("sha256:") == true)
        let log = await observer.lines.joined(separator: "\n")
        #expect(log.contains("greeting: hello"), "\(log)")
        #expect(!log.contains(secret), "the secret is in the build log")

        let saved = try await engine.save(reference.description)
        #expect(saved.count > 1000)
        #expect(saved.range(of: Data(secret.utf8)) == nil, "the secret is in a layer")
        // What the step wrote from it is there: the secret was mounted.
        let hash = try Command.run("/bin/sh", ["-c", "printf %s \"$0\" | sha256sum | cut -d' ' -f1", secret]).output
        #expect(saved.range(of: Data(hash.utf8)) != nil, "the step did not see the secret")
    }

    @Test func withoutASessionCapableBuilderItSaysWhatToDo() async throws {
        let engine = try DockerEngine(host: TestStack.dockerHost)
        let dir = try TestStack.temporaryDirectory("secret-build")
        try "FROM scratch\n".write(toFile: "\(dir)/Dockerfile", atomically: true, encoding: .utf8)
        let failure = await #expect(throws: BuildFailure.self) {
            _ = try await EngineBuilder(engine: engine).build(
                BuildRequest(contextDirectory: dir, dockerfile: "Dockerfile", reference: try ImageReference(parsing: "r.example.com/a:b"),
                             buildArgs: [:], network: nil, timeout: .minutes(1), secrets: ["token": .environment("SLIPWAY_SECRET_NOPE")]),
                observer: RecordingObserver())
        }
        #expect(failure?.message.contains("SLIPWAY_DOCKER_CLI") == true)
        #expect(failure?.message.contains("BUILDKIT_HOST") == true)
    }
}
