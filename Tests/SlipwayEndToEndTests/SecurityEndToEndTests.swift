import Foundation
import SlipwayCore
import SlipwayTestSupport
import Testing

/// What a repository and a webhook sender cannot make a running `slipway serve` do, tried
/// against the binary: read the server's files through a link, stall it with a Procfile,
/// deploy a commit the branch does not point at, write control characters to a terminal,
/// or take its memory with large unsigned bodies.
@Suite(.enabled(if: EndToEnd.enabled), .serialized)
struct SecurityEndToEndTests {
    static let zero = String(repeating: "0", count: 40)

    static func start(_ settings: [String: String] = [:]) async throws -> EndToEnd {
        let base = try EndToEnd.value("SLIPWAY_STACK_BASE_IMAGE")
        let mirror = BaseImageDefaults.keys.map { "\($0)=\(base)" }.joined(separator: ",")
        return try await EndToEnd.start(rollbackWindow: "2s", settings: settings.merging(["SLIPWAY_BASE_IMAGES": mirror]) { a, _ in a })
    }

    static func runForever(_ tag: String) throws -> String {
        "FROM \(try EndToEnd.value("SLIPWAY_STACK_BASE_IMAGE"))\nCMD [\"sh\", \"-c\", \"echo \(tag); trap 'exit 0' TERM; while true; do sleep 1; done\"]\n"
    }

    func logs(_ e2e: EndToEnd, _ id: Int64) throws -> String {
        try Command.run(EndToEnd.binary, ["logs", "\(id)", "--env-file", "/dev/null"], environment: e2e.environment).output
    }

    func events(_ e2e: EndToEnd, _ id: Int64) throws -> String {
        try Command.run("/usr/bin/psql", [e2e.environment["DATABASE_URL"]!, "-tAc",
                                          "SELECT string_agg(message || ' ' || detail::text, E'\\n') FROM deployment_events WHERE deployment_id = \(id)"]).output
    }

    func deployment(_ e2e: EndToEnd, sha: String, after id: Int64 = 0) async throws -> EndToEnd.Status.Deployment {
        let status = try await e2e.waitForStatus(timeout: .seconds(180)) { status in
            status.deployments.contains { $0.sha == sha && $0.id > id && ["succeeded", "failed", "superseded", "rolled_back", "cancelled"].contains($0.state) }
        }
        return try #require(status.deployments.first { $0.sha == sha && $0.id > id })
    }

    /// `.nvmrc` linked to the server's environment, a Dockerfile linked to /etc/passwd: the build
    /// fails saying so, and no byte of either reaches the deployment's log, reason or events.
    @Test func linksOutOfTheCheckoutAreRefusedAndNothingOfThemShown() async throws {
        let e2e = try await Self.start()
        defer { e2e.stop() }
        try "{\"scripts\": {\"start\": \"node a.js\"}}".write(toFile: "\(e2e.repo.work)/package.json", atomically: true, encoding: .utf8)
        try FileManager.default.createSymbolicLink(atPath: "\(e2e.repo.work)/.nvmrc", withDestinationPath: "/proc/self/environ")
        let environ = try e2e.repo.commit([:])
        try await e2e.push(environ, delivery: "link-1")
        let first = try await deployment(e2e, sha: environ)
        #expect(first.state == "failed")
        #expect(first.reason?.contains("`.nvmrc` is a symbolic link that leads outside the repository") == true, "\(first.reason ?? "")")
        let shown = try logs(e2e, first.id) + (first.reason ?? "") + events(e2e, first.id)
        #expect(!shown.contains(e2e.secret) && !shown.contains("SLIPWAY_WEBHOOK_SECRET_GITHUB") && !shown.contains("DATABASE_URL"))

        try FileManager.default.createSymbolicLink(atPath: "\(e2e.repo.work)/Dockerfile", withDestinationPath: "/etc/passwd")
        let passwd = try e2e.repo.commit([:])
        try await e2e.push(passwd, delivery: "link-2")
        let second = try await deployment(e2e, sha: passwd)
        #expect(second.state == "failed")
        #expect(second.reason?.contains("the Dockerfile `Dockerfile` is a symbolic link") == true, "\(second.reason ?? "")")
        #expect(!(try logs(e2e, second.id) + events(e2e, second.id)).contains("root:x:0:0"))
    }

    /// The 435-byte alias bomb as a Procfile fails its build at once, with the reason; the
    /// worker is alive for the next push, which deploys.
    @Test func anAliasBombProcfileFailsAtOnceAndTheNextPushDeploys() async throws {
        let e2e = try await Self.start()
        defer { e2e.stop() }
        var bomb = #"a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]"# + "\n"
        for (name, previous) in zip("bcdefghi", "abcdefgh") {
            bomb += "\(name): &\(name) [" + Array(repeating: "*\(previous)", count: 9).joined(separator: ",") + "]\n"
        }
        let start = "#!/bin/sh\necho up\nwhile true; do sleep 1; done\n"
        let bombed = try e2e.repo.commit(["start.sh": start, "Procfile": bomb])
        try await e2e.push(bombed, delivery: "bomb-1")
        let failed = try await deployment(e2e, sha: bombed)
        #expect(failed.state == "failed")
        #expect(failed.reason?.contains("Procfile line 1 uses a YAML anchor or alias") == true, "\(failed.reason ?? "")")

        let fixed = try e2e.repo.commit(["start.sh": start, "Procfile": "web: sh start.sh\n"])
        try await e2e.push(fixed, delivery: "bomb-2")
        let status = try await e2e.waitForStatus(timeout: .seconds(180)) { $0.liveSHA == fixed || $0.deployments.first?.state == "failed" }
        #expect(status.liveSHA == fixed, "\(status.deployments.first?.reason ?? "")")
    }

    /// A commit the branch never had, an old push replayed after its delivery was forgotten,
    /// and a push of a commit the branch has left: none deploys. A force-push back does.
    @Test func onlyWhatTheBranchPointsAtDeploys() async throws {
        let e2e = try await Self.start()
        defer { e2e.stop() }
        let x = try e2e.repo.commit(["Dockerfile": try Self.runForever("x")])
        try await e2e.push(x, delivery: "x-1")
        _ = try await e2e.waitForStatus(timeout: .seconds(180)) { $0.liveSHA == x }
        let y = try e2e.repo.commit(["Dockerfile": try Self.runForever("y")])
        try await e2e.push(y, delivery: "y-1", before: x)
        _ = try await e2e.waitForStatus(timeout: .seconds(180)) { $0.liveSHA == y }

        // Signed, but main never had it.
        let z = try e2e.repo.commitAside(["Dockerfile": try Self.runForever("z")], branch: "feature", from: x)
        try await e2e.push(z, delivery: "z-1", before: y)
        let forged = try await deployment(e2e, sha: z)
        #expect(forged.state == "failed")
        #expect(forged.reason?.contains("forged or replayed") == true, "\(forged.reason ?? "")")

        // X's push again, once the deliveries that would have caught it are pruned.
        #expect(try e2e.count("WITH d AS (DELETE FROM webhook_deliveries RETURNING 1) SELECT count(*) FROM d") > 0)
        let lastID = try await e2e.status().deployments.map(\.id).max() ?? 0
        try await e2e.push(x, delivery: "x-1")
        let replayed = try await deployment(e2e, sha: x, after: lastID)
        #expect(["superseded", "failed"].contains(replayed.state))
        #expect(replayed.reason?.contains("has moved on to \(y.prefix(12))") == true, "\(replayed.reason ?? "")")
        #expect(try await e2e.status().liveSHA == y)
        #expect(try await e2e.runningContainers().map(\.sha) == [y])
        // Nor does the reconciler take the replay for the branch's newest commit.
        #expect(try e2e.plan()["desiredSHA"] as? String == y)

        // A force-push back to X is a revert: it deploys.
        try e2e.repo.forcePush(x)
        try await e2e.push(x, delivery: "x-back", before: y, forced: true)
        let back = try await e2e.waitForStatus(timeout: .seconds(180)) { $0.liveSHA == x && $0.deployments.first?.sha == x }
        #expect(back.liveSHA == x)
        // Y's push replayed while main is back at X: refused, X stays.
        let backID = try #require(back.deployments.first?.id)
        try await e2e.push(y, delivery: "y-replay", before: x)
        let stale = try await deployment(e2e, sha: y, after: backID)
        #expect(stale.state == "failed", "\(stale.reason ?? "")")
        #expect(try await e2e.status().liveSHA == x)
    }

    /// A rollback away from a commit is not undone by announcing that commit again, even once
    /// its delivery is forgotten and the branch still points at it.
    @Test func aReplayDoesNotUndoARollback() async throws {
        let e2e = try await Self.start()
        defer { e2e.stop() }
        let good = try e2e.repo.commit(["Dockerfile": try Self.runForever("good")])
        try await e2e.push(good, delivery: "good-1")
        _ = try await e2e.waitForStatus(timeout: .seconds(180)) { $0.liveSHA == good }
        let bad = try e2e.repo.commit(["Dockerfile": try Self.runForever("bad")])
        try await e2e.push(bad, delivery: "bad-1", before: good)
        _ = try await e2e.waitForStatus(timeout: .seconds(180)) { $0.liveSHA == bad && $0.deployments.first?.state == "succeeded" }
        let rollback = try Command.run(EndToEnd.binary, ["rollback", e2e.service, "--env-file", "/dev/null"], environment: e2e.environment)
        #expect(rollback.output.contains("queued"), "\(rollback.output)\(rollback.errors)")
        let back = try await e2e.waitForStatus(timeout: .seconds(180)) { $0.liveSHA == good && $0.deployments.first?.state == "succeeded" }
        let rollbackID = try #require(back.deployments.first?.id)

        #expect(try e2e.count("WITH d AS (DELETE FROM webhook_deliveries RETURNING 1) SELECT count(*) FROM d") > 0)
        try await e2e.push(bad, delivery: "bad-1", before: good)
        let replayed = try await deployment(e2e, sha: bad, after: rollbackID)
        #expect(replayed.state == "failed")
        #expect(replayed.reason?.contains("was replaced by deployment \(rollbackID)") == true, "\(replayed.reason ?? "")")
        #expect(try await e2e.status().liveSHA == good)
        #expect(try await e2e.runningContainers().map(\.sha) == [good])
    }

    /// A build step's NUL byte and escape sequences: the log is stored whole (the NUL does not
    /// fail the batch) and `slipway logs` prints it without them.
    @Test func controlCharactersInBuildOutputAreStoredAndShownSafely() async throws {
        let e2e = try await Self.start()
        defer { e2e.stop() }
        let base = try EndToEnd.value("SLIPWAY_STACK_BASE_IMAGE")
        let marker = UUID().uuidString.prefix(8)
        let sha = try e2e.repo.commit(["Dockerfile": """
            FROM \(base)
            RUN printf 'nul:\\000:end-\(marker)\\n\\033[31mred-\(marker)\\033[0m\\n\\033]0;title\\007done-\(marker)\\n\\033[2J'
            CMD ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"]
            """])
        try await e2e.push(sha, delivery: "ctl-1")
        let deployed = try await deployment(e2e, sha: sha)
        #expect(deployed.state == "succeeded", "\(deployed.reason ?? "")")
        let printed = try logs(e2e, deployed.id)
        #expect(printed.contains("nul::end-\(marker)"), "\(printed)")
        #expect(printed.contains("red-\(marker)") && printed.contains("done-\(marker)"))
        #expect(!printed.unicodeScalars.contains { $0.value == 0 || $0.value == 0x1B || $0.value == 0x07 })
        #expect(try e2e.count("SELECT count(*) FROM deployment_logs WHERE strpos(line, chr(27)) > 0") == 0)
    }

    /// 200 unsigned 25 MiB POSTs at once: every one is answered 401 from its headers, and the
    /// server's resident memory grows by less than 64 MiB. With a signature that cannot match,
    /// bodies are held within the budget (128 MiB) and the rest answered 503: the memory grows by
    /// less than the budget and 128 MiB of the server's own buffers (5,000 MiB were sent).
    @Test func largeBodiesAtOnceStayWithinTheMemoryBound() async throws {
        let e2e = try await Self.start()
        defer { e2e.stop() }
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../deploy/bench/webhook_flood.py").standardized.path
        let pid = "\(e2e.process.processIdentifier)"
        func idle() throws -> Double {
            let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
            let line = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") } ?? ""
            return (Double(line.split(separator: " ").dropFirst().first ?? "0") ?? 0) / 1024
        }
        let before = try idle()
        func flood(_ signature: String) throws -> [String: Any] {
            let output = try Command.run("/usr/bin/env", ["python3", script, "\(e2e.baseURL)/webhooks/github", "--requests", "200",
                                                          "--size-mb", "25", "--signature", signature, "--pid", pid]).output
            return try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any] ?? [:]
        }
        let unsigned = try flood("unsigned")
        #expect((unsigned["statuses"] as? [String: Int]) == ["401": 200], "\(unsigned)")
        let peak = unsigned["peak_rss_mb"] as? Double ?? .infinity
        #expect(peak - before < 64, "peak \(peak) MiB, idle \(before) MiB")
        let wrong = try flood("wrong")
        let statuses = wrong["statuses"] as? [String: Int] ?? [:]
        #expect(statuses.keys.allSatisfy { ["401", "503"].contains($0) } && statuses.values.reduce(0, +) == 200, "\(wrong)")
        let wrongPeak = wrong["peak_rss_mb"] as? Double ?? .infinity
        // The budget, plus the server's own buffers for the bodies being read (measured: 110–170 MiB in all).
        #expect(wrongPeak - before < 128 + 128, "peak \(wrongPeak) MiB, idle \(before) MiB")
        print("webhook flood: idle \(before) MiB; unsigned \(unsigned); wrong signature \(wrong)")
        // And it still serves.
        let sha = try e2e.repo.commit(["Dockerfile": try Self.runForever("after-flood")])
        try await e2e.push(sha, delivery: "after-flood")
    }
}
