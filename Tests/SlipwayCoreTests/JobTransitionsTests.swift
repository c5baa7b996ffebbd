import SlipwayCore
import Testing

@Suite struct JobTransitionsTests {
    func resolve(_ outcome: JobOutcome, attempts: Int = 1, max: Int = 3, jitter: Double = 0) -> JobResolution {
        JobTransitions.resolve(outcome, kind: .build, attempts: attempts, maxAttempts: max, jitter: jitter)
    }

    @Test func successCompletes() {
        #expect(resolve(.succeeded) == .complete)
    }

    @Test(arguments: [
        (1, 0.0, Int64(1000)), (1, 1.0, 2000), (2, 0.5, 3000),
    ] as [(Int, Double, Int64)])
    func retryableFailuresBackOffWithJitter(attempts: Int, jitter: Double, delay: Int64) {
        #expect(resolve(.failed(message: "engine unreachable", retryable: true), attempts: attempts, jitter: jitter)
                == .retry(after: TimeSpan(milliseconds: delay), error: "engine unreachable"))
    }

    @Test func lastAttemptGoesDeadWithTheLastError() {
        #expect(resolve(.failed(message: "engine unreachable", retryable: true), attempts: 3)
                == .end(.dead, reason: "the build job gave up after 3 attempts: engine unreachable", deploymentState: .failed))
    }

    @Test func permanentFailuresAreNotRetried() {
        #expect(resolve(.failed(message: "no handler", retryable: false), attempts: 1)
                == .end(.dead, reason: "no handler", deploymentState: .failed))
    }

    @Test(arguments: [
        (StopReason.cancelled, JobState.cancelled, DeploymentState.cancelled),
        (.superseded, .superseded, .superseded),
        (.timeout, .dead, .failed),
    ])
    func stopsEndTheJobAndItsDeployment(reason: StopReason, job: JobState, deployment: DeploymentState) {
        guard case .end(let state, _, let deploymentState) = resolve(.stopped(reason)) else {
            Issue.record("expected an end")
            return
        }
        #expect(state == job && deploymentState == deployment)
    }

    @Test func timeoutsAreNotRetriedAndLostLeasesWriteNothing() {
        #expect(resolve(.timedOut(after: .minutes(30))) == .end(.dead, reason: "the build job timed out after 30m", deploymentState: .failed))
        #expect(resolve(.leaseLost) == .nothing)
    }

    @Test func finalStates() {
        #expect(JobState.allCases.filter { !$0.isFinal } == [.queued, .running])
    }
}

@Suite struct LatestWinsTests {
    typealias Pending = LatestWins.PendingBuild

    @Test func olderBuildsOfTheSameTargetGo() {
        let pending = [
            Pending(jobID: 10, deploymentID: 1, environment: "main", running: true),
            Pending(jobID: 11, deploymentID: 2, environment: "main", running: false),
            Pending(jobID: 12, deploymentID: 3, environment: "pr-7", running: false),
            Pending(jobID: 14, deploymentID: 5, environment: "main", running: false),   // newer than the new one: stays
        ]
        #expect(LatestWins.actions(newer: 4, environment: "main", pending: pending) == [
            .stop(jobID: 10, deploymentID: 1),
            .supersede(jobID: 11, deploymentID: 2),
        ])
    }

    @Test func nothingPendingNothingToDo() {
        #expect(LatestWins.actions(newer: 1, environment: "main", pending: []).isEmpty)
    }
}

@Suite struct CancellationTests {
    typealias Job = Cancellation.PendingJob

    @Test func queuedAndBuildingDeploymentsCancel() {
        #expect(Cancellation.decide(deploymentID: 1, state: .queued, jobs: [Job(jobID: 5, kind: .build, running: false)])
                == .cancel(queued: [5], running: []))
        #expect(Cancellation.decide(deploymentID: 1, state: .building, jobs: [Job(jobID: 5, kind: .build, running: true)])
                == .cancel(queued: [], running: [5]))
        #expect(Cancellation.decide(deploymentID: 1, state: .rollingOut, jobs: [Job(jobID: 6, kind: .rollout, running: false)])
                == .cancel(queued: [6], running: []))
    }

    @Test(arguments: [DeploymentState.watching, .succeeded, .failed, .rolledBack, .cancelled, .superseded])
    func liveOrEndedDeploymentsRefuse(state: DeploymentState) {
        guard case .refuse(let message) = Cancellation.decide(deploymentID: 7, state: state, jobs: []) else {
            Issue.record("expected a refusal")
            return
        }
        #expect(message.contains("deployment 7"))
    }

    @Test func aRolloutInProgressIsNotInterrupted() {
        guard case .refuse = Cancellation.decide(deploymentID: 2, state: .rollingOut, jobs: [Job(jobID: 6, kind: .rollout, running: true)]) else {
            Issue.record("expected a refusal")
            return
        }
    }
}

@Suite struct JobTimeoutsTests {
    @Test func timeLimitsFollowThePolicy() {
        var policy = Policy(service: "web", source: .init(repo: "https://github.com/a/b.git", branch: "release"), image: "r.example.com/a/web")
        policy.build.timeout = .minutes(20)
        policy.rollback.window = .seconds(90)
        let build = JobTimeouts.job(.build, deploymentID: 3, service: "web", policy: policy)
        #expect(build.timeout == .minutes(30) && build.environment == "main" && build.dedupeKey == "build:3")
        #expect(JobTimeouts.job(.build, deploymentID: 4, service: "web", environment: .pullRequest(7), policy: policy).environment == "pr-7")
        #expect(JobTimeouts.job(.watch, deploymentID: 3, service: "web", policy: policy).timeout == TimeSpan(milliseconds: 390_000))
        #expect(JobTimeouts.job(.rollout, deploymentID: 3, service: "web", policy: policy).timeout == .minutes(10))
    }
}

/// What a job that ended without success (found by maintenance) means for its deployment.
@Suite struct AbandonedJobTests {
    @Test(arguments: [
        (JobKind.build, JobState.dead, String?.some("boom"), DeploymentState?.some(.failed), "the build job gave up: boom"),
        (.watch, .dead, nil, .failed, "the watch job gave up: no error recorded"),
        (.rollout, .cancelled, "cancelled on request", .cancelled, "cancelled: cancelled on request"),
        (.build, .superseded, "superseded by deployment 9 (abc)", .superseded, "superseded: superseded by deployment 9 (abc)"),
        // A retire job works for a deployment already live: its end decides nothing about it.
        (.retire, .dead, "docker stop failed", nil, ""),
        (.build, .succeeded, nil, nil, ""),
    ])
    func outcomes(_ kind: JobKind, _ state: JobState, _ error: String?, _ expected: DeploymentState?, _ reason: String) {
        let outcome = JobTransitions.deploymentOutcome(ofEnded: kind, state: state, error: error)
        #expect(outcome?.state == expected)
        if expected != nil { #expect(outcome?.reason == reason) }
    }

    @Test func onlyRetireJobsLeaveTheirDeploymentAlone() {
        #expect([JobKind.build, .rollout, .watch, .paths].allSatisfy { $0.endsItsDeployment })
        #expect(!JobKind.retire.endsItsDeployment)
    }
}
