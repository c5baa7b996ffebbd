import AsyncHTTPClient
import Foundation
import NIOCore
import SlipwayCore
import SlipwayTestSupport
import Testing

/// A repository without a Dockerfile deploys: detected, built from the generated
/// Dockerfile, and the plan and Dockerfile are in the deployment's log.
@Suite(.enabled(if: EndToEnd.enabled))
struct ZeroConfigTests {
    @Test func aShellAppWithoutADockerfileDeploys() async throws {
        let base = try EndToEnd.value("SLIPWAY_STACK_BASE_IMAGE")
        let mirror = BaseImageDefaults.keys.map { "\($0)=\(base)" }.joined(separator: ",")
        let e2e = try await EndToEnd.start(rollbackWindow: "2s", settings: ["SLIPWAY_BASE_IMAGES": mirror])
        defer { e2e.stop() }
        let sha = try e2e.repo.commit(["start.sh": "#!/bin/sh\necho \"serving: $GREETING\"\nwhile true; do sleep 1; done\n"])
        try await e2e.push(sha, delivery: "zero-config-1")
        let status = try await e2e.waitForStatus(timeout: .seconds(180)) { $0.liveSHA == sha || $0.deployments.first?.state == "failed" }
        let deployment = try #require(status.deployments.first)
        #expect(status.liveSHA == sha, "\(deployment.reason ?? "")")
        let log = try Command.run(EndToEnd.binary, ["logs", "\(deployment.id)", "--env-file", "/dev/null"], environment: e2e.environment).output
        #expect(log.contains("zero-config: shell; start: sh start.sh"), "\(log)")
        #expect(log.contains(#"zero-config plan: {"build":["chmod +x start.sh"]"#), "\(log)")
        #expect(log.contains("  | FROM \(base) AS build"), "\(log)")
        // The push is checked with the registry: the tag points at the digest the engine reported.
        #expect(log.contains("registry confirms \(sha) is sha256:"), "\(log)")
        // The build's steps as events, with their durations, in the deployment's stream.
        let stream = try await e2e.apiGet("/api/v1/deployments/\(deployment.id)/stream")
        let events = String(buffer: try await stream.body.collect(upTo: 4 << 20))
        #expect(events.contains("event: step\n") && events.contains(#""state":"done""#) && events.contains(#""seconds":"#), "\(events.prefix(3000))")
        #expect(events.hasSuffix("\n\n") && events.contains("event: end\n"), "the stream of a finished deployment ends")
        #expect(try await e2e.runningContainers().map(\.sha) == [sha])
    }

    @Test func nothingDetectedFailsWithWhatToDo() async throws {
        let e2e = try await EndToEnd.start(rollbackWindow: "2s")
        defer { e2e.stop() }
        let sha = try e2e.repo.commit(["README.md": "no app here\n"])
        try await e2e.push(sha, delivery: "zero-config-2")
        let status = try await e2e.waitForStatus(timeout: .seconds(120)) { $0.deployments.first?.state == "failed" }
        let reason = try #require(status.deployments.first?.reason)
        #expect(reason.contains("nothing detected"), "\(reason)")
        #expect(reason.contains("Add a Dockerfile and set build.dockerfile, or add railpack.json"), "\(reason)")
    }
}
