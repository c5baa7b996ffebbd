import Foundation
import SlipwayTestSupport
import Testing

/// The dashboard as a person uses it, in headless Chromium (Tests/Browser/dashboard_browser.py):
/// a viewer signs in, sees the services, watches a build's log grow without reloading and finds
/// no rollback button; a deployer on a phone-width window presses rollback and sees it through.
/// Screenshots of each page are kept under the temp folder.
@Suite(.enabled(if: EndToEnd.enabled && FileManager.default.isExecutableFile(atPath: "/usr/bin/chromedriver")))
struct DashboardBrowserTests {
    @Test func aViewerWatchesABuildAndADeployerRollsBack() async throws {
        let repo = try TestRepo()
        let base = try EndToEnd.value("SLIPWAY_STACK_BASE_IMAGE")
        let idle = #"CMD ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"]"#
        let one = try repo.commit(["Dockerfile": "FROM \(base)\nRUN echo quick\n\(idle)\n"])
        let e2e = try await EndToEnd.start(rollbackWindow: "1s", repo: repo)
        defer { e2e.stop() }
        try await e2e.push(one, delivery: "d-1")
        _ = try await e2e.waitForStatus(timeout: .seconds(120)) { $0.liveSHA == one && $0.deployments.first?.state == "succeeded" }
        let viewer = try e2e.token("viewer", name: "vera"), deployer = try e2e.token("deployer", name: "dana")

        // A build that prints a line a second: the browser opens it while it runs.
        // Unique per run, or the engine's layer cache would skip it.
        let two = try repo.commit(["Dockerfile": "FROM \(base)\nRUN echo \(e2e.service); for i in $(seq 1 15); do echo slow-line-$i; sleep 1; done\n\(idle)\n"])
        try await e2e.push(two, delivery: "d-2", before: one)
        let building = try await e2e.waitForStatus(timeout: .seconds(60)) { status in
            status.deployments.contains { $0.sha == two && $0.state == "building" }
        }.deployments.first { $0.sha == two }!.id
        let shots = try Scratch.directory("dashboard-screenshots")
        var environment = ProcessInfo.processInfo.environment
        environment.merge(["SLIPWAY_URL": e2e.baseURL, "VIEWER_TOKEN": viewer, "DEPLOYER_TOKEN": deployer, "SERVICE": e2e.service,
                           "BUILDING": "\(building)", "LAST_LINE": "slow-line-15", "SCREENSHOTS": shots, "PYTHONDONTWRITEBYTECODE": "1"]) { $1 }
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../Browser/dashboard_browser.py").standardized.path
        let result = try await Command.runDetached("/usr/bin/env", ["python3", script], environment: environment, check: false)
        print("dashboard screenshots: \(shots)")
        #expect(result.status == 0, "\(result.errors)\n\(result.output)\n\(e2e.serveLog().suffix(2000))")
        let status = try await e2e.status()
        #expect(status.deployments.first?.by == "dana" || status.deployments.contains { $0.by == "dana" }, "the rollback says who")
        #expect(status.liveSHA == one, "rolled back to the first commit")
    }
}
