import Foundation
import SlipwayTestSupport
import Testing

/// The CLI from anywhere: with only SLIPWAY_URL and SLIPWAY_TOKEN (no database), a deployer
/// deploys, follows the logs, reads the status, rolls back and cancels; plan, previews and
/// policy history print what they print from the database; a viewer's changing verbs are
/// refused with what to do; a bad token is named.
@Suite(.enabled(if: EndToEnd.enabled))
struct RemoteCLITests {
    /// Runs `slipway ARGS` against the server only: no DATABASE_URL anywhere.
    static func cli(_ e2e: EndToEnd, token: String, _ arguments: [String], check: Bool = true) async throws -> Command.Result {
        var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("SLIPWAY_") && $0.key != "DATABASE_URL" }
        environment["SLIPWAY_URL"] = e2e.baseURL
        environment["SLIPWAY_TOKEN"] = token
        environment["SLIPWAY_DATA_DIR"] = "/nonexistent"
        return try await Command.runDetached(EndToEnd.binary, arguments + ["--env-file", "/dev/null"], environment: environment, check: check)
    }

    @Test func aDeployerDeploysFollowsRollsBackAndCancelsAViewerOnlyReads() async throws {
        let repo = try TestRepo()
        let base = try EndToEnd.value("SLIPWAY_STACK_BASE_IMAGE")
        let one = try repo.commit(["Dockerfile": "FROM \(base)\nRUN echo building-one\nCMD [\"sh\", \"-c\", \"trap 'exit 0' TERM; while true; do sleep 1; done\"]\n"])
        let two = try repo.commit(["Dockerfile": "FROM \(base)\nRUN echo building-two\nCMD [\"sh\", \"-c\", \"trap 'exit 0' TERM; while true; do sleep 1; done\"]\n"])
        let e2e = try await EndToEnd.start(rollbackWindow: "1s", repo: repo)
        defer { e2e.stop() }
        let deployer = try e2e.token("deployer", name: "ada")
        let viewer = try e2e.token("viewer", name: "bob")

        // Deploy the first commit and follow it to its end over the API's event stream.
        let deployed = try await Self.cli(e2e, token: deployer, ["deploy", e2e.service, "--sha", one])
        let id = try #require(deployed.output.split(separator: " ").dropFirst().first.flatMap { Int64($0) }, "\(deployed.output)")
        let followed = try await Self.cli(e2e, token: deployer, ["logs", "\(id)", "--follow"])
        #expect(followed.output.contains("building-one"), "\(followed.output)")
        #expect(followed.output.hasSuffix("== succeeded") || followed.output.contains("== succeeded"), "\(followed.output)")
        _ = try await Self.cli(e2e, token: deployer, ["deploy", e2e.service, "--sha", two])
        _ = try await e2e.waitForStatus(timeout: .seconds(120)) { $0.liveSHA == two && $0.deployments.first?.state == "succeeded" }

        // status over the API is the database's status, `by` included.
        let remote = try await Self.cli(e2e, token: viewer, ["status", e2e.service, "--json"])
        let statuses = try JSONSerialization.jsonObject(with: Data(remote.output.utf8)) as? [[String: Any]]
        let deployments = statuses?.first?["deployments"] as? [[String: Any]] ?? []
        #expect(statuses?.first?["liveSHA"] as? String == two)
        #expect(deployments.allSatisfy { $0["by"] as? String == "ada" }, "\(deployments)")
        let text = try await Self.cli(e2e, token: viewer, ["status", e2e.service])
        #expect(text.output.hasPrefix("\(e2e.service)  live  live: \(two.prefix(12))"), "\(text.output)")

        // A viewer cannot change anything, and is told what to ask for.
        let refused = try await Self.cli(e2e, token: viewer, ["rollback", e2e.service], check: false)
        #expect(refused.status != 0)
        #expect((refused.errors + refused.output).contains("role viewer cannot roll back: ask for a deployer token"), "\(refused.errors)")
        let bad = try await Self.cli(e2e, token: "slw_0000000000000000_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", ["status"], check: false)
        #expect(bad.status != 0 && (bad.errors + bad.output).contains("token rejected: check SLIPWAY_TOKEN:"), "\(bad.errors)")

        // The deployer rolls back to the first commit.
        let rolledBack = try await Self.cli(e2e, token: deployer, ["rollback", e2e.service])
        #expect(rolledBack.output.contains("back to deployment \(id)"), "\(rolledBack.output)")
        _ = try await e2e.waitForStatus(timeout: .seconds(120)) { $0.liveSHA == one && $0.deployments.first?.state == "succeeded" }

        // The other reading verbs answer over the API what they answer from the database.
        for arguments in [["plan", e2e.service], ["plan", e2e.service, "--json"], ["plan", "--json"], ["previews"],
                          ["previews", "list", e2e.service, "--json"], ["policies", "history", "--limit", "3", "--json"]] {
            let overAPI = try await Self.cli(e2e, token: viewer, arguments)
            let direct = try await Command.runDetached(EndToEnd.binary, arguments + ["--env-file", "/dev/null"], environment: e2e.environment)
            #expect(overAPI.output == direct.output, "\(arguments): over the API\n\(overAPI.output)\nfrom the database\n\(direct.output)")
        }
        let unknown = try await Self.cli(e2e, token: viewer, ["plan", "nosuch"], check: false)
        #expect(unknown.status != 0 && unknown.errors.contains("no service `nosuch` in the policies or the runtime"), "\(unknown.errors)")
        let noDestroy = try await Self.cli(e2e, token: viewer, ["previews", "destroy", e2e.service, "3"], check: false)
        #expect(noDestroy.status != 0 && noDestroy.errors.contains("ask for a deployer token"), "\(noDestroy.errors)")

        // And cancels a deployment that has not gone live.
        let three = try repo.commit(["Dockerfile": "FROM \(base)\nRUN sleep 30\nCMD [\"sh\"]\n"])
        let queued = try await Self.cli(e2e, token: deployer, ["deploy", e2e.service, "--sha", three])
        let next = try #require(queued.output.split(separator: " ").dropFirst().first.map(String.init))
        let cancelled = try await Self.cli(e2e, token: deployer, ["builds", "cancel", next])
        #expect(cancelled.output.contains("deployment \(next)"), "\(cancelled.output)")
        _ = try await e2e.waitForStatus(timeout: .seconds(60)) { $0.deployments.first { "\($0.id)" == next }?.state == "cancelled" }
        #expect(!e2e.serveLog().contains(deployer) && !e2e.serveLog().contains(viewer))
    }
}
