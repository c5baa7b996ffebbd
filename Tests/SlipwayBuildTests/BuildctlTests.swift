import Foundation
import SlipwayBuild
import SlipwayCore
import SlipwayDocker
import SlipwaySystem
import Testing

@Suite struct BuildctlTests {
    func fixture(_ name: String) throws -> [Data] {
        let url = try #require(Bundle.module.url(forResource: "Fixtures/\(name)", withExtension: nil))
        return try String(contentsOf: url, encoding: .utf8).split(separator: "\n").map { Data($0.utf8) }
    }

    static func request(cache: Bool = true, target: String? = nil, platform: String? = nil) throws -> BuildRequest {
        BuildRequest(contextDirectory: "/work/42/services/web", dockerfile: "docker/Dockerfile.prod",
                     reference: try ImageReference(parsing: "registry.example.com/acme/web:0123abc"),
                     buildArgs: ["NODE_ENV": "production", "A": "1 2"], network: nil, timeout: .minutes(5),
                     target: target, cache: cache, platform: platform)
    }

    @Test func theCommandLine() throws {
        let argv = BuildctlArguments.build(try Self.request(target: "runtime", platform: "linux/arm64"), host: "tcp://buildkitd:1234",
                                           metadataFile: "/tmp/m.json", secrets: [.init(id: "npm", file: "/tmp/s/secret-npm")])
        #expect(argv == [
            "--addr", "tcp://buildkitd:1234", "build",
            "--frontend", "dockerfile.v0",
            "--local", "context=/work/42/services/web",
            "--local", "dockerfile=/work/42/services/web/docker",
            "--opt", "filename=Dockerfile.prod",
            "--opt", "build-arg:A=1 2",
            "--opt", "build-arg:NODE_ENV=production",
            "--opt", "target=runtime",
            "--opt", "platform=linux/arm64",
            "--secret", "id=npm,src=/tmp/s/secret-npm",
            "--output", "type=image,name=registry.example.com/acme/web:0123abc,push=true",
            "--export-cache", "type=registry,ref=registry.example.com/acme/web:buildcache,mode=max",
            "--import-cache", "type=registry,ref=registry.example.com/acme/web:buildcache",
            "--metadata-file", "/tmp/m.json",
            "--progress", "rawjson",
        ])
        let plain = BuildctlArguments.build(try Self.request(cache: false), host: "unix:///run/buildkit/buildkitd.sock", metadataFile: "/m")
        #expect(plain.contains("--no-cache"))
        #expect(!plain.contains("--secret") && !plain.contains { $0.hasPrefix("target=") || $0.hasPrefix("platform=") })
        #expect(BuildctlArguments.digest(metadata: Data(#"{"containerimage.digest":"sha256:abc","image.name":"r/a:b"}"#.utf8)) == "sha256:abc")
        #expect(BuildctlArguments.digest(metadata: Data("{}".utf8)) == nil)
    }

    @Test func rawJSONProgressReadsLikeTheEnginesLog() throws {
        var progress = BuildProgress()
        let lines = try fixture("buildctl-rawjson-ok.txt").flatMap { progress.consumeRawJSON($0) }
        #expect(lines == [
            "#1 [internal] load build definition from Dockerfile",
            "#1 DONE 0.0s",
            "#2 [1/3] FROM docker.io/library/alpine:3.20@sha256:beefdbd8a1da6d2915566fde36db9db0b524eb737fc57cd1367effd16dc0d06d",
            "#2 CACHED",
            "#3 [2/3] COPY app.sh /app.sh",
            "#3 CACHED",
            "#4 [3/3] RUN --mount=type=secret,id=token sh /app.sh",
            "#4 installing",
            "#4 half a line",
            "#4 DONE 2.2s",
            "#5 exporting to image",
            "#5 DONE 1.5s",
        ])
        #expect(progress.error == nil)
    }

    @Test func rawJSONFailureNamesTheStep() throws {
        var progress = BuildProgress()
        let lines = try fixture("buildctl-rawjson-error.txt").flatMap { progress.consumeRawJSON($0) }
        #expect(lines.contains("#1 boom"))
        #expect(lines.contains(#"#1 ERROR: process "/bin/sh -c exit 3" did not complete successfully: exit code: 3"#))
        #expect(progress.error == #"failed to solve: process "/bin/sh -c exit 3" did not complete successfully: exit code: 3"#)
    }

    /// A real process tree (a shell and its sleep), ended by cancelling the task that runs it.
    @Test func cancellingEndsTheCommandWithinSeconds() async throws {
        let seen = LineBox()
        let started = ContinuousClock.now
        let task = Task {
            try await StreamingProcess(grace: .seconds(2)).run("/bin/sh", ["-c", "echo one; echo two >&2; sleep 30; echo never"], environment: [:]) {
                await seen.add($0)
            }
        }
        while await seen.lines.count < 2 && ContinuousClock.now - started < .seconds(10) { try await Task.sleep(for: .milliseconds(20)) }
        let asked = ContinuousClock.now
        task.cancel()
        let status = try await task.value
        // Well short of the 30 s sleep that would run out uncancelled; loose enough for a loaded machine.
        #expect(ContinuousClock.now - asked < .seconds(20))
        #expect(status == 128 + 15, "ended by SIGTERM")
        #expect(await seen.lines == ["one", "two"])
        await #expect(throws: StreamingProcess.NotFound.self) {
            _ = try await StreamingProcess().run("/no/such/buildctl", [], environment: [:]) { _ in }
        }
    }
}

actor LineBox {
    var lines: [String] = []
    func add(_ line: String) { lines.append(line) }
}

/// BuildKit's and registries' errors, in words that say what to do, and whether trying
/// again can help.
@Suite struct BuildFailureWordsTests {
    @Test(arguments: [
        ("failed to copy: write /var/lib/buildkit/runc-overlayfs/snapshots/12/fs/app.bin: no space left on device",
         "the builder's disk is full", false),
        ("dockerfile parse error on line 2: unknown instruction: RUNN", "the Dockerfile has a syntax error", false),
        ("failed to authorize: failed to fetch oauth token: unexpected status: 401 Unauthorized", "the registry refused the login", false),
        ("failed to do request: Head \"https://r.example.com/v2/a/manifests/b\": dial tcp 10.0.0.9:443: connect: connection refused",
         "could not be reached", true),
        ("received unexpected HTTP status: 503 Service Unavailable", "503 Service Unavailable", true),
        ("process \"/bin/sh -c make\" did not complete successfully: exit code: 2", "exit code: 2", false),
    ] as [(String, String, Bool)])
    func words(error: String, says: String, transient: Bool) {
        let failure = BuildFailure(stage: .build, message: BuildFailure.plainWords(error))
        #expect(failure.message.contains(says), "\(failure.message)")
        #expect(failure.transient == transient, "\(failure.message)")
    }
}

/// The buildctl builder's own part, with the command itself stood in for (no BuildKit daemon
/// runs here): what it is given, what it reads back, what it leaves behind.
@Suite struct BuildctlBuilderTests {
    /// Plays buildctl: checks its Docker config, prints progress, writes the metadata file.
    struct PlayedBuildctl: CommandRunner {
        let seen = LineBox()
        let lines: [String]
        let status: Int32
        func run(_ executable: String, _ arguments: [String], environment: [String: String],
                 onLine: @escaping @Sendable (String) async -> Void) async throws -> Int32 {
            await seen.add("exe=\(executable)")
            if let config = environment["DOCKER_CONFIG"] {
                await seen.add("config=" + ((try? String(contentsOfFile: "\(config)/config.json", encoding: .utf8)) ?? "missing"))
            }
            for line in lines { await onLine(line) }
            if let index = arguments.firstIndex(of: "--metadata-file") {
                try Data(#"{"containerimage.digest":"sha256:feed"}"#.utf8).write(to: URL(fileURLWithPath: arguments[index + 1]))
                await seen.add("work=" + URL(fileURLWithPath: arguments[index + 1]).deletingLastPathComponent().path)
            }
            return status
        }
    }

    func context() throws -> String {
        let dir = NSTemporaryDirectory() + "buildctl-ctx-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try "FROM scratch\n".write(toFile: "\(dir)/Dockerfile", atomically: true, encoding: .utf8)
        return dir
    }

    @Test func pushesWithTheLoginAndReadsTheDigest() async throws {
        let fixture = try String(contentsOf: try #require(Bundle.module.url(forResource: "Fixtures/buildctl-rawjson-ok.txt", withExtension: nil)),
                                 encoding: .utf8).split(separator: "\n").map(String.init)
        let runner = PlayedBuildctl(lines: fixture, status: 0)
        let builder = BuildctlBuilder(host: "tcp://buildkitd:1234", executable: "/usr/local/bin/buildctl", runner: runner,
                                      auth: { _ in RegistryLogin(username: "AWS", password: "ecr-token", serveraddress: nil) })
        let dir = try context()
        let request = BuildRequest(contextDirectory: dir, dockerfile: "Dockerfile",
                                   reference: try ImageReference(parsing: "123456789012.dkr.ecr.us-east-1.amazonaws.com/web:abc"),
                                   buildArgs: [:], network: nil, timeout: .minutes(1))
        let built = try await builder.build(request, observer: NullObserver())
        #expect(built.digest == "sha256:feed")
        let seen = await runner.seen.lines
        let auth = Data("AWS:ecr-token".utf8).base64EncodedString()
        #expect(seen.contains { $0.hasPrefix("config=") && $0.contains("123456789012.dkr.ecr.us-east-1.amazonaws.com") && $0.contains(auth) }, "\(seen)")
        let work = try #require(seen.first { $0.hasPrefix("work=") }).dropFirst(5)
        #expect(!FileManager.default.fileExists(atPath: String(work)), "the login and metadata are removed after the build")
    }

    @Test func aFailedBuildSaysWhy() async throws {
        let fixture = try String(contentsOf: try #require(Bundle.module.url(forResource: "Fixtures/buildctl-rawjson-error.txt", withExtension: nil)),
                                 encoding: .utf8).split(separator: "\n").map(String.init)
        let builder = BuildctlBuilder(host: "tcp://buildkitd:1234", runner: PlayedBuildctl(lines: fixture, status: 1))
        let request = BuildRequest(contextDirectory: try context(), dockerfile: "Dockerfile", reference: try ImageReference(parsing: "r.example.com/web:abc"),
                                   buildArgs: [:], network: nil, timeout: .minutes(1))
        let failure = await #expect(throws: BuildFailure.self) { _ = try await builder.build(request, observer: NullObserver()) }
        #expect(failure?.message.contains("exit code: 3") == true, "\(String(describing: failure))")
        #expect(failure?.transient == false)
    }
}

struct NullObserver: BuildObserver {
    func phase(_ phase: BuildPhase) async {}
    func log(_ lines: [String]) async {}
}
