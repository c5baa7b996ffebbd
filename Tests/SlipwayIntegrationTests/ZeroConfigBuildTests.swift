import Foundation
import SlipwayBuild
import SlipwayCore
import SlipwayDetect
import SlipwayDocker
import Testing

/// Generated Dockerfiles built for real with BuildKit on the local engine, with every
/// base image mapped to the local busybox image, then run.
@Suite(.enabled(if: TestStack.enabled))
struct ZeroConfigBuildTests {
    let name = "zc-\(UUID().uuidString.prefix(8).lowercased())"

    func buildAndStart(_ files: [String: String], env: [String: String] = [:]) async throws -> (engine: DockerEngine, container: String, dockerfile: String) {
        let dir = try TestStack.temporaryDirectory("zero-config")
        for (path, text) in files {
            try FileManager.default.createDirectory(atPath: ("\(dir)/\(path)" as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try text.write(toFile: "\(dir)/\(path)", atomically: true, encoding: .utf8)
        }
        let plan = try Detector.plan(DirectoryTree(root: dir, rootName: "app"))
        let images = BaseImages(Dictionary(uniqueKeysWithValues: BaseImageDefaults.keys.map { ($0, try! TestStack.baseImage) }))
        let dockerfile = try DockerfileRenderer.render(plan, images: images)
        try dockerfile.write(toFile: "\(dir)/Dockerfile.slipway", atomically: true, encoding: .utf8)
        let engine = try DockerEngine(host: TestStack.dockerHost)
        let request = BuildRequest(contextDirectory: dir, dockerfile: "Dockerfile.slipway",
                                   reference: try ImageReference(parsing: "\(try TestStack.registry)/zc/\(name)").withTag("v1"),
                                   buildArgs: [:], network: TestStack.dockerNetwork, timeout: .minutes(5))
        let built = try await EngineBuilder(engine: engine).build(request, observer: RecordingObserver())
        let container = try await engine.createContainer(ContainerSpec(
            name: name, image: built.reference, env: env.merging(["PORT": "8080"]) { a, _ in a }, labels: ["slipway.test": name],
            network: TestStack.dockerNetwork, restartPolicy: "no"))
        try await engine.startContainer(container)
        return (engine, container, dockerfile)
    }

    func waitForLogs(_ engine: DockerEngine, _ id: String, containing text: String) async throws -> [String] {
        var lines: [String] = []
        for _ in 0..<100 {
            lines = try await engine.logs(id, tail: 50)
            if lines.contains(where: { $0.contains(text) }) { return lines }
            try await Task.sleep(for: .milliseconds(100))
        }
        return lines
    }

    @Test func aShellAppIsDetectedBuiltAndRunsAsANonRootUser() async throws {
        let (engine, container, dockerfile) = try await buildAndStart([
            "start.sh": "#!/bin/sh\necho \"zero-config up as $(id -un)\"\nwhile true; do sleep 1; done\n",
        ])
        defer { Task { try? await engine.removeContainer(container) } }
        #expect(dockerfile.contains(#"RUN ["sh", "-c", "chmod +x start.sh"]"#))
        #expect(dockerfile.contains(#"CMD ["sh", "-c", "sh start.sh"]"#))
        let lines = try await waitForLogs(engine, container, containing: "zero-config up")
        #expect(lines.contains { $0.contains("zero-config up as app") }, "\(lines)")
        #expect(try await engine.inspectContainer(container).status == "running")
        try await engine.stopContainer(container, timeoutSeconds: 1)
    }

    /// Exec-form RUN with cache mounts, JSON-form COPY and a command holding a line break, built for real.
    @Test func execFormStepsWithCacheMountsBuild() async throws {
        let dir = try TestStack.temporaryDirectory("zero-config-exec")
        try "#!/bin/sh\necho \"exec form up: $(tr '\\n' ' ' < /app/built)\"\nwhile true; do sleep 1; done\n".write(toFile: "\(dir)/start.sh", atomically: true, encoding: .utf8)
        let plan = BuildPlan(provider: "shell", install: ["echo installed > /root/.cache/probe/mark"], build: ["echo one > built\necho two >> built"],
                             start: "sh start.sh", installFiles: ["start.sh"], caches: ["/root/.cache/probe"])
        let images = BaseImages(Dictionary(uniqueKeysWithValues: BaseImageDefaults.keys.map { ($0, try! TestStack.baseImage) }))
        let dockerfile = try DockerfileRenderer.render(plan, images: images)
        #expect(dockerfile.contains(#"RUN --mount=type=cache,target=/root/.cache/probe ["sh", "-c", "echo one > built\necho two >> built"]"#))
        try dockerfile.write(toFile: "\(dir)/Dockerfile.slipway", atomically: true, encoding: .utf8)
        let engine = try DockerEngine(host: TestStack.dockerHost)
        let request = BuildRequest(contextDirectory: dir, dockerfile: "Dockerfile.slipway",
                                   reference: try ImageReference(parsing: "\(try TestStack.registry)/zc/\(name)").withTag("exec"),
                                   buildArgs: [:], network: TestStack.dockerNetwork, timeout: .minutes(5))
        let built = try await EngineBuilder(engine: engine).build(request, observer: RecordingObserver())
        let container = try await engine.createContainer(ContainerSpec(
            name: name, image: built.reference, env: [:], labels: ["slipway.test": name], network: TestStack.dockerNetwork, restartPolicy: "no"))
        defer { Task { try? await engine.removeContainer(container) } }
        try await engine.startContainer(container)
        let lines = try await waitForLogs(engine, container, containing: "exec form up")
        #expect(lines.contains { $0.contains("exec form up: one two") }, "\(lines)")
        try await engine.stopContainer(container, timeoutSeconds: 1)
    }

    @Test func aStaticSiteIsServed() async throws {
        let (engine, container, dockerfile) = try await buildAndStart([
            "public/index.html": "<h1>hello \(name)</h1>\n",
            "public/about/index.html": "about\n",
        ])
        defer { Task { try? await engine.removeContainer(container) } }
        #expect(dockerfile.contains(#"COPY --from=build ["/app/public", "/srv"]"#))
        // A second container in the site's network namespace asks for the page.
        let probe = try await engine.createContainer(ContainerSpec(
            name: "\(name)-probe", image: try TestStack.baseImage, env: [:], labels: ["slipway.test": name],
            network: "container:\(container)", restartPolicy: "no",
            command: ["sh", "-c", "for i in $(seq 1 50); do wget -qO- http://127.0.0.1:8080/ && exit 0; sleep 0.1; done; exit 1"]))
        defer { Task { try? await engine.removeContainer(probe) } }
        try await engine.startContainer(probe)
        let lines = try await waitForLogs(engine, probe, containing: "hello")
        #expect(lines.contains { $0.contains("<h1>hello \(name)</h1>") }, "\(lines)")
        try await engine.stopContainer(container, timeoutSeconds: 1)
    }
}
