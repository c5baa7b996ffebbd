import AsyncHTTPClient
import Foundation
import SlipwayDocker
import SlipwayTestSupport
import Testing

/// A pull request's preview as a user sees it, through `slipway serve` on the real engine,
/// registry, Postgres and libgit2: a signed GitHub `pull_request` webhook for a repository
/// with `refs/pull/N/head` → a preview answering HTTP beside the untouched main service;
/// new commits update it (only the newest of a burst is built); closing it leaves no
/// container, image or live row; a preview whose close never came goes by its TTL; a fork
/// is skipped with its reason.
@Suite(.enabled(if: EndToEnd.enabled))
struct PreviewsEndToEndTests {
    static func dockerfile() throws -> String {
        """
        FROM \(try EndToEnd.value("SLIPWAY_STACK_BASE_IMAGE"))
        COPY www /www
        CMD ["httpd", "-f", "-p", "8080", "-h", "/www"]
        """
    }

    /// The page the preview's container serves, fetched from a container in its network namespace.
    static func page(of container: String, engine: DockerEngine) async throws -> String {
        let probe = try await engine.createContainer(ContainerSpec(
            name: "probe-\(UUID().uuidString.prefix(8).lowercased())", image: try EndToEnd.value("SLIPWAY_STACK_BASE_IMAGE"), env: [:],
            labels: ["slipway.test": "previews"], network: "container:\(container)", restartPolicy: "no",
            command: ["sh", "-c", "for i in $(seq 1 50); do wget -qO- http://127.0.0.1:8080/ && exit 0; sleep 0.1; done; exit 1"]))
        defer { Task { try? await engine.removeContainer(probe) } }
        try await engine.startContainer(probe)
        let deadline = ContinuousClock.now + .seconds(20)
        while ContinuousClock.now < deadline {
            let state = try await engine.inspectContainer(probe)
            if state.status == "exited" { return try await engine.logs(probe, tail: 20).joined(separator: "\n") }
            try await Task.sleep(for: .milliseconds(100))
        }
        return "probe did not finish"
    }

    static func previewContainers(_ e2e: EndToEnd, number: Int, engine: DockerEngine) async throws -> [String] {
        try await engine.containers(labels: ["slipway.service": e2e.service, "slipway.environment": "pr-\(number)"])
    }

    @Test func aPullRequestPreviewGoesLiveFollowsItsCommitsAndLeavesNothingWhenClosed() async throws {
        let repo = try TestRepo()
        let main = try repo.commit(["Dockerfile": try Self.dockerfile(), "www/index.html": "main line\n"])
        let e2e = try await EndToEnd.start(rollbackWindow: "2s", repo: repo, settings: ["SLIPWAY_RECONCILE_INTERVAL": "1s"],
                                           policyTail: "previews:\n  enabled: true\n  ttl: 1h\n  env: { GREETING: preview }",
                                           deploy: "  target: docker\n  count: 1\n  port: 8080\n  env: { GREETING: hello }")
        defer { e2e.stop() }
        let engine = try DockerEngine(host: try EndToEnd.value("SLIPWAY_STACK_DOCKER_HOST"))
        try await e2e.push(main, delivery: "main-1")
        _ = try await e2e.waitForStatus(timeout: .seconds(120)) { $0.liveSHA == main }

        // Opened: the head is only on refs/pull/7/head, as on GitHub.
        let one = try repo.commitAside(["www/index.html": "preview one\n"], branch: "feature/x", from: main)
        try repo.pushRef(one, ref: "refs/pull/7/head")
        let opened = ContinuousClock.now
        try await e2e.pullRequest("opened", number: 7, head: one, branch: "feature/x")
        let live = try await e2e.waitForStatus(timeout: .seconds(120)) { $0.preview(7)?.state == "live" && $0.preview(7)?.sha == one }
        print("previews e2e: opened → live \(EndToEnd.seconds(ContinuousClock.now - opened)) s")
        let preview = try #require(live.preview(7))
        #expect(preview.service == "\(e2e.service)-pr-7" && preview.branch == "feature/x")
        #expect(preview.url?.hasPrefix("http://slipway-\(e2e.service)-pr-7-") == true, "\(String(describing: preview.url))")
        #expect(live.liveSHA == main)
        let containers = try await Self.previewContainers(e2e, number: 7, engine: engine)
        #expect(containers.count == 1)
        #expect(try await Self.page(of: try #require(containers.first), engine: engine).contains("preview one"))
        // The main service still runs its own commit.
        #expect(try await e2e.runningContainers().contains { $0.sha == main })

        // A new commit on the pull request: the preview follows it.
        let two = try repo.commitAside(["www/index.html": "preview two\n"], branch: "feature/x2", from: one)
        try repo.pushRef(two, ref: "refs/pull/7/head")
        try await e2e.pullRequest("synchronize", number: 7, head: two, branch: "feature/x")
        _ = try await e2e.waitForStatus(timeout: .seconds(120)) { $0.preview(7)?.state == "live" && $0.preview(7)?.sha == two }

        // Two commits in quick succession: only the newer is built.
        let three = try repo.commitAside(["www/index.html": "preview three\n"], branch: "feature/x3", from: two)
        let four = try repo.commitAside(["www/index.html": "preview four\n"], branch: "feature/x4", from: three)
        try repo.pushRef(four, ref: "refs/pull/7/head")
        try await e2e.pullRequest("synchronize", number: 7, head: three, branch: "feature/x")
        try await e2e.pullRequest("synchronize", number: 7, head: four, branch: "feature/x")
        _ = try await e2e.waitForStatus(timeout: .seconds(120)) { $0.preview(7)?.state == "live" && $0.preview(7)?.sha == four }
        let builtThree = try e2e.count("SELECT count(*) FROM deployments WHERE environment = 'pr-7' AND sha = '\(three)' AND image IS NOT NULL")
        #expect(builtThree == 0, "the older of the burst was built")
        let pageFour = try await Self.page(of: try #require(try await Self.previewContainers(e2e, number: 7, engine: engine).first), engine: engine)
        #expect(pageFour.contains("preview four"))
        let image = try #require(try e2e.imageOf(sha: four, environment: "pr-7"))

        // Closed: no container, no engine image, no registry manifest, no live row; main untouched.
        let closed = ContinuousClock.now
        try await e2e.pullRequest("closed", number: 7, head: four, branch: "feature/x")
        let gone = try await e2e.waitForStatus(timeout: .seconds(60)) { $0.preview(7)?.state == "torn_down" }
        #expect(gone.preview(7)?.reason == "pull request #7 was closed")
        try await e2e.waitUntil(timeout: .seconds(30), "the preview's teardown to finish") {
            try e2e.count("SELECT count(*) FROM previews WHERE number = 7 AND torn_down_at IS NOT NULL") == 1
        }
        print("previews e2e: closed → gone \(EndToEnd.seconds(ContinuousClock.now - closed)) s")
        #expect(try await Self.previewContainers(e2e, number: 7, engine: engine).isEmpty)
        #expect(try await engine.imageExists(image) == false)
        #expect(try await e2e.registryHas(image) == false)
        #expect(try e2e.count("SELECT count(*) FROM targets WHERE environment = 'pr-7'") == 0)
        #expect(try await e2e.status().liveSHA == main)
        #expect(try await e2e.runningContainers().contains { $0.sha == main })

        // A fork's pull request: skipped, with the reason on its delivery.
        let fork = try TestRepo()
        let forkHead = try fork.commit(["Dockerfile": try Self.dockerfile(), "www/index.html": "fork\n"])
        try await e2e.pullRequest("opened", number: 8, head: forkHead, branch: "main", headRepo: fork.url, delivery: "fork-8")
        try await e2e.waitUntil(timeout: .seconds(30), "the fork's delivery to be decided") {
            try e2e.count("SELECT count(*) FROM webhook_deliveries WHERE delivery_id = 'fork-8' AND detail::text LIKE '%previews.forks is false%'") == 1
        }
        #expect(try e2e.count("SELECT count(*) FROM deployments WHERE environment = 'pr-8'") == 0)

        // A pull request whose close never comes: gone once idle past previews.ttl.
        let nine = try repo.commitAside(["www/index.html": "preview nine\n"], branch: "feature/y", from: main)
        try repo.pushRef(nine, ref: "refs/pull/9/head")
        try await e2e.pullRequest("opened", number: 9, head: nine, branch: "feature/y")
        _ = try await e2e.waitForStatus(timeout: .seconds(120)) { $0.preview(9)?.state == "live" }
        // Its last commit two hours ago (time is data here: the TTL is 1 h).
        _ = try e2e.count("UPDATE previews SET updated_at = now() - interval '2 hours' WHERE number = 9 RETURNING 1")
        let expired = try await e2e.waitForStatus(timeout: .seconds(60)) { $0.preview(9)?.state == "torn_down" }
        #expect(expired.preview(9)?.reason?.contains("previews.ttl") == true, "\(String(describing: expired.preview(9)))")
        try await e2e.waitUntil(timeout: .seconds(30), "no container of the expired preview") {
            try await Self.previewContainers(e2e, number: 9, engine: engine).isEmpty
        }
    }
}

/// kill -9 of `slipway serve` in the middle of a teardown: started again, it completes it.
@Suite(.enabled(if: EndToEnd.enabled))
struct PreviewTeardownChaosTests {
    @Test func aTeardownCutOffBySIGKILLCompletesAfterARestart() async throws {
        let repo = try TestRepo()
        // An app that ignores SIGTERM: each teardown of it takes the full grace, long enough to be cut off.
        let main = try repo.commit(["Dockerfile": """
            FROM \(try EndToEnd.value("SLIPWAY_STACK_BASE_IMAGE"))
            CMD ["sh", "-c", "trap '' TERM; while true; do sleep 1; done"]
            """])
        let e2e = try await EndToEnd.start(rollbackWindow: "1s", jobLease: "3s", repo: repo,
                                           settings: ["SLIPWAY_RECONCILE_INTERVAL": "1s"],
                                           policyTail: "previews:\n  enabled: true")
        defer { e2e.stop() }
        let engine = try DockerEngine(host: try EndToEnd.value("SLIPWAY_STACK_DOCKER_HOST"))
        let head = try repo.commitAside(["README.md": "pr\n"], branch: "chaos", from: main)
        try repo.pushRef(head, ref: "refs/pull/3/head")
        try await e2e.pullRequest("opened", number: 3, head: head, branch: "chaos")
        _ = try await e2e.waitForStatus(timeout: .seconds(120)) { $0.preview(3)?.state == "live" }
        // The serve log says when a teardown starts: reading it is cheap enough to catch the grace
        // period on a loaded machine, where a psql per look is not. Counted before the close, which
        // may start the teardown before this test looks again.
        let before = e2e.serveLog(full: true).components(separatedBy: "tearing down preview").count
        try await e2e.pullRequest("closed", number: 3, head: head, branch: "chaos")
        try await e2e.waitUntil(timeout: .seconds(30), "the teardown to be running", every: .milliseconds(20)) {
            e2e.serveLog(full: true).components(separatedBy: "tearing down preview").count > before
        }
        e2e.kill()
        #expect(try e2e.count("SELECT count(*) FROM previews WHERE number = 3 AND torn_down_at IS NULL") == 1, "finished before the kill")
        try await e2e.launch()
        try await e2e.waitUntil(timeout: .seconds(90), "the teardown to complete after the restart") {
            try e2e.count("SELECT count(*) FROM previews WHERE number = 3 AND torn_down_at IS NOT NULL") == 1
        }
        #expect(try await engine.containers(labels: ["slipway.service": e2e.service, "slipway.environment": "pr-3"]).isEmpty)
        #expect(try e2e.count("SELECT count(*) FROM targets WHERE environment = 'pr-3'") == 0)
    }
}

extension EndToEnd {
    /// Waits until `check` holds, or records what it waited for.
    func waitUntil(timeout: Duration, _ what: String, every interval: Duration = .milliseconds(200), _ check: () async throws -> Bool) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if try await check() { return }
            try await Task.sleep(for: interval)
        }
        Issue.record("timed out waiting for \(what)\n\(serveLog())")
        throw Missing(description: "timed out")
    }

    /// The image a deployment of `sha` in `environment` ran.
    func imageOf(sha: String, environment: String) throws -> String? {
        let text = try Command.run("/usr/bin/psql", [self.environment["DATABASE_URL"]!, "-tAc",
            "SELECT image FROM deployments WHERE environment = '\(environment)' AND sha = '\(sha)' AND image IS NOT NULL ORDER BY id DESC LIMIT 1"])
            .output.trimmingCharacters(in: .whitespacesAndNewlines)
        return text.isEmpty ? nil : text
    }

    /// Whether the stack's registry answers for `host/path:tag`.
    func registryHas(_ image: String) async throws -> Bool {
        guard let slash = image.firstIndex(of: "/"), let colon = image.lastIndex(of: ":") else { return false }
        let host = image[..<slash], path = image[image.index(after: slash)..<colon], tag = image[image.index(after: colon)...]
        var request = HTTPClientRequest(url: "http://\(host)/v2/\(path)/manifests/\(tag)")
        request.method = .HEAD
        request.headers.add(name: "Accept", value: "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json")
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
        return response.status == .ok
    }
}
