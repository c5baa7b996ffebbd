import Foundation
import SlipwayTestSupport
import Testing

/// What a developer sees where they look, through `slipway serve`: a private repository on an
/// HTTPS git server behind basic auth; pushes from GitHub, GitLab and Bitbucket each get
/// pending then success on their commit, a crashing commit a failure naming exit code 3; a
/// pull request gets one comment, edited in place on each commit, after a restart and at
/// close; a provider answering 500 for a minute delays only the statuses. Every request is
/// checked by the stand-in against the providers' official contracts.
@Suite(.enabled(if: EndToEnd.enabled))
struct SourceHostEndToEndTests {
    static func dockerfile(_ command: String = #"["httpd", "-f", "-p", "8080", "-h", "/www"]"#) throws -> String {
        "FROM \(try EndToEnd.value("SLIPWAY_STACK_BASE_IMAGE"))\nCOPY www /www\nCMD \(command)\n"
    }

    /// A repository served over HTTPS behind basic auth, as `ws/NAME` (a Bitbucket-shaped full name).
    static func privateRepository() throws -> (repo: TestRepo, fullName: String, web: String) {
        let name = "e2e-\(UUID().uuidString.prefix(8).lowercased())"
        let root = try EndToEnd.value("SLIPWAY_STACK_GIT_REPOS")
        try FileManager.default.createDirectory(atPath: "\(root)/ws", withIntermediateDirectories: true)
        let https = try EndToEnd.value("SLIPWAY_STACK_GIT_HTTPS")
        let repo = try TestRepo(bareAt: "\(root)/ws/\(name).git", servedAt: "\(https)/ws/\(name).git")
        return (repo, "ws/\(name)", "\(https)/ws/\(name)")
    }

    static func start(_ repo: TestRepo, standIn: SourceHostStandIn, extra: [String: String] = [:], policyTail: String = "") async throws -> EndToEnd {
        let password = try EndToEnd.value("SLIPWAY_STACK_GIT_PASSWORD")
        return try await EndToEnd.start(
            rollbackWindow: "3s", source: ["credentials: env:SLIPWAY_SECRET_GIT"], repo: repo,
            settings: [
                "SLIPWAY_SECRET_GIT": "slipway:\(password)",
                "SSL_CERT_FILE": try EndToEnd.value("SLIPWAY_STACK_GIT_CA_FILE"),
                "SLIPWAY_GITHUB_API_URL": "\(standIn.url)/github", "SLIPWAY_GITHUB_TOKEN": "server-token-not-used",
                "SLIPWAY_GITLAB_API_URL": "\(standIn.url)/gitlab/api/v4", "SLIPWAY_GITLAB_TOKEN": "server-token-not-used",
                "SLIPWAY_BITBUCKET_API_URL": "\(standIn.url)/bitbucket/2.0", "SLIPWAY_BITBUCKET_TOKEN": "x:server-token-not-used",
                "SLIPWAY_PUBLIC_URL": "https://slipway.example.com",
                "SLIPWAY_RECONCILE_INTERVAL": "1s",
            ].merging(extra) { $1 },
            policyTail: policyTail, deploy: "  target: docker\n  count: 1\n  port: 8080")
    }

    /// The policy's credentials speak for its repository to every provider (they override the server's tokens).
    static func standIn() throws -> SourceHostStandIn {
        let password = try EndToEnd.value("SLIPWAY_STACK_GIT_PASSWORD")
        return try SourceHostStandIn(tokens: ["github": password, "gitlab": password, "bitbucket": "slipway:\(password)"])
    }

    /// The state words sent for `sha`, in order.
    static func states(_ standIn: SourceHostStandIn, provider: String, sha: String) throws -> [(state: String, description: String, valid: Bool)] {
        try standIn.requests(provider: provider).filter { ($0["path"] as? String)?.contains(sha) == true && ($0["method"] as? String) == "POST" }
            .map { request in
                let body = request["body"] as? [String: Any] ?? [:]
                return ((body["state"] as? String) ?? "", (body["description"] as? String) ?? "", (request["valid"] as? Bool) ?? false)
            }
    }

    static func waitFor(_ what: String, timeout: Duration, _ e2e: EndToEnd, _ done: () throws -> Bool) async throws {
        try await e2e.waitFor(what, timeout: timeout, done)
    }

    @Test func pushesFromEachProviderReportPendingThenSuccessAndACrashReportsItsExitCode() async throws {
        let (repo, fullName, web) = try Self.privateRepository()
        let standIn = try Self.standIn()
        let one = try repo.commit(["Dockerfile": try Self.dockerfile(), "www/index.html": "one\n"])
        let e2e = try await Self.start(repo, standIn: standIn)
        defer { e2e.stop() }

        // GitHub: the event names e2e/SERVICE.
        try await e2e.push(one, delivery: "gh-1")
        _ = try await e2e.waitForStatus(timeout: .seconds(120)) { $0.liveSHA == one && $0.deployments.first?.state == "succeeded" }
        try await Self.waitFor("GitHub's success on \(one)", timeout: .seconds(60), e2e) {
            try Self.states(standIn, provider: "github", sha: one).last?.state == "success"
        }
        let github = try Self.states(standIn, provider: "github", sha: one)
        #expect(github.first?.state == "pending" && github.allSatisfy(\.valid), "\(github)")
        let first = try #require(try standIn.requests(provider: "github").first { ($0["path"] as? String)?.contains(one) == true })
        let body = try #require(first["body"] as? [String: Any])
        #expect(body["context"] as? String == "slipway/\(e2e.service)")
        #expect((body["target_url"] as? String)?.hasPrefix("https://slipway.example.com/deployments/") == true)
        #expect((first["path"] as? String) == "/github/repos/e2e/\(e2e.service)/statuses/\(one)")

        // GitLab: its project path, its own state words.
        let two = try repo.commit(["www/index.html": "two\n"])
        try await e2e.gitlabPush(two, project: "acme/\(e2e.service)", delivery: "gl-2", before: one)
        _ = try await e2e.waitForStatus(timeout: .seconds(120)) { $0.liveSHA == two && $0.deployments.first?.state == "succeeded" }
        try await Self.waitFor("GitLab's success on \(two)", timeout: .seconds(60), e2e) {
            try Self.states(standIn, provider: "gitlab", sha: two).last?.state == "success"
        }
        let gitlab = try Self.states(standIn, provider: "gitlab", sha: two)
        #expect(gitlab.first?.state == "pending" && gitlab.contains { $0.state == "running" } && gitlab.allSatisfy(\.valid), "\(gitlab)")
        #expect(try standIn.requests(provider: "gitlab").allSatisfy { ($0["path"] as? String)?.contains("/projects/acme%2F\(e2e.service)/") == true })

        // Bitbucket Cloud: a commit that crashes with exit code 3 is rolled back, and says so in red.
        let three = try repo.commit(["Dockerfile": try Self.dockerfile(#"["sh", "-c", "exit 3"]"#), "www/index.html": "three\n"])
        try await e2e.bitbucketPush(three, fullName: fullName, web: web, delivery: "bb-3", before: two)
        _ = try await e2e.waitForStatus(timeout: .seconds(120)) { $0.deployments.first { $0.sha == three }?.state == "rolled_back" }
        try await Self.waitFor("Bitbucket's FAILED on \(three)", timeout: .seconds(60), e2e) {
            try Self.states(standIn, provider: "bitbucket", sha: three).last?.state == "FAILED"
        }
        let bitbucket = try Self.states(standIn, provider: "bitbucket", sha: three)
        #expect(bitbucket.first?.state == "INPROGRESS" && bitbucket.allSatisfy(\.valid), "\(bitbucket)")
        #expect(bitbucket.last?.description.contains("code 3") == true, "\(bitbucket)")

        // Nothing the stand-in found against the contracts, and the credential nowhere in the log or the database.
        let invalid = try standIn.requests().filter { ($0["valid"] as? Bool) != true }
        #expect(invalid.isEmpty, "\(invalid)")
        let password = try EndToEnd.value("SLIPWAY_STACK_GIT_PASSWORD")
        #expect(!e2e.serveLog().contains(password))
        let dump = try Command.run("/usr/lib/postgresql/15/bin/pg_dump", [e2e.environment["DATABASE_URL"]!]).output
        #expect(!dump.isEmpty && !dump.contains(password))
    }

    @Test func aPullRequestHasOneCommentEditedInPlaceAcrossARestartAndAtClose() async throws {
        let (repo, _, _) = try Self.privateRepository()
        let standIn = try Self.standIn()
        let main = try repo.commit(["Dockerfile": try Self.dockerfile(), "www/index.html": "main\n"])
        var e2e = try await Self.start(repo, standIn: standIn, policyTail: "previews:\n  enabled: true\n  url: https://{service}-pr-{number}.preview.example.com")
        defer { e2e.stop() }
        let comments = { try standIn.requests(provider: "github").filter { ($0["path"] as? String)?.contains("/issues/") == true } }
        let created = { try comments().filter { ($0["method"] as? String) == "POST" } }
        let edits = { try comments().filter { ($0["method"] as? String) == "PATCH" } }
        func lastBody() throws -> String {
            ((try comments().last { ["POST", "PATCH"].contains($0["method"] as? String ?? "") })?["body"] as? [String: Any])?["body"] as? String ?? ""
        }

        let one = try repo.commitAside(["www/index.html": "pr one\n"], branch: "feature", from: main)
        try repo.pushRef(one, ref: "refs/pull/7/head")
        try await e2e.pullRequest("opened", number: 7, head: one, branch: "feature")
        _ = try await e2e.waitForStatus(timeout: .seconds(120)) { $0.preview(7)?.state == "live" }
        try await Self.waitFor("the comment saying live", timeout: .seconds(60), e2e) { try lastBody().contains("✅ live") }
        #expect(try created().count == 1)
        #expect(try lastBody().contains("https://\(e2e.service)-pr-7.preview.example.com"))
        #expect(try lastBody().contains(String(one.prefix(12))))

        // A new commit, with Slipway restarted in between: the same comment is edited.
        e2e.stop()
        e2e = try await e2e.relaunch(settings: [:])
        let two = try repo.commitAside(["www/index.html": "pr two\n"], branch: "feature-2", from: one)
        try repo.pushRef(two, ref: "refs/pull/7/head")
        try await e2e.pullRequest("synchronize", number: 7, head: two, branch: "feature")
        _ = try await e2e.waitForStatus(timeout: .seconds(120)) { $0.preview(7)?.state == "live" && $0.preview(7)?.sha == two }
        try await Self.waitFor("the comment naming the new commit", timeout: .seconds(60), e2e) {
            try lastBody().contains(String(two.prefix(12))) && lastBody().contains("✅ live")
        }
        #expect(try created().count == 1)
        #expect(try edits().count >= 1)

        // Closed: the comment says the previews are gone, and why.
        try await e2e.pullRequest("closed", number: 7, head: two, branch: "feature")
        try await Self.waitFor("the comment saying gone", timeout: .seconds(90), e2e) { try lastBody().contains("gone") }
        #expect(try created().count == 1)
        #expect(try lastBody().contains("closed"))
        let previewStatuses = try standIn.requests(provider: "github").filter { ($0["path"] as? String)?.contains("/statuses/\(two)") == true }
        #expect(previewStatuses.contains { (($0["body"] as? [String: Any])?["context"] as? String) == "slipway/\(e2e.service)-pr-7" })
        let invalid = try standIn.requests().filter { ($0["valid"] as? Bool) != true }
        #expect(invalid.isEmpty, "\(invalid)")
    }

    /// The provider is down from before the push until after the deployment is live: the deployment must not
    /// wait for it (decided by order, not by a time limit), and the statuses arrive once it is back.
    @Test func aProviderDownDelaysOnlyTheStatuses() async throws {
        let (repo, _, _) = try Self.privateRepository()
        let standIn = try Self.standIn()
        let one = try repo.commit(["Dockerfile": try Self.dockerfile(), "www/index.html": "one\n"])
        let e2e = try await Self.start(repo, standIn: standIn)
        defer { e2e.stop() }
        try standIn.fault(["provider": "github", "status": 500, "seconds": 3600])
        let pushed = ContinuousClock.now
        try await e2e.push(one, delivery: "gh-down")
        _ = try await e2e.waitForStatus(timeout: .seconds(180)) { $0.liveSHA == one }
        print("provider down: push → live \(EndToEnd.seconds(ContinuousClock.now - pushed)) s")
        let duringOutage = try standIn.requests(provider: "github").compactMap { $0["status"] as? Int }
        #expect(!duringOutage.contains(201), "a status was accepted while the provider was down: \(duringOutage)")
        try await Self.waitFor("a status attempt during the outage", timeout: .seconds(60), e2e) {
            try standIn.requests(provider: "github").contains { ($0["status"] as? Int) == 500 }
        }

        try standIn.clearFaults()
        let back = ContinuousClock.now
        try await Self.waitFor("the statuses after the outage", timeout: .seconds(200), e2e) {
            try standIn.requests(provider: "github").contains {
                ($0["status"] as? Int) == 201 && (($0["body"] as? [String: Any])?["state"] as? String) == "success"
            }
        }
        print("provider down: statuses arrived \(EndToEnd.seconds(ContinuousClock.now - back)) s after the provider was back")
    }
}
