import Foundation
import SlipwayTestSupport
import Testing

/// A quick series of pushes builds only the newest commit, and `slipway builds cancel`
/// stops a build: in both cases the BuildKit step's process is gone within seconds.
@Suite(.enabled(if: EndToEnd.enabled), .serialized)
struct LatestWinsTests {
    /// Whether a process whose command line contains `marker` runs (BuildKit's RUN step).
    func stepRunning(_ marker: String) throws -> Bool {
        try Command.run("/usr/bin/pgrep", ["-f", marker], check: false).status == 0
    }

    func waitUntil(_ timeout: Duration, _ condition: () throws -> Bool) async throws -> Duration? {
        let start = ContinuousClock.now
        while ContinuousClock.now - start < timeout {
            if try condition() { return ContinuousClock.now - start }
            try await Task.sleep(for: .milliseconds(100))
        }
        return nil
    }

    /// A build step that sleeps; its `sleep N` command line (N random) is how it is found on the host.
    func slowDockerfile(_ marker: String) throws -> String {
        "FROM \(try EndToEnd.value("SLIPWAY_STACK_BASE_IMAGE"))\nRUN \(marker)\n"
    }

    static func sleepMarker() -> String { "sleep \(Int.random(in: 100_000...999_999))" }

    @Test func aNewerPushStopsTheOlderBuildAndCancelStopsABuild() async throws {
        let e2e = try await EndToEnd.start(rollbackWindow: "2s")
        defer { e2e.stop() }
        let slow = Self.sleepMarker()
        let older = try e2e.repo.commit(["Dockerfile": try slowDockerfile(slow)])
        try await e2e.push(older, delivery: "lw-1")
        #expect(try await waitUntil(.seconds(60)) { try stepRunning(slow) } != nil, "the slow build step never started")

        let newer = try e2e.repo.commit([
            "Dockerfile": "FROM \(try EndToEnd.value("SLIPWAY_STACK_BASE_IMAGE"))\nCMD [\"sh\", \"-c\", \"trap 'exit 0' TERM; while true; do sleep 1; done\"]\n",
        ])
        let pushed = ContinuousClock.now
        try await e2e.push(newer, delivery: "lw-2")
        let gone = try await waitUntil(.seconds(10)) { try !stepRunning(slow) }
        #expect(gone != nil, "the superseded build's step still runs")
        let status = try await e2e.waitForStatus(timeout: .seconds(120)) { $0.liveSHA == newer }
        let superseded = try #require(status.deployments.first { $0.sha == older })
        #expect(superseded.state == "superseded")
        #expect(superseded.reason?.contains("superseded by deployment") == true)
        let supersedeToLive = ContinuousClock.now - pushed

        let cancelled = Self.sleepMarker()
        let third = try e2e.repo.commit(["Dockerfile": try slowDockerfile(cancelled)])
        try await e2e.push(third, delivery: "lw-3")
        #expect(try await waitUntil(.seconds(60)) { try stepRunning(cancelled) } != nil)
        let id = try #require(try await e2e.status().deployments.first { $0.sha == third }?.id)
        let asked = ContinuousClock.now
        let output = try Command.run(EndToEnd.binary, ["builds", "cancel", "\(id)", "--env-file", "/dev/null"],
                                     environment: e2e.environment).output
        #expect(output.contains("deployment \(id)"))
        let after = try await e2e.waitForStatus(timeout: .seconds(10)) { status in
            status.deployments.first { $0.id == id }?.state == "cancelled"
        }
        let cancelToStopped = ContinuousClock.now - asked
        #expect(try await waitUntil(.seconds(10)) { try !stepRunning(cancelled) } != nil, "the cancelled build's step still runs")
        #expect(after.liveSHA == newer)

        // A live deployment cannot be cancelled: the command says what to do instead.
        let refused = try Command.run(EndToEnd.binary, ["builds", "cancel", "\(after.deployments.first { $0.sha == newer }!.id)",
                                                        "--env-file", "/dev/null"], environment: e2e.environment, check: false)
        #expect(refused.status == 1)
        #expect(refused.errors.contains("rollback") || refused.errors.contains("already ended"))
        print("""
            latest-wins timings: newer push → older build step gone \(gone.map(EndToEnd.seconds) ?? "never") s, \
            → newer live \(EndToEnd.seconds(supersedeToLive)) s; cancel → cancelled \(EndToEnd.seconds(cancelToStopped)) s
            """)
    }
}
