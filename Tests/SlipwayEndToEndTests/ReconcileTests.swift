import AsyncHTTPClient
import Foundation
import NIOFoundationCompat
import SlipwayDocker
import Testing

/// The reconcile loop, as a user meets it: a policy change rolls out without a rebuild,
/// and a container stopped by hand comes back when the policy asks for self-heal.
@Suite(.enabled(if: EndToEnd.enabled), .serialized)
struct ReconcileTests {
    @Test func aPolicyChangeRollsOutWithoutARebuildAndSelfHealRestoresDrift() async throws {
        let e2e = try await EndToEnd.start(
            rollbackWindow: "2s",
            settings: ["SLIPWAY_RECONCILE_INTERVAL": "1s", "SLIPWAY_POLICIES_POLL": "1s"],
            policyTail: "sync: { selfHeal: true }")
        defer { e2e.stop() }
        let sha = try e2e.repo.commit([
            "Dockerfile": """
                FROM \(try EndToEnd.value("SLIPWAY_STACK_BASE_IMAGE"))
                COPY serve.sh /serve.sh
                CMD ["sh", "/serve.sh"]
                """,
            "serve.sh": "trap 'exit 0' TERM\nwhile true; do sleep 1; done\n",
        ])
        try await e2e.push(sha, delivery: "reconcile-1")
        _ = try await e2e.waitForStatus(timeout: .seconds(180)) { $0.deployments.first?.state == "succeeded" }

        // Two containers instead of one: the same commit, so the image is reused.
        let edited = ContinuousClock.now
        try e2e.editPolicy { $0.replacingOccurrences(of: "count: 1", with: "count: 2") }
        let scaled = try await e2e.waitForStatus(timeout: .seconds(120)) { status in
            status.deployments.count == 2 && status.deployments.first?.state == "succeeded"
        }
        let scaleTime = ContinuousClock.now - edited
        #expect(scaled.liveSHA == sha)
        #expect(try await e2e.runningContainers().count == 2)
        #expect(try e2e.count("SELECT count(*) FROM jobs WHERE kind = 'build'") == 1)
        #expect(try e2e.count("SELECT count(*) FROM deployments WHERE trigger = 'reconcile'") == 1)
        #expect(try e2e.plan()["status"] as? String == "in-sync")
        // The API answers the same for the set in force.
        let api = try await e2e.apiGet("/api/v1/plan?service=\(e2e.service)")
        let body = try JSONSerialization.jsonObject(with: Data(buffer: try await api.body.collect(upTo: 1 << 20))) as? [String: Any]
        let services = body?["services"] as? [[String: Any]]
        #expect(services?.first?["status"] as? String == "in-sync", "\(String(describing: body))")

        // Someone stops a container by hand; the plan calls it drift and the loop puts it back.
        let engine = try DockerEngine(host: try EndToEnd.value("SLIPWAY_STACK_DOCKER_HOST"))
        let stopped = ContinuousClock.now
        try await engine.stopContainer(try #require(try await e2e.runningContainers().first).id, timeoutSeconds: 1)
        let healed = try await e2e.waitForStatus(timeout: .seconds(120)) { status in
            status.deployments.count == 3 && status.deployments.first?.state == "succeeded"
        }
        let healTime = ContinuousClock.now - stopped
        #expect(healed.liveSHA == sha)
        #expect(try await e2e.runningContainers().count == 2)
        #expect(try e2e.count("SELECT count(*) FROM jobs WHERE kind = 'build'") == 1)
        #expect(try e2e.plan()["status"] as? String == "in-sync")
        print("e2e reconcile: policy edit → 2 containers live \(EndToEnd.seconds(scaleTime)) s; container stopped → restored \(EndToEnd.seconds(healTime)) s (reconcile interval 1s, rollback window 2s)")
    }
}
