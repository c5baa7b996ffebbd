import Foundation
import SlipwayBuild
import SlipwayCore
import SlipwayDocker
import SlipwaySystem
import SlipwayTestSupport
import Testing

/// build.timeout ends a build that hangs, in both engine paths, and an unchanged context
/// builds again from the cache.
@Suite(.enabled(if: TestStack.enabled))
struct BuildGuardrailTests {
    func context(_ dockerfile: String) throws -> String {
        let dir = try TestStack.temporaryDirectory("guardrails")
        try dockerfile.write(toFile: "\(dir)/Dockerfile", atomically: true, encoding: .utf8)
        return dir
    }

    func request(_ dir: String, timeout: TimeSpan, secrets: [String: SecretReference] = [:]) throws -> BuildRequest {
        BuildRequest(contextDirectory: dir, dockerfile: "Dockerfile",
                     reference: try ImageReference(parsing: "\(try TestStack.registry)/it/guard-\(UUID().uuidString.prefix(8).lowercased()):v1"),
                     buildArgs: [:], network: TestStack.dockerNetwork, timeout: timeout, secrets: secrets,
                     secretReader: SecretReader(rules: SecretRules(environmentPrefixes: [], folders: [dir])))
    }

    /// A builder for either engine path: the API, or the CLI (a build with a secret).
    func hangingBuild(throughTheCLI: Bool, timeout: TimeSpan) throws -> (EngineBuilder, BuildRequest, marker: String) {
        let engine = try DockerEngine(host: TestStack.dockerHost)
        let marker = UUID().uuidString
        // A command after the sleep keeps the shell (whose command line names the marker) alive.
        let dir = try context("FROM \(try TestStack.baseImage)\nRUN echo \(marker) && sleep 120 && echo after\n")
        var secrets: [String: SecretReference] = [:]
        if throughTheCLI {
            try "x".write(toFile: "\(dir)/.secret", atomically: true, encoding: .utf8)
            secrets["unused"] = .file("\(dir)/.secret")
        }
        return (EngineBuilder(engine: engine, cli: (BuildSecretsTests.cli, try TestStack.dockerHost)),
                try request(dir, timeout: timeout, secrets: secrets), marker)
    }

    static func running(_ marker: String) -> Bool {
        (try? Command.run("/usr/bin/pgrep", ["-f", marker], check: false).status) == 0
    }

    /// Cancelled while its step runs (a `builds cancel`, a newer push): the build returns within
    /// 5 s, and the step's process (the engine runs on this machine) is gone within 10 s — the
    /// engine's own teardown. deploy/test.sh runs this suite after the others, on a quiet
    /// machine: beside the whole suite the engine's timings measure the machine, not Slipway.
    @Test(arguments: [false, true])
    func aCancelledBuildStopsWithinSeconds(throughTheCLI: Bool) async throws {
        let (builder, request, marker) = try hangingBuild(throughTheCLI: throughTheCLI, timeout: .minutes(5))
        let building = Task { try await builder.build(request, observer: RecordingObserver()) }
        let waiting = ContinuousClock.now
        while !Self.running(marker) && ContinuousClock.now - waiting < .seconds(90) { try await Task.sleep(for: .milliseconds(50)) }
        #expect(Self.running(marker), "the build step was never seen running")
        let asked = ContinuousClock.now
        building.cancel()
        _ = try? await building.value
        let ended = ContinuousClock.now - asked
        while Self.running(marker) && ContinuousClock.now - asked < .seconds(15) { try await Task.sleep(for: .milliseconds(50)) }
        let gone = ContinuousClock.now - asked
        #expect(ended < .seconds(5), "the build returned \(ended) after the cancel")
        #expect(gone < .seconds(10), "the step still ran \(gone) after the cancel")
        print("build cancel (\(throughTheCLI ? "CLI" : "engine API")): returned after \(ended), step gone after \(gone)")
    }

    @Test(arguments: [false, true])
    func aBuildThatHangsFailsAtItsTimeout(throughTheCLI: Bool) async throws {
        let (builder, request, marker) = try hangingBuild(throughTheCLI: throughTheCLI, timeout: .seconds(3))
        let started = ContinuousClock.now
        let failure = await #expect(throws: BuildFailure.self) { _ = try await builder.build(request, observer: RecordingObserver()) }
        let took = ContinuousClock.now - started
        // Whether or not the step had started, none of it runs 10 s later (the engine tears the step down itself).
        let after = ContinuousClock.now
        while Self.running(marker) && ContinuousClock.now - after < .seconds(10) { try await Task.sleep(for: .milliseconds(50)) }
        #expect(!Self.running(marker), "the step still runs after the timeout")
        #expect(failure?.message.contains("build.timeout") == true, "\(String(describing: failure))")
        #expect(took < .seconds(15), "ended \(took) after it started (timeout 3 s)")
        print("build timeout 3 s (\(throughTheCLI ? "CLI" : "engine API")): failed after \(took)")
    }

    @Test func anUnchangedContextIsMostlyCacheHits() async throws {
        let engine = try DockerEngine(host: TestStack.dockerHost)
        let dir = try context("""
            FROM \(try TestStack.baseImage)
            RUN echo one \(UUID().uuidString) > /one
            RUN echo two > /two
            RUN echo three > /three
            """)
        let request = try request(dir, timeout: .minutes(2))
        let cold = RecordingObserver()
        let coldStart = ContinuousClock.now
        _ = try await EngineBuilder(engine: engine).build(request, observer: cold)
        let coldTime = ContinuousClock.now - coldStart
        let warm = RecordingObserver()
        let warmStart = ContinuousClock.now
        _ = try await EngineBuilder(engine: engine).build(request, observer: warm)
        let warmTime = ContinuousClock.now - warmStart
        let coldCached = await cold.lines.filter { $0.hasSuffix(" CACHED") }.count
        let warmLines = await warm.lines
        let warmCached = warmLines.filter { $0.hasSuffix(" CACHED") }.count
        #expect(warmCached >= 4, "FROM and the three RUN steps: \(warmLines)")
        #expect(warmCached > coldCached)
        print("cache: cold build \(coldTime) (\(coldCached) steps cached), warm \(warmTime) (\(warmCached) cached)")
    }

    /// Each image carries its build cache; the next build names the last image and imports its
    /// cache from the registry (the engine's own cache is left alone: other tests share it).
    @Test func theBuildCacheTravelsWithTheImage() async throws {
        let engine = try DockerEngine(host: TestStack.dockerHost)
        let dir = try context("FROM \(try TestStack.baseImage)\nRUN echo \(UUID().uuidString) > /id\n")
        let first = try request(dir, timeout: .minutes(2))
        _ = try await EngineBuilder(engine: engine).build(first, observer: RecordingObserver())
        var second = first
        second.reference = first.reference.withTag("v2")
        second.cacheFrom = [first.reference.description]
        let observer = RecordingObserver()
        _ = try await EngineBuilder(engine: engine).build(second, observer: observer)
        let lines = await observer.lines
        #expect(lines.contains { $0.contains("importing cache manifest from \(first.reference.description)") }, "\(lines)")
        #expect(!lines.contains { $0.contains("ERROR") }, "\(lines)")
    }
}
