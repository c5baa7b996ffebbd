import Foundation
import SlipwayTestSupport
import Testing

/// Slipway's own image (deploy/production): assembled from the built binary and its shared
/// libraries, built on the local engine with no base image, run as its non-root user against
/// the test Postgres: it migrates, answers /ready, and exits 0 soon after SIGTERM.
@Suite(.enabled(if: EndToEnd.enabled), .serialized)
struct ContainerImageTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../..").standardized.path

    static func docker(_ arguments: [String], check: Bool = true) async throws -> Command.Result {
        try await Command.runDetached("/usr/bin/env", ["docker"] + arguments, environment: [
            "DOCKER_HOST": try EndToEnd.value("SLIPWAY_STACK_DOCKER_HOST"), "DOCKER_BUILDKIT": "0",
            "PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": NSTemporaryDirectory(),
        ], check: check)
    }

    @Test func theImageServesAnswersReadyAndStopsOnSIGTERM() async throws {
        let id = UUID().uuidString.prefix(8).lowercased()
        let context = try Scratch.directory("image")
        _ = try await Command.runDetached("/bin/bash", ["\(Self.root)/deploy/production/rootfs.sh", EndToEnd.binary, context])
        let tag = "slipway-e2e:\(id)"
        _ = try await Self.docker(["build", "-q", "-f", "\(Self.root)/deploy/production/Dockerfile", "-t", tag, context])
        defer { _ = try? Command.run("/usr/bin/env", ["docker", "rmi", "-f", tag], environment: ["DOCKER_HOST": (try? EndToEnd.value("SLIPWAY_STACK_DOCKER_HOST")) ?? ""], check: false) }
        let user = try await Self.docker(["image", "inspect", "--format", "{{.Config.User}}", tag]).output
        #expect(user == "10001:10001")

        // Its own database on the test Postgres, and one policy mounted where the image reads them.
        let database = "image_\(id)"
        let admin = try EndToEnd.value("SLIPWAY_STACK_DATABASE_URL")
        try Command.run("/usr/bin/psql", [admin, "-qc", "CREATE DATABASE \(database)"])
        let policies = try Scratch.directory("image-policies")
        try "service: web\nsource:\n  repo: https://github.com/acme/web.git\nimage: 127.0.0.1:5000/acme/web\n"
            .write(toFile: "\(policies)/web.yaml", atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: policies)
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: "\(policies)/web.yaml")
        let port = try Scratch.freePort()
        let name = "slipway-e2e-\(id)"
        _ = try await Self.docker(["run", "-d", "--name", name, "--network", "host",
                                   "-e", "DATABASE_URL=\(admin.replacingOccurrences(of: "/slipway?", with: "/\(database)?"))",
                                   "-e", "SLIPWAY_HTTP_ADDR=127.0.0.1:\(port)", "-v", "\(policies):/etc/slipway/policies:ro", tag])
        defer { _ = try? Command.run("/usr/bin/env", ["docker", "rm", "-f", name], environment: ["DOCKER_HOST": (try? EndToEnd.value("SLIPWAY_STACK_DOCKER_HOST")) ?? ""], check: false) }

        let ready = await eventually(timeout: .seconds(60), every: .milliseconds(200)) {
            (try? await Command.runDetached("/usr/bin/curl", ["-sf", "http://127.0.0.1:\(port)/ready"]))?.output == "ready"
        }
        let started = (try? await Self.docker(["logs", name], check: false)).map { $0.output + $0.errors } ?? ""
        #expect(ready, "the container never answered /ready:\n\(started)")
        #expect(try Command.run("/usr/bin/psql", [admin.replacingOccurrences(of: "/slipway?", with: "/\(database)?"), "-tAc",
                                                  "SELECT count(*) FROM services WHERE name = 'web'"]).output == "1")

        let stopping = ContinuousClock.now
        _ = try await Self.docker(["stop", "-t", "30", name])
        let stopped = ContinuousClock.now - stopping
        let exit = try await Self.docker(["inspect", "--format", "{{.State.ExitCode}}", name]).output
        let ended = (try? await Self.docker(["logs", name], check: false)).map { $0.output + $0.errors } ?? ""
        #expect(exit == "0", "\(ended)")
        print("container image: /ready answered; SIGTERM → exit 0 in \(EndToEnd.seconds(stopped)) s")
    }
}
