import Foundation
import SlipwayAWS
import SlipwayCore
import SlipwayRuntime
import Testing

/// Real ECS/ECR answers (the AWS CLI's published examples) read the way the runtime reads them.
@Suite struct ECSAnswersTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/ecs")

    static func json(_ name: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: fixtures.appendingPathComponent(name))) as? [String: Any])
    }

    @Test func servicesAndTheirDeployments() throws {
        let described = try Self.json("ecs-DescribeServices-ex1.response.json")
        let service = try #require(ECSAPI.services(from: described).first)
        #expect(service.name == "my-http-service")
        #expect(service.taskDefinition == "arn:aws:ecs:us-west-2:123456789012:task-definition/amazon-ecs-sample:1")
        #expect(service.desiredCount == 10 && service.runningCount == 10 && service.isActive)
        #expect(service.deployments.map(\.status) == ["PRIMARY"])
        // No rolloutState (an older answer): nothing to wait for.
        #expect(ECSRollout.progress(service: service, taskDefinition: service.taskDefinition) == .done)

        let updated = try #require(ECSAPI.services(from: ["services": [try Self.json("ecs-UpdateService-ex1.response.json")["service"]!]]).first)
        #expect(ECSRollout.progress(service: updated, taskDefinition: "arn:aws:ecs:us-west-2:123456789012:task-definition/amazon-ecs-sample:2")
                == .inProgress("0 of 0 tasks running"))
        #expect(ECSRollout.progress(service: updated, taskDefinition: "arn:aws:ecs:us-west-2:123456789012:task-definition/old-amazon-ecs-sample:4")
                == .done)
    }

    @Test(arguments: [
        ("IN_PROGRESS", "", 0, RolloutProgress.inProgress("1 of 3 tasks running")),
        ("COMPLETED", "ECS deployment ecs-svc/1 completed.", 0, RolloutProgress.done),
        ("FAILED", "ECS deployment circuit breaker: tasks failed to start.", 3,
         RolloutProgress.failed("ECS's deployment circuit breaker stopped the rollout: ECS deployment circuit breaker: tasks failed to start. (3 failed tasks)")),
    ] as [(String, String, Int, RolloutProgress)])
    func rolloutStates(state: String, reason: String, failed: Int, want: RolloutProgress) {
        let service = ECSAPI.Service(name: "web", arn: "arn:svc", status: "ACTIVE", taskDefinition: "arn:td:2", desiredCount: 3, runningCount: 1,
                                     pendingCount: 2, deployments: [
                                         .init(id: "ecs-svc/2", status: "PRIMARY", taskDefinition: "arn:td:2", rolloutState: state,
                                               rolloutStateReason: reason, desiredCount: 3, runningCount: 1, failedTasks: failed),
                                         .init(id: "ecs-svc/1", status: "ACTIVE", taskDefinition: "arn:td:1", rolloutState: "COMPLETED",
                                               rolloutStateReason: nil, desiredCount: 3, runningCount: 3, failedTasks: 0),
                                     ])
        #expect(ECSRollout.progress(service: service, taskDefinition: "arn:td:2") == want)
    }

    @Test func ecrLoginsAndRepositories() throws {
        let token = Data("AWS:password-from-ecr".utf8).base64EncodedString()
        let login = try ECRAPI.decodeLogin(token: token, endpoint: "https://123456789012.dkr.ecr.us-west-2.amazonaws.com", expiresAt: nil)
        #expect(login.user == "AWS" && login.password == "password-from-ecr")
        #expect(throws: AWSError.self) { try ECRAPI.decodeLogin(token: "not base64!", endpoint: "", expiresAt: nil) }
        // The published example's token is elided ("QVdTOkN..."): it must fail cleanly, not crash.
        let published = try #require((try Self.json("ecr-GetAuthorizationToken-ex1.response.json")["authorizationData"] as? [[String: Any]])?.first)
        #expect(throws: AWSError.self) { try ECRAPI.decodeLogin(token: published["authorizationToken"] as! String, endpoint: "", expiresAt: nil) }

        #expect(ECRAPI.repository(of: "123456789012.dkr.ecr.us-west-2.amazonaws.com/team/web:v1")! == ("us-west-2", "team/web"))
        #expect(ECRAPI.repository(of: "123456789012.dkr.ecr.eu-central-1.amazonaws.com/web@sha256:abc")! == ("eu-central-1", "web"))
        #expect(ECRAPI.repository(of: "123456789012.dkr.ecr-fips.us-east-1.amazonaws.com/web")! == ("us-east-1", "web"))
        #expect(ECRAPI.repository(of: "127.0.0.1:5000/team/web:v1") == nil)
        #expect(ECRAPI.repository(of: "ghcr.io/acme/web:v1") == nil)
        #expect(ECRAPI.repository(of: "web") == nil)
    }

    @Test func taskDefinitionsAndLogStreams() throws {
        let described = try #require(try Self.json("ecs-DescribeTaskDefinition-ex1.response.json")["taskDefinition"] as? [String: Any])
        let definition = DescribedTaskDefinition(described)
        #expect(definition.active)
        #expect(definition.image == "wordpress", "the first essential container's")
        #expect(definition.essential == ["wordpress", "mysql"])
        var inactive = described
        inactive["status"] = "INACTIVE"
        #expect(!DescribedTaskDefinition(inactive).active)
        let ours = DescribedTaskDefinition(try #require(ECSTaskDefinition.render(ECSTemplateTests.policy(), image: "r/web:v1", region: "us-east-1")?.json))
        #expect(ours.image == "r/web:v1" && ours.essential == ["web"] && ours.log == nil)
        #expect(LogsAPI.stream(prefix: "web", container: "web", taskARN: "arn:aws:ecs:us-east-1:123456789012:task/prod/0123456789abcdef")
                == "web/web/0123456789abcdef")
    }

    /// The crash path: a STOPPED task whose essential container exited non-zero becomes an
    /// exit the crash watch counts, and at `rollback.crashes: 1` the verdict is a rollback.
    @Test func aStoppedTaskBecomesARollback() throws {
        let task = try #require((try Self.json("grand-challenge-DescribeTasks.response.json")["tasks"] as? [[String: Any]])?.first)
        let names = (task["containers"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String }
        let essential = Set(names.filter { $0.hasSuffix("-timeout") })
        let instance = ECSRuntime.instance(arn: task["taskArn"] as! String, outcome: ECSTaskOutcome.of(task, essential: essential))
        let exit = try #require(instance.exit)
        #expect(exit.exitCode == 143)
        #expect(instance.detail == "container \(essential.first!): Essential container in task exited")
        let stoppedAt = try #require(instance.finishedAt)
        let watch = CrashWatch(window: .seconds(300), threshold: 1)
        guard case .rollBack(let cause, 1, _) = watch.verdict(liveAt: stoppedAt.addingTimeInterval(-60), now: stoppedAt, recorded: [], exits: [exit]) else {
            Issue.record("one crash at rollback.crashes 1 must roll back")
            return
        }
        #expect(cause.instance == task["taskArn"] as? String)

        // Stopped by the scheduler (a redeploy, scaling in), a person or Spot: SIGTERM's 143 says nothing about the revision.
        for code in ["ServiceSchedulerInitiated", "UserInitiated", "SpotInterruption", "TerminationNotice"] {
            var stopped = task
            stopped["stopCode"] = code
            #expect(ECSTaskOutcome.of(stopped, essential: essential) == .stoppedCleanly, "\(code)")
        }
        // The container's own reason and the task's stoppedReason are both kept.
        var oom = task
        var containers = try #require(oom["containers"] as? [[String: Any]])
        containers[0]["reason"] = "OutOfMemoryError: Container killed due to memory usage"
        oom["containers"] = containers
        guard case .crashed(_, _, let reason, _) = ECSTaskOutcome.of(oom, essential: essential) else {
            Issue.record("still a crash")
            return
        }
        #expect(reason == "OutOfMemoryError: Container killed due to memory usage; Essential container in task exited")

        // A task that never started is not an exit (ECS's circuit breaker counts those); one stopped cleanly neither.
        #expect(ECSRuntime.instance(arn: "arn:t/1", outcome: .failedToStart(reason: "CannotPullContainerError")).exit == nil)
        #expect(ECSRuntime.instance(arn: "arn:t/2", outcome: .stoppedCleanly).exit == nil)
        #expect(ECSRuntime.instance(arn: "arn:t/3", outcome: .running).running)
    }
}
