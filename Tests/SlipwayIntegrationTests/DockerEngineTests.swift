import AsyncHTTPClient
import Foundation
import SlipwayBuild
import SlipwayCore
import SlipwayDocker
import SlipwayRuntime
import Testing

/// Collects what a build reports.
actor RecordingObserver: BuildObserver {
    var phases: [BuildPhase] = []
    var lines: [String] = []
    func phase(_ phase: BuildPhase) { phases.append(phase) }
    func log(_ lines: [String]) { self.lines += lines }
}

@Suite(.enabled(if: TestStack.enabled))
struct DockerEngineTests {
    let name = "it-\(UUID().uuidString.prefix(8).lowercased())"

    func context(_ dockerfile: String, files: [String: String] = [:]) throws -> String {
        let dir = try TestStack.temporaryDirectory("context")
        try dockerfile.write(toFile: "\(dir)/Dockerfile", atomically: true, encoding: .utf8)
        for (file, text) in files { try text.write(toFile: "\(dir)/\(file)", atomically: true, encoding: .utf8) }
        return dir
    }

    func request(_ dir: String, registry: String? = nil, tag: String = "abc123") throws -> BuildRequest {
        BuildRequest(contextDirectory: dir, dockerfile: "Dockerfile",
                     reference: try ImageReference(parsing: "\(registry ?? TestStack.registry)/it/\(name)").withTag(tag),
                     buildArgs: ["GREETING": "hi there"], network: TestStack.dockerNetwork, timeout: .minutes(5))
    }

    @Test func buildsWithBuildKitPushesAndTheRegistryHasTheDigest() async throws {
        let engine = try DockerEngine(host: TestStack.dockerHost)
        let dir = try context("""
            FROM \(try TestStack.baseImage)
            ARG GREETING
            COPY app.sh /app.sh
            RUN echo "built with $GREETING" # \(name): a new step, never cached
            CMD ["sh", "/app.sh"]
            """, files: ["app.sh": "echo up; sleep 300\n"])
        let observer = RecordingObserver()
        let built = try await EngineBuilder(engine: engine).build(try request(dir), observer: observer)

        #expect(built.reference == "\(try TestStack.registry)/it/\(name):abc123")
        let digest = try #require(built.digest)
        #expect(digest.hasPrefix("sha256:"))
        #expect(await observer.phases == [.building, .pushing])
        let lines = await observer.lines
        #expect(lines.contains { $0.hasSuffix(" built with hi there") }, "\(lines)")
        #expect(lines.contains { $0.contains("[3/3] RUN echo \"built with hi there\"") }, "\(lines)")

        var manifest = HTTPClientRequest(url: "http://\(try TestStack.registry)/v2/it/\(name)/manifests/abc123")
        manifest.method = .HEAD
        manifest.headers.add(name: "Accept", value: "application/vnd.docker.distribution.manifest.v2+json")
        let response = try await HTTPClient.shared.execute(manifest, timeout: .seconds(10))
        #expect(response.status == .ok)
        #expect(response.headers.first(name: "Docker-Content-Digest") == digest)
    }

    /// build.target picks a stage (a later, failing stage is never built), build.cache false
    /// rebuilds every step, and the registry's digest is what the plan asks for.
    @Test func targetStageNoCacheAndTheRegistryDigest() async throws {
        let engine = try DockerEngine(host: TestStack.dockerHost)
        let dir = try context("""
            FROM \(try TestStack.baseImage) AS runtime
            RUN echo "runtime stage \(name)"
            FROM runtime AS broken
            RUN exit 7
            """)
        var request = try request(dir)
        request.target = "runtime"
        let first = try await EngineBuilder(engine: engine).build(request, observer: RecordingObserver())
        request.cache = false
        let observer = RecordingObserver()
        let second = try await EngineBuilder(engine: engine).build(request, observer: observer)
        let lines = await observer.lines
        // Cached, the RUN step would print nothing the second time; without the cache it runs again.
        #expect(lines.contains { $0.hasSuffix(" runtime stage \(name)") }, "\(lines)")
        #expect(!lines.contains { $0.contains("exit 7") }, "\(lines)")

        let repository = "\(try TestStack.registry)/it/\(name)"
        #expect(try await engine.registryDigest("\(repository):abc123", auth: RegistryLogin()) == second.digest)
        #expect(first.digest != nil)
        #expect(try await engine.registryDigest("\(repository):never-pushed", auth: RegistryLogin()) == nil)
        let runtime = DockerRuntime(engine: engine, network: TestStack.dockerNetwork)
        #expect(await runtime.imagePresence(repository: repository, tag: "abc123") == .present(digest: second.digest!))
        #expect(await runtime.imagePresence(repository: repository, tag: "never-pushed") == .missing)
    }

    @Test func failingStepFailsTheBuildWithItsOutput() async throws {
        let engine = try DockerEngine(host: TestStack.dockerHost)
        let dir = try context("FROM \(try TestStack.baseImage)\nRUN echo compiling && echo 'syntax error in main.c' && exit 2\n")
        let observer = RecordingObserver()
        do {
            _ = try await EngineBuilder(engine: engine).build(try request(dir), observer: observer)
            Issue.record("expected the build to fail")
        } catch let failure as BuildFailure {
            #expect(failure.stage == .build)
            #expect(failure.message.contains("exit code: 2"))
        }
        #expect(await observer.lines.contains { $0.hasSuffix(" syntax error in main.c") })
        #expect(await observer.phases == [.building])
    }

    @Test func missingDockerfileAndUnreachableRegistry() async throws {
        let engine = try DockerEngine(host: TestStack.dockerHost)
        let empty = try TestStack.temporaryDirectory("empty")
        await #expect(throws: BuildFailure.self) { try await EngineBuilder(engine: engine).build(try request(empty), observer: RecordingObserver()) }

        let dir = try context("FROM \(try TestStack.baseImage)\nCMD [\"true\"]\n")
        do {
            _ = try await EngineBuilder(engine: engine).build(try request(dir, registry: "127.0.0.1:1"), observer: RecordingObserver())
            Issue.record("expected the push to fail")
        } catch let failure as BuildFailure {
            #expect(failure.stage == .push)
            // Said in plain words, and worth another try later.
            #expect(failure.transient, "\(failure)")
            #expect(failure.message.contains("could not be reached") || failure.message.contains("connection refused"), "\(failure)")
        }
    }

    @Test func runtimeRunsCountsCrashesReadsLogsAndRetires() async throws {
        let engine = try DockerEngine(host: TestStack.dockerHost)
        let runtime = DockerRuntime(engine: engine, network: TestStack.dockerNetwork)
        let dir = try context("FROM \(try TestStack.baseImage)\nCMD [\"sh\", \"-c\", \"echo hello $WHO; sleep 1; echo bye; exit 3\"]\n")
        let built = try await EngineBuilder(engine: engine).build(try request(dir), observer: RecordingObserver())
        let service = name

        let revision = Revision(service: service, deploymentID: 7, image: built.reference, sha: "abc123",
                                count: 2, env: ["WHO": "slipway"])
        let instances = try await runtime.start(revision).instances
        #expect(instances.count == 2)
        #expect(instances.map(\.name) == ["slipway-\(service)-7-1", "slipway-\(service)-7-2"])

        var exits: [CrashWatch.Exit] = []
        let deadline = ContinuousClock.now + .seconds(20)
        while exits.count < 2 && ContinuousClock.now < deadline {
            exits = try await runtime.instances(of: revision).compactMap(\.exit)
            try await Task.sleep(for: .milliseconds(200))
        }
        #expect(exits.map(\.exitCode) == [3, 3])
        #expect(try await runtime.logTail(revision, instance: exits[0].instance, lines: 5) == ["hello slipway", "bye"])

        // A retried start replaces the first attempt's containers instead of failing on their names.
        _ = try await runtime.start(Revision(service: service, deploymentID: 7, image: built.reference, sha: "abc123", count: 1, env: [:]))
        #expect(try await runtime.instances(of: revision).count == 1)

        var other = revision
        other.deploymentID = 8
        #expect(try await runtime.retire(except: other) == 1)
        #expect(try await runtime.instances(of: revision).isEmpty)
    }

    /// Two installations on one engine, each with a service `web` at deployment 7: neither
    /// sees, counts, retires nor tears down the other's containers; a container from before
    /// installation labels (none) is still its installation's.
    @Test func twoInstallationsOnOneEngineLeaveEachOtherAlone() async throws {
        let engine = try DockerEngine(host: TestStack.dockerHost)
        let (a, b) = (UUID().uuidString.lowercased(), UUID().uuidString.lowercased())
        let first = DockerRuntime(engine: engine, network: TestStack.dockerNetwork, installation: a)
        let second = DockerRuntime(engine: engine, network: TestStack.dockerNetwork, installation: b)
        let legacy = DockerRuntime(engine: engine, network: TestStack.dockerNetwork)
        let dir = try context("FROM \(try TestStack.baseImage)\nCMD [\"sh\", \"-c\", \"trap 'exit 0' TERM; while true; do sleep 1; done\"]\n")
        let built = try await EngineBuilder(engine: engine).build(try request(dir, tag: "shared"), observer: RecordingObserver())
        let service = name
        let revision = Revision(service: service, deploymentID: 7, image: built.reference, sha: "abc123", count: 1, env: [:])
        defer {
            for runtime in [first, second, legacy] { Task { try? await runtime.tearDown(.main(service), policy: nil, images: []) } }
        }
        let mine = try await first.start(revision).instances
        let theirs = try await second.start(revision).instances
        #expect(mine.count == 1 && theirs.count == 1 && mine[0].id != theirs[0].id, "\(mine) \(theirs)")
        #expect(mine[0].name == "slipway-\(service)-7-1-\(a.prefix(8))")
        #expect(try await first.instances(of: revision).map(\.id) == mine.map(\.id))
        let policy = Policy(service: service, source: .init(repo: "https://github.com/acme/web.git"), image: "r.example.com/web")
        #expect(try await first.observe([policy], knownImages: [:])[service]?.map(\.running) == [1])

        // A new revision of the first installation retires its own old one, not the other's.
        var next = revision
        next.deploymentID = 8
        #expect(try await first.retirees(except: next) == mine.map(\.id))
        #expect(try await first.retire(except: next) == 1)
        #expect(try await second.instances(of: revision).map(\.id) == theirs.map(\.id))
        // Tearing the service down in the first leaves the second's running.
        try await first.tearDown(.main(service), policy: nil, images: [])
        #expect(try await second.instances(of: revision).filter(\.running).count == 1)
        // An unlabelled runtime's container (made before labels) is seen by a labelled one.
        var old = revision
        old.deploymentID = 6
        _ = try await legacy.start(old)
        #expect(try await first.retirees(except: next).count == 1)
        try await second.tearDown(.main(service), policy: nil, images: [])
        #expect(try await legacy.instances(of: revision).isEmpty)
    }

    @Test func revisionThatCannotStartLeavesNothingBehind() async throws {
        let engine = try DockerEngine(host: TestStack.dockerHost)
        let runtime = DockerRuntime(engine: engine, network: TestStack.dockerNetwork)
        let dir = try context("FROM \(try TestStack.baseImage)\nCMD [\"/no/such/binary\"]\n")
        let built = try await EngineBuilder(engine: engine).build(try request(dir, tag: "broken"), observer: RecordingObserver())
        let revision = Revision(service: name, deploymentID: 1, image: built.reference, sha: nil, count: 1, env: [:])
        await #expect(throws: RuntimeFailure.self) {
            try await runtime.start(revision)
        }
        #expect(try await runtime.instances(of: revision).isEmpty)
        await #expect(throws: RuntimeFailure.self) {
            try await runtime.start(Revision(service: name, deploymentID: 2, image: "127.0.0.1:1/none/such:tag", sha: nil, count: 1, env: [:]))
        }
    }
}
