import Foundation
import SlipwayCore
import Testing

/// Deployment states as commit statuses on each provider, held against the enums and limits
/// of the official contracts in shared/fixtures/scm.
@Suite struct CommitStatusTests {
    static let web = DeploymentTarget.main("web")
    static let crash = "slipway-web-12-1 exited with code 3; 1 crash within 30s of going live (rollback.crashes: 1).\nLast log lines:\nfatal"

    @Test(arguments: [
        (DeploymentState.queued, nil as String?, "pending", "pending", "INPROGRESS", "INPROGRESS", "Slipway: queued"),
        (.building, nil, "pending", "running", "INPROGRESS", "INPROGRESS", "Slipway: building"),
        (.pushing, nil, "pending", "running", "INPROGRESS", "INPROGRESS", "Slipway: pushing the image"),
        (.rollingOut, nil, "pending", "running", "INPROGRESS", "INPROGRESS", "Slipway: rolling out"),
        (.watching, nil, "pending", "running", "INPROGRESS", "INPROGRESS", "Slipway: live, watching for crashes"),
        (.succeeded, nil, "success", "success", "SUCCESSFUL", "SUCCESSFUL", "Slipway: live"),
        (.rolledBack, crash, "failure", "failed", "FAILED", "FAILED",
         "Slipway: slipway-web-12-1 exited with code 3; 1 crash within 30s of going live (rollback.crashes: 1)."),
        (.failed, "build failed: RUN exit 1\nstep 3", "failure", "failed", "FAILED", "FAILED", "Slipway: build failed: RUN exit 1"),
        (.cancelled, "cancelled on request", "error", "canceled", "STOPPED", "FAILED", "Slipway: cancelled on request"),
        (.superseded, nil, "error", "canceled", "STOPPED", "FAILED", "Slipway: superseded by a newer commit"),
    ])
    func eachStateOnEachProvider(_ state: DeploymentState, _ reason: String?, _ github: String, _ gitlab: String, _ cloud: String,
                                 _ server: String, _ description: String) {
        let phase = CommitStatus.phase(state, reason: reason)
        let words = [CommitStatus.Provider.github: github, .gitlab: gitlab, .bitbucket: cloud, .bitbucketServer: server]
        for (provider, word) in words {
            let report = CommitStatus.report(phase, provider: provider, target: Self.web, targetURL: "https://slipway.example.com/api/v1/deployments/12")
            #expect(report.state == word, "\(provider) \(state)")
            #expect(report.context == "slipway/web")
            #expect(report.description.hasPrefix(String(description.prefix(CommitStatus.descriptionLimit(provider) - 1))))
            #expect(report.description.count <= CommitStatus.descriptionLimit(provider))
        }
    }

    /// Every state word is one the provider's contract lists.
    @Test func theWordsAreThoseTheContractsAllow() {
        let allowed: [CommitStatus.Provider: Set<String>] = [
            .github: ["error", "failure", "pending", "success"],
            .gitlab: ["pending", "running", "success", "failed", "canceled", "skipped"],
            .bitbucket: ["INPROGRESS", "SUCCESSFUL", "FAILED", "STOPPED"],
            .bitbucketServer: ["SUCCESSFUL", "FAILED", "INPROGRESS"],
        ]
        let phases: [CommitStatus.Phase] = [.pending(stage: "building"), .success, .failure("x"), .cancelled("y")]
        for provider in CommitStatus.Provider.allCases {
            for phase in phases {
                #expect(allowed[provider]!.contains(CommitStatus.report(phase, provider: provider, target: Self.web, targetURL: nil).state))
            }
        }
    }

    @Test func aPreviewHasItsOwnContextAndLongReasonsAreCut() {
        let preview = DeploymentTarget(service: "web", environment: .pullRequest(7))
        let report = CommitStatus.report(.failure(String(repeating: "x", count: 500)), provider: .github, target: preview, targetURL: nil)
        #expect(report.context == "slipway/web-pr-7")
        #expect(report.description.count == 140 && report.description.hasSuffix("…"))
    }

    @Test func aLatePendingNeverReplacesAFinalReport() {
        #expect(CommitStatus.replaces(.pending(stage: "building"), nil))
        #expect(CommitStatus.replaces(.success, .pending(stage: "building")))
        #expect(!CommitStatus.replaces(.pending(stage: "building"), .success))
        #expect(!CommitStatus.replaces(.pending(stage: "queued"), .failure("exit 3")))
        #expect(CommitStatus.replaces(.failure("exit 3"), .success))
    }
}
