import AsyncHTTPClient
import Foundation
import NIOCore
import SlipwayDocker
import SlipwayTestSupport
import SlipwayWebhooks
import Testing

/// A `slipway serve` process on the stack `deploy/test.sh` started, with its own
/// database, data dir, policy folder, git repository and service name.
final class EndToEnd: @unchecked Sendable {
    static let environment = ProcessInfo.processInfo.environment

    static var enabled: Bool {
        environment["SLIPWAY_REQUIRE_INTEGRATION"] == "1" || environment["SLIPWAY_STACK_DATABASE_URL"] != nil
    }

    static func value(_ key: String) throws -> String {
        guard let value = environment[key], !value.isEmpty else {
            throw Missing(description: "\(key) is not set: run the tests with deploy/test.sh, which starts the real parts")
        }
        return value
    }

    struct Missing: Error, CustomStringConvertible { var description: String }

    /// The `slipway` binary: SLIPWAY_BIN, or the debug build of this checkout.
    static var binary: String {
        environment["SLIPWAY_BIN"] ?? URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../.build/debug/slipway").standardized.path
    }

    let repo: TestRepo
    let service: String
    let secret = "e2e-\(UUID().uuidString)"
    let environment: [String: String]
    let baseURL: String
    let logFile: String
    private let lock = NSLock()
    private var _process: Process?
    var process: Process { lock.withLock { _process! } }

    private init(repo: TestRepo, service: String, environment: [String: String], baseURL: String, logFile: String) {
        self.repo = repo
        self.service = service
        self.environment = environment
        self.baseURL = baseURL
        self.logFile = logFile
    }

    /// `source` adds lines under the policy's `source:` (e.g. `poll: 1s`).
    /// `settings` are extra environment variables for `serve`; `policyTail` is appended to the policy.
    /// `deploy` replaces the policy's deploy block (indented by two spaces), `service` the generated name.
    static func start(rollbackWindow: String, jobLease: String = "30s", source: [String] = [],
                      repo given: TestRepo? = nil, settings: [String: String] = [:], policyTail: String = "",
                      deploy: String = "  target: docker\n  count: 1\n  env: { GREETING: hello }",
                      service named: String? = nil) async throws -> EndToEnd {
        let service = named ?? "e2e-\(UUID().uuidString.prefix(8).lowercased())"
        let root = try Scratch.directory(service)
        let repo = try given ?? TestRepo()
        let database = service.replacingOccurrences(of: "-", with: "_")
        let admin = try value("SLIPWAY_STACK_DATABASE_URL")
        try Command.run("/usr/bin/psql", [admin, "-qc", "CREATE DATABASE \(database)"])
        let port = try Scratch.freePort()
        try FileManager.default.createDirectory(atPath: "\(root)/policies", withIntermediateDirectories: true)
        try """
            service: \(service)
            source:
              repo: \(repo.url)
              branch: main
            \(source.map { "  " + $0 + "\n" }.joined())image: \(try value("SLIPWAY_STACK_REGISTRY"))/e2e/\(service)
            deploy:
            \(deploy)
            rollback:
              window: \(rollbackWindow)
              crashes: 1
            \(policyTail)
            """.write(toFile: "\(root)/policies/\(service).yaml", atomically: true, encoding: .utf8)

        var environment = [
            "DATABASE_URL": admin.replacingOccurrences(of: "/slipway?", with: "/\(database)?"),
            "SLIPWAY_POLICIES": "\(root)/policies",
            "SLIPWAY_DATA_DIR": "\(root)/data",
            "SLIPWAY_ALLOW_LOCAL_REPOS": "1",
            "SLIPWAY_HTTP_ADDR": "127.0.0.1:\(port)",
            "DOCKER_HOST": try value("SLIPWAY_STACK_DOCKER_HOST"),
            "SLIPWAY_LOG_LEVEL": "info",
        ]
        environment["SLIPWAY_DOCKER_NETWORK"] = Self.environment["SLIPWAY_STACK_DOCKER_NETWORK"]
        environment["SLIPWAY_JOB_LEASE"] = jobLease
        environment.merge(settings) { $1 }
        let logFile = "\(root)/serve.log"
        _ = FileManager.default.createFile(atPath: logFile, contents: nil)
        let e2e = EndToEnd(repo: repo, service: service, environment: environment, baseURL: "http://127.0.0.1:\(port)",
                           logFile: logFile)
        try await e2e.launch()
        return e2e
    }

    /// Rewrites the service's policy file, as a commit to the policies would.
    func editPolicy(_ change: (String) -> String) throws {
        let path = "\(environment["SLIPWAY_POLICIES"]!)/\(service).yaml"
        try change(try String(contentsOfFile: path, encoding: .utf8)).write(toFile: path, atomically: true, encoding: .utf8)
    }

    /// Waits until `done` holds; past `timeout`, records an issue with the server's log and throws.
    func waitFor(_ what: String, timeout: Duration, _ done: () throws -> Bool) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if try done() { return }
            try await Task.sleep(for: .milliseconds(250))
        }
        Issue.record("timed out waiting for \(what)\n\(serveLog())")
        throw EndToEndError("timed out waiting for \(what)")
    }

    /// One number from the service's database.
    func count(_ sql: String) throws -> Int {
        Int(try Command.run("/usr/bin/psql", [environment["DATABASE_URL"]!, "-tAc", sql]).output
            .trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
    }

    /// Starts `slipway serve` (again, after `kill`), and waits until it answers.
    func launch() async throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.binary)
        process.arguments = ["serve", "--env-file", "/dev/null"]
        process.environment = Self.environment.merging(environment) { $1 }
            .merging(["SLIPWAY_WEBHOOK_SECRET_GITHUB": secret, "SLIPWAY_WEBHOOK_SECRET_GITLAB": secret,
                      "SLIPWAY_WEBHOOK_SECRET_BITBUCKET": secret]) { $1 }
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logFile))
        try log.seekToEnd()
        process.standardOutput = log
        process.standardError = log
        try process.run()
        lock.withLock { _process = process }
        try await waitForHealth()
    }

    /// Another `serve` on the same database and folders, with `settings` changed (after `stop`).
    func relaunch(settings: [String: String]) async throws -> EndToEnd {
        let next = EndToEnd(repo: repo, service: service, environment: environment.merging(settings) { $1 }, baseURL: baseURL,
                            logFile: logFile)
        try await next.launch()
        return next
    }

    /// A second replica beside this one: the same database, policies and webhook secrets, its
    /// own port, data directory and log (as two machines behind a load balancer have).
    func replica() async throws -> EndToEnd {
        let port = try Scratch.freePort()
        let settings = ["SLIPWAY_HTTP_ADDR": "127.0.0.1:\(port)", "SLIPWAY_DATA_DIR": environment["SLIPWAY_DATA_DIR"]! + "-replica"]
        let log = logFile + ".replica"
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        let next = EndToEnd(repo: repo, service: service, environment: environment.merging(settings) { $1 },
                            baseURL: "http://127.0.0.1:\(port)", logFile: log)
        try await next.launch()
        return next
    }

    /// SIGKILL: the process gets no chance to clean up, as when a machine dies.
    func kill() {
        let process = self.process
        Glibc.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    func waitForHealth() async throws {
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            guard process.isRunning else { throw Missing(description: "slipway serve exited:\n\(serveLog())") }
            if let response = try? await HTTPClient.shared.execute(HTTPClientRequest(url: "\(baseURL)/health"), timeout: .seconds(2)),
               response.status == .ok { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw Missing(description: "slipway serve did not answer /health within 60 s:\n\(serveLog())")
    }

    func serveLog(full: Bool = false) -> String {
        (try? String(contentsOfFile: logFile, encoding: .utf8)).map { full ? $0 : String($0.suffix(6000)) } ?? ""
    }

    /// What GitHub sends for a push of `sha` to main, signed with the webhook secret.
    func push(_ sha: String, delivery: String, before: String = "0000000000000000000000000000000000000000", forced: Bool = false) async throws {
        let body = """
            {"ref":"refs/heads/main","before":"\(before)","after":"\(sha)",
             "created":false,"deleted":false,"forced":\(forced),
             "repository":{"full_name":"e2e/\(service)","clone_url":"\(repo.url)"},
             "head_commit":{"id":"\(sha)"}}
            """
        try await send(body: body, delivery: delivery)
    }

    /// What GitLab sends for a push of `sha` to main of project `path`.
    func gitlabPush(_ sha: String, project path: String, delivery: String, before: String = "0000000000000000000000000000000000000000") async throws {
        let body = """
            {"object_kind":"push","event_name":"push","ref":"refs/heads/main","before":"\(before)","after":"\(sha)",
             "checkout_sha":"\(sha)","total_commits_count":1,
             "project":{"path_with_namespace":"\(path)","git_http_url":"\(repo.url)"},
             "commits":[{"id":"\(sha)","added":[],"modified":["www/index.html"],"removed":[]}]}
            """
        try await send(body: body, delivery: delivery, path: "/webhooks/gitlab",
                       headers: [("X-Gitlab-Event", "Push Hook"), ("X-Gitlab-Event-UUID", delivery), ("X-Gitlab-Token", secret)])
    }

    /// What Bitbucket Cloud sends for a push of `sha` to main of `fullName`, whose web page is `web`.
    func bitbucketPush(_ sha: String, fullName: String, web: String, delivery: String, before: String) async throws {
        let body = """
            {"push":{"changes":[{"old":{"type":"branch","name":"main","target":{"type":"commit","hash":"\(before)"}},
                                 "new":{"type":"branch","name":"main","target":{"type":"commit","hash":"\(sha)"}},
                                 "created":false,"closed":false,"forced":false,"truncated":false}]},
             "repository":{"type":"repository","full_name":"\(fullName)","links":{"html":{"href":"\(web)"}}},"actor":{"display_name":"Ada"}}
            """
        try await send(body: body, delivery: delivery, path: "/webhooks/bitbucket",
                       headers: [("X-Event-Key", "repo:push"), ("X-Request-UUID", delivery), ("X-Hook-UUID", "hook-1"),
                                 ("X-Hub-Signature", WebhookSignature.sign(body: Data(body.utf8), secret: secret))])
    }

    /// What GitHub sends for a pull request event (`opened`, `synchronize`, `closed`, …) of `head`.
    func pullRequest(_ action: String, number: Int, head: String, branch: String, merged: Bool = false,
                     headRepo: String? = nil, delivery: String = UUID().uuidString) async throws {
        let body = """
            {"action":"\(action)","number":\(number),
             "pull_request":{"number":\(number),"merged":\(merged),
                             "head":{"ref":"\(branch)","sha":"\(head)","repo":{"full_name":"e2e/fork","clone_url":"\(headRepo ?? repo.url)"}},
                             "base":{"ref":"main","sha":"\(head)","repo":{"full_name":"e2e/\(service)","clone_url":"\(repo.url)"}}},
             "repository":{"full_name":"e2e/\(service)","clone_url":"\(repo.url)"}}
            """
        try await send(body: body, delivery: delivery, event: "pull_request")
    }

    /// Sends `body` as a GitHub push, signed with the webhook secret; expects 202.
    func send(body: String, delivery: String, event: String = "push") async throws {
        try await send(body: body, delivery: delivery, path: "/webhooks/github", headers: [
            ("X-GitHub-Event", event), ("X-GitHub-Delivery", delivery),
            ("X-Hub-Signature-256", WebhookSignature.sign(body: Data(body.utf8), secret: secret)),
        ])
    }

    func send(body: String, delivery: String, path: String, headers: [(String, String)]) async throws {
        var request = HTTPClientRequest(url: "\(baseURL)\(path)")
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        request.body = .bytes(ByteBuffer(string: body))
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
        #expect(response.status == .accepted, "webhook answered \(response.status)")
    }

    struct Status: Decodable {
        struct Deployment: Decodable {
            var id: Int64
            var sha: String?
            var state: String
            var reason: String?
            var by: String?
        }
        struct Preview: Decodable {
            var number: Int
            var service: String
            var branch: String?
            var sha: String?
            var state: String
            var url: String?
            var updatedAt: String
            var reason: String?
        }
        var service: String
        var liveSHA: String?
        var state: String
        var deployments: [Deployment]
        var previews: [Preview]?

        func preview(_ number: Int) -> Preview? { previews?.first { $0.number == number } }
    }

    /// A token of `role`, made with `slipway tokens create` as an operator would.
    func token(_ role: String = "admin", name: String = "e2e-\(UUID().uuidString.prefix(6))") throws -> String {
        let result = try Command.run(Self.binary, ["tokens", "create", name, "--role", role, "--env-file", "/dev/null"], environment: environment)
        return String(result.output.split(separator: "\n").last ?? "")
    }

    /// An API request with a fresh viewer token.
    func apiGet(_ path: String) async throws -> HTTPClientResponse {
        var request = HTTPClientRequest(url: "\(baseURL)\(path)")
        request.headers.add(name: "Authorization", value: "Bearer \(try token("viewer"))")
        return try await HTTPClient.shared.execute(request, timeout: .seconds(10))
    }

    /// `slipway status SERVICE --json`, as a user would run it.
    func status() async throws -> Status {
        let result = try await Command.runDetached(Self.binary, ["status", service, "--json", "--env-file", "/dev/null"], environment: environment)
        let statuses = try JSONDecoder().decode([Status].self, from: Data(result.output.utf8))
        return try #require(statuses.first)
    }

    /// `slipway plan SERVICE --json`: the service's plan as JSON.
    func plan() throws -> [String: Any] {
        let result = try Command.run(Self.binary, ["plan", service, "--json", "--env-file", "/dev/null"], environment: environment)
        let array = try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [[String: Any]]
        guard let plan = array?.first else { throw EndToEndError("slipway plan printed no plan: \(result.output)") }
        return plan
    }

    func waitForStatus(timeout: Duration, until done: (Status) -> Bool) async throws -> Status {
        let deadline = ContinuousClock.now + timeout
        var last: Status?
        while ContinuousClock.now < deadline {
            let status = try await status()
            if done(status) { return status }
            last = status
            try await Task.sleep(for: .milliseconds(250))
        }
        Issue.record("status did not reach the expected state; last: \(String(describing: last))\n\(serveLog())")
        throw Missing(description: "timed out")
    }

    /// The delivery that recorded commit `sha` (a webhook's or a poll's), once there is one.
    func waitForDelivery(after sha: String, timeout: Duration) async throws -> (outcome: String, detail: String) {
        let deadline = ContinuousClock.now + timeout
        let sql = "SELECT outcome || '|' || detail::text FROM webhook_deliveries WHERE after_sha = '\(sha)' ORDER BY id DESC LIMIT 1"
        while ContinuousClock.now < deadline {
            let row = try Command.run("/usr/bin/psql", [environment["DATABASE_URL"]!, "-tAc", sql]).output
            if let bar = row.firstIndex(of: "|") {
                let outcome = String(row[..<bar])
                if outcome != "matching" { return (outcome, String(row[row.index(after: bar)...])) }
            }
            try await Task.sleep(for: .milliseconds(200))
        }
        Issue.record("no delivery for \(sha) within \(timeout)\n\(serveLog())")
        throw Missing(description: "timed out")
    }

    /// Running containers of the service, with the commit each runs.
    func runningContainers() async throws -> [(id: String, sha: String?)] {
        let engine = try DockerEngine(host: try Self.value("SLIPWAY_STACK_DOCKER_HOST"))
        var running: [(String, String?)] = []
        for id in try await engine.containers(labels: ["slipway.service": service]) {
            let state = try await engine.inspectContainer(id)
            if state.status == "running" { running.append((id, state.labels["slipway.sha"])) }
        }
        return running
    }

    /// From the crash's exit time (the engine's clock) to the recorded start of the rollback.
    func exitToRollbackSeconds(deploymentID: Int64) throws -> Double {
        let sql = """
            SELECT extract(epoch FROM r.at - (c.detail->>'finishedAt')::timestamptz)
            FROM deployment_events c JOIN deployment_events r ON r.deployment_id = c.deployment_id AND r.kind = 'rollback'
            WHERE c.deployment_id = \(deploymentID) AND c.kind = 'crash' ORDER BY c.id LIMIT 1
            """
        let result = try Command.run("/usr/bin/psql", [environment["DATABASE_URL"]!, "-tAc", sql])
        return Double(result.output) ?? -1
    }

    /// From the first crash's exit to the deployment ending rolled back (the earlier revision started and live).
    func exitToRolledBackSeconds(deploymentID: Int64) throws -> Double {
        let sql = """
            SELECT extract(epoch FROM r.at - (c.detail->>'finishedAt')::timestamptz)
            FROM deployment_events c JOIN deployment_events r
              ON r.deployment_id = c.deployment_id AND r.kind = 'state' AND r.message LIKE 'rolled\\_back%'
            WHERE c.deployment_id = \(deploymentID) AND c.kind = 'crash' ORDER BY c.id LIMIT 1
            """
        let result = try Command.run("/usr/bin/psql", [environment["DATABASE_URL"]!, "-tAc", sql])
        return Double(result.output) ?? -1
    }

    static func seconds(_ duration: Duration) -> String {
        String(format: "%.2f", Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18)
    }

    /// SIGTERM, as a supervisor stops it; it must exit on its own.
    func stop() {
        guard process.isRunning else { return }
        process.terminate()
        let deadline = Date().addingTimeInterval(15)
        while process.isRunning && Date() < deadline { usleep(50_000) }
        if process.isRunning {
            Glibc.kill(process.processIdentifier, SIGKILL)
            // A service that ignores graceful shutdown keeps every other one (workers included) running.
            Issue.record("slipway serve did not exit within 15 s of SIGTERM:\n\(serveLog())")
        }
    }
}

struct EndToEndError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
