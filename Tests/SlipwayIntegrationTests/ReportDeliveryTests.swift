import Foundation
import Logging
import PostgresNIO
@testable import SlipwayController
import SlipwayCore
import SlipwaySourceHosts
@testable import SlipwayStore
import SlipwaySystem
import SlipwayTestSupport
import Testing

/// Reports on real Postgres, sent to the contract-checking stand-in: the newest state wins, a
/// late pending never replaces a final report, rate limits set the retry, a broken reporting
/// table never stops a deployment, and a GitHub App's token is made, reused and renewed.
@Suite(.enabled(if: TestStack.enabled))
struct ReportDeliveryTests {
    static let sha = "3f2c1b0a9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a"
    static let token = "report-token"

    struct Rig {
        let store: Store
        let standIn: SourceHostStandIn
        let handler: NotifyHandler

        init(store: Store, hosts: ((String) -> SourceHosts)? = nil) async throws {
            self.store = store
            standIn = try SourceHostStandIn(tokens: ["github": ReportDeliveryTests.token])
            let url = standIn.url
            let hosts = hosts?(url) ?? SourceHosts(githubAPI: "\(url)/github", tokens: [.github: ReportDeliveryTests.token],
                                                    publicURL: "https://slipway.example.com")
            let access = SourceAccess(store: store, hosts: hosts, secrets: .standard, knownHostsFile: nil,
                                      apps: GitHubAppTokens(transport: HTTPTransport()), logger: TestStack.logger)
            handler = NotifyHandler(store: store, access: access, hosts: hosts, transport: HTTPTransport())
            let policy = Policy(service: "web", source: .init(repo: "https://github.com/acme/shop.git"), image: "r.example.com/acme/web")
            try await store.syncServices([(policy, "web.yaml")])
            try await store.setReportProviders(["github"])
            try await store.setServiceReportTargets(["web": ("github", "acme/shop")])
        }

        /// The notify jobs queued so far, oldest first.
        func jobs() async throws -> [ClaimedJob] {
            let rows = try await store.client.query("""
                SELECT id, payload::text FROM jobs WHERE kind = 'notify' ORDER BY id
                """).collect()
            return try rows.map { row in
                let (id, payload) = try row.decode((Int64, String).self)
                return ClaimedJob(id: id, kind: .notify, deploymentID: nil, service: nil, attempts: 1, maxAttempts: 12,
                                  timeout: .minutes(1), leaseToken: UUID(), payloadJSON: payload)
            }
        }

        func sent() throws -> [String] {
            try standIn.requests(provider: "github").filter { ($0["method"] as? String) == "POST" }.map {
                (($0["body"] as? [String: Any])?["state"] as? String) ?? "?"
            }
        }
    }

    @Test func theNewestStateIsSentAndALatePendingNeverReplacesSuccess() async throws {
        try await TestStack.withStore { store, _ in
            let rig = try await Rig(store: store)
            let id = try await store.createDeployment(service: "web", trigger: .manual, sha: Self.sha, image: nil, firstJob: .build)
            #expect(try await store.transition(id, to: .building))
            #expect(try await store.transition(id, to: .rollingOut))
            // Three changes, three jobs; the first to run says the newest state, the others find nothing to add.
            let jobs = try await rig.jobs()
            #expect(jobs.count == 3)
            for job in jobs.reversed() { try await rig.handler.run(job, logger: TestStack.logger) }
            #expect(try rig.sent() == ["pending"])
            _ = try await store.transition(id, to: .watching)
            _ = try await store.transition(id, to: .succeeded)
            for job in try await rig.jobs().suffix(2) { try await rig.handler.run(job, logger: TestStack.logger) }
            #expect(try rig.sent() == ["pending", "success"])
            // A second deployment of the same commit starting over: its pending does not replace the success.
            let again = try await store.createDeployment(service: "web", trigger: .manual, sha: Self.sha, image: nil, firstJob: .build)
            _ = try await store.transition(again, to: .building)
            for job in try await rig.jobs().suffix(2) { try await rig.handler.run(job, logger: TestStack.logger) }
            #expect(try rig.sent() == ["pending", "success"])
            // …but its failure does.
            _ = try await store.transition(again, to: .failed, reason: "build failed: exit code 2\nmore")
            for job in try await rig.jobs().suffix(1) { try await rig.handler.run(job, logger: TestStack.logger) }
            #expect(try rig.sent() == ["pending", "success", "failure"])
            let last = try #require(try rig.standIn.requests(provider: "github").last)
            let body = try #require(last["body"] as? [String: Any])
            #expect(body["description"] as? String == "Slipway: build failed: exit code 2")
            #expect(body["target_url"] as? String == "https://slipway.example.com/deployments/\(again)")
            #expect(try rig.standIn.requests().allSatisfy { ($0["valid"] as? Bool) == true })
        }
    }

    @Test func aRateLimitSetsWhenItIsTriedAgainAndTheErrorIsKept() async throws {
        try await TestStack.withStore { store, _ in
            let rig = try await Rig(store: store)
            _ = try await store.createDeployment(service: "web", trigger: .manual, sha: Self.sha, image: nil, firstJob: .build)
            try rig.standIn.fault(["provider": "github", "secondary": true, "retry_after": 42, "count": 1])
            let job = try #require(try await rig.jobs().first)
            await #expect {
                try await rig.handler.run(job, logger: TestStack.logger)
            } throws: { error in
                (error as? RetryLater)?.after == .seconds(42)
            }
            let problems = try await store.reportProblems()
            #expect(problems.first?.error.contains("secondary rate limit") == true, "\(problems)")
            // Tried again: delivered, and the problem is gone.
            try await rig.handler.run(job, logger: TestStack.logger)
            #expect(try rig.sent().last == "pending")
            #expect(try await store.reportProblems().isEmpty)
        }
    }

    @Test func wrongCredentialsAreNotRetriedAndSaySo() async throws {
        try await TestStack.withStore { store, _ in
            let rig = try await Rig(store: store) { url in SourceHosts(githubAPI: "\(url)/github", tokens: [.github: "wrong"]) }
            _ = try await store.createDeployment(service: "web", trigger: .manual, sha: Self.sha, image: nil, firstJob: .build)
            let job = try #require(try await rig.jobs().first)
            await #expect {
                try await rig.handler.run(job, logger: TestStack.logger)
            } throws: { error in
                (error as? PermanentJobError)?.message.contains("rejected the credentials (401): check SLIPWAY_GITHUB_TOKEN") == true
            }
        }
    }

    @Test func aBrokenReportingTableNeverStopsADeployment() async throws {
        try await TestStack.withStore { store, _ in
            _ = try await Rig(store: store)
            try await store.client.query("DROP TABLE commit_reports CASCADE")
            let id = try await store.createDeployment(service: "web", trigger: .manual, sha: Self.sha, image: nil, firstJob: .build)
            #expect(try await store.transition(id, to: .building))
            #expect(try await store.deployment(id).record.state == .building)
        }
    }

    @Test func noProviderCredentialsQueueNothing() async throws {
        try await TestStack.withStore { store, _ in
            let rig = try await Rig(store: store)
            try await store.setReportProviders([])
            _ = try await store.createDeployment(service: "web", trigger: .manual, sha: Self.sha, image: nil, firstJob: .build)
            #expect(try await rig.jobs().isEmpty)
        }
    }

    @Test func aGitHubAppTokenIsMadeFromAVerifiedJWTAndReused() async throws {
        let dir = try Scratch.directory("app")
        _ = try Command.run("/usr/bin/openssl", ["genrsa", "-traditional", "-out", "\(dir)/app.pem", "2048"])
        _ = try Command.run("/usr/bin/openssl", ["rsa", "-in", "\(dir)/app.pem", "-pubout", "-out", "\(dir)/app.pub"])
        let standIn = try SourceHostStandIn(tokens: [:], environment: [
            "SLIPWAY_STANDIN_GITHUB_APP_ID": "4242", "SLIPWAY_STANDIN_GITHUB_APP_PUBLIC_KEY_FILE": "\(dir)/app.pub",
        ])
        let tokens = GitHubAppTokens(transport: HTTPTransport())
        let app = GitCredential.GitHubApp(appID: "4242", privateKey: try String(contentsOfFile: "\(dir)/app.pem", encoding: .utf8))
        let first = try await tokens.token(app: app, api: "\(standIn.url)/github", repository: "acme/shop")
        #expect(try await tokens.token(app: app, api: "\(standIn.url)/github", repository: "acme/shop") == first)
        #expect(await tokens.issued == 1)
        // Signed by another key: the stand-in refuses the JWT.
        _ = try Command.run("/usr/bin/openssl", ["genrsa", "-traditional", "-out", "\(dir)/other.pem", "2048"])
        let stranger = GitCredential.GitHubApp(appID: "4242", privateKey: try String(contentsOfFile: "\(dir)/other.pem", encoding: .utf8))
        await #expect(throws: GitHubAppTokens.Refused.self) {
            _ = try await GitHubAppTokens(transport: HTTPTransport()).token(app: stranger, api: "\(standIn.url)/github", repository: "acme/shop")
        }
        // A token that expires within the renewal margin is renewed at the next use.
        try standIn.configure(["installation_token_lifetime_seconds": 120])
        let short = GitHubAppTokens(transport: HTTPTransport())
        let a = try await short.token(app: app, api: "\(standIn.url)/github", repository: "acme/shop")
        let b = try await short.token(app: app, api: "\(standIn.url)/github", repository: "acme/shop")
        #expect(a != b && a != first)
        #expect(await short.issued == 2)
        let appCalls = try standIn.requests(provider: "github").filter { ($0["operation"] as? String)?.hasPrefix("apps/") == true }
        #expect(!appCalls.isEmpty && appCalls.filter { ($0["status"] as? Int) == 201 }.count == 3, "\(appCalls.map { $0["status"] ?? "" })")
    }
}

/// GitLab, Bitbucket Cloud and Bitbucket Server take statuses and the pull request's comment
/// as their contracts say (the stand-in checks each request), on real Postgres.
@Suite(.enabled(if: TestStack.enabled))
struct ProviderReportTests {
    static let sha = ReportDeliveryTests.sha

    @Test(arguments: [("gitlab", "acme/platform/shop", "glpat-x"), ("bitbucket", "ws/shop", "me:app-pw"), ("bitbucket-server", "PROJ/shop", "bbs-token")])
    func statusAndCommentFollowTheContract(_ provider: String, _ repository: String, _ token: String) async throws {
        try await TestStack.withStore { store, _ in
            let standIn = try SourceHostStandIn(tokens: [provider: token])
            let p = try #require(CommitStatus.Provider(rawValue: provider))
            let hosts = SourceHosts(gitlabAPI: "\(standIn.url)/gitlab/api/v4", bitbucketAPI: "\(standIn.url)/bitbucket/2.0",
                                    bitbucketServerAPI: "\(standIn.url)/bitbucket-server", tokens: [p: token])
            let access = SourceAccess(store: store, hosts: hosts, secrets: .standard, knownHostsFile: nil,
                                      apps: GitHubAppTokens(transport: HTTPTransport()), logger: TestStack.logger)
            let handler = NotifyHandler(store: store, access: access, hosts: hosts, transport: HTTPTransport())
            let policy = Policy(service: "web", source: .init(repo: "https://git.example.com/acme/shop.git"), image: "r.example.com/acme/web")
            try await store.syncServices([(policy, "web.yaml")])
            try await store.setReportProviders([provider])
            try await store.setServiceReportTargets(["web": (provider, repository)])
            // A preview of pull request 7 whose deployment goes live: its status and its comment.
            try await store.client.query("""
                INSERT INTO previews (service, number, state, branch, head_sha, url, report_provider, report_repository)
                VALUES ('web', 7, 'open', 'feature', \(Self.sha), 'https://web-pr-7.example.com', \(provider), \(repository))
                """)
            let id = try await store.createDeployment(service: "web", environment: .pullRequest(7), trigger: .manual, sha: Self.sha,
                                                      image: nil, firstJob: .build)
            _ = try await store.transition(id, to: .building)
            let run = { () async throws in
                let rows = try await store.client.query("SELECT id, payload::text FROM jobs WHERE kind = 'notify' AND state = 'queued' ORDER BY id").collect()
                for row in rows {
                    let (job, payload) = try row.decode((Int64, String).self)
                    try await handler.run(ClaimedJob(id: job, kind: .notify, deploymentID: nil, service: nil, attempts: 1, maxAttempts: 12,
                                                     timeout: .minutes(1), leaseToken: UUID(), payloadJSON: payload), logger: TestStack.logger)
                    try await store.client.query("UPDATE jobs SET state = 'succeeded' WHERE id = \(job)")
                }
            }
            try await run()
            _ = try await store.transition(id, to: .failed, reason: "slipway-web-pr-7 exited with code 3")
            try await run()
            try await store.client.query("UPDATE previews SET state = 'closed', reason = 'pull request merged', closed_at = now() WHERE service = 'web'")
            try await run()

            let requests = try standIn.requests(provider: provider)
            let invalid = requests.filter { ($0["valid"] as? Bool) != true }
            #expect(invalid.isEmpty, "\(invalid)")
            let operations = requests.compactMap { $0["operation"] as? String }
            #expect(operations.contains { $0.contains("status") || $0.contains("builds") }, "\(operations)")
            #expect(operations.filter { $0.contains("comment") || $0.contains("note") }.count >= 3, "\(operations)")
            #expect(operations.filter { $0.hasSuffix(".create") && ($0.contains("comment") || $0.contains("note")) }.count == 1, "\(operations)")
            let statusBodies = requests.filter { ($0["path"] as? String)?.contains(Self.sha) == true }.compactMap { $0["body"] as? [String: Any] }
            #expect((statusBodies.last?["description"] as? String)?.contains("code 3") == true, "\(statusBodies)")
            let lastComment = requests.last { (($0["operation"] as? String) ?? "").contains("comment") || (($0["operation"] as? String) ?? "").contains("note") }
            let body = lastComment?["body"] as? [String: Any]
            let text = (body?["body"] as? String) ?? (body?["text"] as? String) ?? ((body?["content"] as? [String: Any])?["raw"] as? String) ?? ""
            #expect(text.contains("gone") && text.contains("merged"), "\(text)")
        }
    }
}
