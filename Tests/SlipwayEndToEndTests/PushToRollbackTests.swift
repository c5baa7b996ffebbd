import AsyncHTTPClient
import Foundation
import NIOCore
import SlipwayDocker
import SlipwayTestSupport
import SlipwayWebhooks
import Testing

/// What a user does: run `slipway serve` on real Postgres, Docker engine and registry,
/// push a commit (a signed GitHub webhook), watch it go live, push a commit that
/// crashes, and watch Slipway put the first one back. The first revision ignores SIGTERM
/// (a shell loop as PID 1 does): retiring it takes the engine's whole stop grace, and the
/// rollback must not wait for that. A real Prometheus scrapes it all along.
@Suite(.enabled(if: EndToEnd.enabled), .serialized)
struct PushToRollbackTests {
    @Test func pushDeploysThenACrashingPushRollsBack() async throws {
        let e2e = try await EndToEnd.start(rollbackWindow: "30s")
        defer { e2e.stop() }
        // A real Prometheus scrapes this Slipway every second throughout, with the alert rules loaded.
        let prometheus = try await PrometheusServer.start(scraping: e2e.baseURL)
        defer { prometheus.stop() }

        let good = try e2e.repo.commit([
            "Dockerfile": """
                FROM \(try EndToEnd.value("SLIPWAY_STACK_BASE_IMAGE"))
                COPY serve.sh /serve.sh
                CMD ["sh", "/serve.sh"]
                """,
            "serve.sh": "echo \"serving: $GREETING\"\nwhile true; do sleep 1; done\n",
        ], message: "a service that stays up and ignores SIGTERM")

        let pushed = ContinuousClock.now
        try await e2e.push(good, delivery: "e2e-1")
        let live = try await e2e.waitForStatus(timeout: .seconds(180)) { $0.liveSHA == good }
        let pushToLive = ContinuousClock.now - pushed
        #expect(live.state == "deploying" || live.state == "live")
        #expect(live.deployments.first?.sha == good)

        // The plan agrees: in sync, waiting out the rollback window.
        let inSync = try e2e.plan()
        #expect(inSync["status"] as? String == "in-sync", "\(inSync)")

        // The same delivery again (GitHub retries) creates nothing new.
        try await e2e.push(good, delivery: "e2e-1")
        #expect(try await e2e.status().deployments.count == 1)

        let bad = try e2e.repo.commit([
            "serve.sh": "echo starting\nsleep 2\necho 'fatal: cannot reach the database' >&2\nexit 3\n",
        ], message: "a service that crashes")
        try await e2e.push(bad, delivery: "e2e-2")
        let rolledBack = try await e2e.waitForStatus(timeout: .seconds(180)) { status in
            status.deployments.first { $0.sha == bad }?.state == "rolled_back"
        }
        let badDeployment = try #require(rolledBack.deployments.first { $0.sha == bad })
        let reason = try #require(badDeployment.reason)
        #expect(rolledBack.liveSHA == good)
        #expect(reason.contains("exited with code 3"))
        #expect(reason.contains("fatal: cannot reach the database"))
        #expect(reason.contains("Rolled back to deployment \(live.deployments.first!.id)"))

        // The plan does not retry the crashing commit: it waits for a new one.
        let blocked = try e2e.plan()
        #expect(blocked["status"] as? String == "blocked", "\(blocked)")
        #expect((blocked["reason"] as? String)?.contains("of \(bad.prefix(12)) was rolled back") == true, "\(blocked)")

        // The first revision runs again, and only it.
        let running = try await e2e.runningContainers()
        #expect(running.map(\.sha) == [good])

        // Prometheus saw it all: once the rollback is scraped, every dashboard query has series,
        // and every alert rule evaluates without error.
        let scraped = ContinuousClock.now + .seconds(60)
        while try await prometheus.query(#"sum(slipway_crash_to_rollback_seconds_count{phase="finished"}) > 0"#).isEmpty {
            guard ContinuousClock.now < scraped else {
                Issue.record("Prometheus never saw the rollback: \(try await prometheus.query("slipway_crash_to_rollback_seconds_count"))\n\(prometheus.log())")
                break
            }
            try await Task.sleep(for: .milliseconds(500))
        }
        // A rate needs two samples of a series: a series seen once a moment ago may need another scrape.
        for (title, expression) in try PrometheusServer.dashboardQueries() {
            let answered = await eventually(timeout: .seconds(30), every: .milliseconds(500)) {
                (try? await prometheus.query(expression).isEmpty) == false
            }
            #expect(answered, "dashboard panel \(title): no series for \(expression)")
        }
        let rules = try await prometheus.rules()
        #expect(rules.count == (try PrometheusServer.alertRuleCount()), "\(rules)")
        // SLIPWAY_RENDER_DASHBOARD=PATH draws the dashboard's panels from this run into PATH.html and PATH.png.
        if let out = EndToEnd.environment["SLIPWAY_RENDER_DASHBOARD"] {
            let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../..").standardized.path
            let rendered = try await Command.runDetached("/usr/bin/python3", ["\(root)/deploy/observability/render.py", prometheus.url,
                                                                             "\(out).html", "--png", "\(out).png", "--minutes", "3"])
            print("dashboard rendered: \(out).png \(rendered.output)")
        }
        for rule in rules { #expect(rule.health == "ok" && rule.error.isEmpty, "\(rule)") }
        let stages = Set(try await prometheus.query("slipway_stage_seconds_count").compactMap { $0.labels["stage"] })
        #expect(stages.isSuperset(of: ["claim", "fetch", "build", "push", "rollout"]), "\(stages)")
        let outcomes = try await prometheus.query("slipway_deployments_total")
        #expect(outcomes.contains { $0.labels["outcome"] == "rolled_back" && $0.value == "1" }, "\(outcomes)")
        let rollbacks = try await prometheus.query("slipway_rollbacks_total")
        #expect(rollbacks.contains { $0.labels["reason"] == "crash" && $0.value == "1" }, "\(rollbacks)")
        let webhooks = try await prometheus.query(#"slipway_webhooks_total{provider="github"}"#)
        #expect(webhooks.contains { $0.labels["outcome"] == "duplicate" && $0.value == "1" }, "\(webhooks)")

        let exitToRollback = try e2e.exitToRollbackSeconds(deploymentID: badDeployment.id)
        let exitToRolledBack = try e2e.exitToRolledBackSeconds(deploymentID: badDeployment.id)
        #expect(exitToRolledBack >= exitToRollback && exitToRollback >= 0, "the crash and the rollback are both recorded")
        print("""
            e2e timings: push → live \(EndToEnd.seconds(pushToLive)) s; \
            container exit → rollback started \(String(format: "%.3f", exitToRollback)) s; \
            container exit → rolled back \(String(format: "%.3f", exitToRolledBack)) s (previous revision ignores SIGTERM)
            """)
    }

    @Test func failedBuildLeavesTheRunningRevisionAlone() async throws {
        let e2e = try await EndToEnd.start(rollbackWindow: "5s")
        defer { e2e.stop() }
        let base = try EndToEnd.value("SLIPWAY_STACK_BASE_IMAGE")
        let good = try e2e.repo.commit([
            "Dockerfile": "FROM \(base)\nCMD [\"sh\", \"-c\", \"trap 'exit 0' TERM; while true; do sleep 1; done\"]\n",
        ])
        try await e2e.push(good, delivery: "b-1")
        _ = try await e2e.waitForStatus(timeout: .seconds(180)) { $0.deployments.first?.state == "succeeded" }

        let broken = try e2e.repo.commit(["Dockerfile": "FROM \(base)\nRUN echo 'error: missing dependency' && exit 1\n"])
        try await e2e.push(broken, delivery: "b-2")
        let failed = try await e2e.waitForStatus(timeout: .seconds(180)) { status in
            status.deployments.first { $0.sha == broken }?.state == "failed"
        }
        let reason = try #require(failed.deployments.first { $0.sha == broken }?.reason)
        #expect(reason.contains("error: missing dependency"))
        #expect(failed.liveSHA == good)
        #expect(try await e2e.runningContainers().map(\.sha) == [good])

        // An image whose command does not exist: the container never starts.
        let unstartable = try e2e.repo.commit(["Dockerfile": "FROM \(base)\nCMD [\"/usr/local/bin/no-such-server\"]\n"])
        try await e2e.push(unstartable, delivery: "b-3")
        let refused = try await e2e.waitForStatus(timeout: .seconds(180)) { status in
            status.deployments.first { $0.sha == unstartable }?.state == "failed"
        }
        let why = try #require(refused.deployments.first { $0.sha == unstartable }?.reason)
        #expect(why.contains("did not start") && why.contains("no-such-server"))
        #expect(why.contains("the running revision was not touched"))
        #expect(refused.liveSHA == good)
        #expect(try await e2e.runningContainers().map(\.sha) == [good])
    }

    /// A commit whose build has a step of `seconds`, long enough to stop a server in.
    static func slowBuild(_ e2e: EndToEnd, seconds: Int, note: String) throws -> String {
        try e2e.repo.commit([
            "Dockerfile": """
                FROM \(try EndToEnd.value("SLIPWAY_STACK_BASE_IMAGE"))
                RUN echo "slow step for \(e2e.service)\(note)" && sleep \(seconds)
                CMD ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"]
                """,
        ])
    }

    /// `column` of the build jobs, as psql prints it.
    static func buildJobs(_ e2e: EndToEnd, _ column: String) throws -> String {
        try Command.run("/usr/bin/psql", [e2e.environment["DATABASE_URL"]!, "-tAc", "SELECT \(column) FROM jobs WHERE kind = 'build'"]).output
    }

    /// Kill -9 the server while it builds; a new server picks the job up once its lease
    /// expires, and the deployment finishes with exactly one successful build job.
    @Test func aServerKilledMidBuildLosesNothing() async throws {
        let e2e = try await EndToEnd.start(rollbackWindow: "2s", jobLease: "3s")
        defer { e2e.stop() }
        let sha = try Self.slowBuild(e2e, seconds: 4, note: "")
        try await e2e.push(sha, delivery: "k-1")
        _ = try await e2e.waitForStatus(timeout: .seconds(60)) { $0.deployments.first?.state == "building" }
        e2e.kill()
        try await e2e.launch()

        let done = try await e2e.waitForStatus(timeout: .seconds(180)) { $0.deployments.first?.state == "succeeded" }
        #expect(done.liveSHA == sha)
        #expect(done.deployments.count == 1)
        #expect(try Self.buildJobs(e2e, "state || ':' || attempts") == "succeeded:2")
    }

    /// SIGTERM (a supervisor's stop, a rolling deploy of Slipway itself) in the middle of a
    /// build, with a second replica running: serve exits within its bound, the build goes back
    /// to the queue at once (not after its lease), and the other replica finishes it: one
    /// deployment, one success.
    @Test func aReplicaStoppedMidBuildHandsItToTheOther() async throws {
        let e2e = try await EndToEnd.start(rollbackWindow: "2s", jobLease: "30s")
        defer { e2e.stop() }
        let sha = try Self.slowBuild(e2e, seconds: 6, note: " (stopped)")
        try await e2e.push(sha, delivery: "t-1")
        _ = try await e2e.waitForStatus(timeout: .seconds(60)) { $0.deployments.first?.state == "building" }
        let first = e2e.process.processIdentifier
        #expect(try Self.buildJobs(e2e, "lease_owner").contains(":\(first):"), "the first replica builds")
        let other = try await e2e.replica()
        defer { other.stop() }
        let stopping = ContinuousClock.now
        e2e.stop()   // records an issue when serve outlives SIGTERM by 15 s
        let drained = ContinuousClock.now - stopping
        // Handed over at once: queued, or already the other replica's, never held for the 30 s lease.
        let after = try Self.buildJobs(e2e, "state || ' ' || coalesce(lease_owner, '')")
        #expect(after.hasPrefix("queued") || (after.hasPrefix("running") && !after.contains(":\(first):")), "\(after)")
        let done = try await other.waitForStatus(timeout: .seconds(180)) { $0.deployments.first?.state == "succeeded" }
        #expect(done.liveSHA == sha && done.deployments.count == 1)
        #expect(try Self.buildJobs(e2e, "state || ':' || attempts") == "succeeded:2")
        #expect(other.serveLog(full: true).contains("image pushed"), "the other replica built it")
        print("sigterm mid-build: serve exited \(EndToEnd.seconds(drained)) s after SIGTERM; the other replica finished the build")
    }
}
