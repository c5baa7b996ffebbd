import Foundation
import SlipwayTestSupport
import SlipwayWebhooks
import Testing

/// No webhook at all: `source.poll` finds the pushes, `source.paths` decides which deploy.
@Suite(.enabled(if: EndToEnd.enabled), .serialized)
struct PollingTests {
    @Test func aPolledRepositoryDeploysWithoutAWebhookAndOnlyWhenItsPathsChange() async throws {
        let dockerfile = """
            FROM \(try EndToEnd.value("SLIPWAY_STACK_BASE_IMAGE"))
            COPY app/serve.sh /serve.sh
            CMD ["sh", "/serve.sh"]
            """
        let repo = try TestRepo()
        let first = try repo.commit(["Dockerfile": dockerfile, "app/serve.sh": "trap 'exit 0' TERM\nwhile true; do sleep 1; done\n"])
        let e2e = try await EndToEnd.start(rollbackWindow: "5s", source: ["poll: 1s", #"paths: ["app/**", "Dockerfile"]"#],
                                           repo: repo)
        defer { e2e.stop() }
        _ = try await e2e.waitForStatus(timeout: .seconds(120)) { $0.liveSHA == first }

        // Documentation only: seen by the poller, recorded with its reason, not deployed.
        let docs = try repo.commit(["docs/README.md": "how to run it"])
        let skipped = try await e2e.waitForDelivery(after: docs, timeout: .seconds(30))
        #expect(skipped.outcome == "skipped")
        #expect(skipped.detail.contains("no changed file is under the policy's paths `app/**`, `Dockerfile`; 1 file changed (docs/README.md)"))
        #expect(try await e2e.status().deployments.count == 1)

        let pushed = ContinuousClock.now
        let change = try repo.commit(["app/serve.sh": "trap 'exit 0' TERM\necho v2\nwhile true; do sleep 1; done\n"])
        let live = try await e2e.waitForStatus(timeout: .seconds(120)) { $0.liveSHA == change }
        #expect(live.deployments.count == 2)
        print("polling: commit → live \(EndToEnd.seconds(ContinuousClock.now - pushed)) s (poll every 1 s)")
    }
}

/// `slipway events parse`, as a user debugging "why didn't my push deploy?" runs it.
@Suite(.enabled(if: EndToEnd.enabled))
struct EventsParseCLITests {
    static let cases = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../SlipwayWebhooksTests/Fixtures/cases").standardized.path

    func run(_ arguments: [String]) throws -> (status: Int32, output: String, error: String) {
        let result = try Command.run(EndToEnd.binary, ["events", "parse"] + arguments, check: false)
        return (result.status, result.output, result.errors)
    }

    func headerArguments(_ name: String) throws -> [String] {
        try String(contentsOfFile: "\(Self.cases)/\(name).headers", encoding: .utf8)
            .split(whereSeparator: \.isNewline).flatMap { ["--header", String($0)] }
    }

    @Test(arguments: ["gitlab-push-nested-groups", "bitbucket-server-refs-changed-multi", "github-pull_request-opened-fork",
                      "bitbucket-cloud-push-multi"])
    func printsTheContractForEveryProvider(_ name: String) throws {
        let result = try run(try headerArguments(name) + ["\(Self.cases)/\(name).json"])
        #expect(result.status == 0, "\(result.error)")
        let printed = try #require(try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any])
        let expected = try #require(try JSONSerialization.jsonObject(
            with: Data(contentsOf: URL(fileURLWithPath: "\(Self.cases)/\(name).expected.json"))) as? [String: Any])
        for key in ["provider", "kind", "deliveryID", "ref", "branch", "after", "deleted"] {
            #expect("\(printed[key] ?? "absent")" == "\(expected[key] ?? "absent")", "\(name): \(key)")
        }
        #expect((printed["changes"] as? [Any])?.count == (expected["changes"] as? [Any])?.count)
    }

    @Test func aBodyItCannotParseExitsOneWithOneLine() throws {
        let result = try run(try headerArguments("github-push-no-ref") + ["\(Self.cases)/github-push-no-ref.json"])
        #expect(result.status == 1)
        #expect(result.output.isEmpty)
        #expect(result.error.split(separator: "\n").count == 1 && result.error.contains("`ref`"))
    }

    @Test func secretsAreCheckedTheProvidersWay() throws {
        let body = "\(Self.cases)/gitlab-push-branch.json"
        let headers = try headerArguments("gitlab-push-branch")
        #expect(try run(headers + ["--header", "X-Gitlab-Token: right", "--secret", "right", body]).status == 0)
        let wrong = try run(headers + ["--header", "X-Gitlab-Token: wrong", "--secret", "right", body])
        #expect(wrong.status == 1 && wrong.error.contains("X-Gitlab-Token"))
        let bitbucket = "\(Self.cases)/bitbucket-cloud-push-branch.json"
        let signature = WebhookSignature.sign(body: try Data(contentsOf: URL(fileURLWithPath: bitbucket)), secret: "s")
        #expect(try run(try headerArguments("bitbucket-cloud-push-branch")
                        + ["--header", "X-Hub-Signature: \(signature)", "--secret", "s", bitbucket]).status == 0)
    }
}
