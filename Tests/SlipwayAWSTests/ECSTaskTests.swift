import Foundation
import SlipwayAWS
import SlipwayCore
import Testing

@Suite struct ECSTaskTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/ecs")

    static let policy = Policy(
        service: "api", source: .init(repo: "https://github.com/acme/api.git"), image: "123456789012.dkr.ecr.us-east-1.amazonaws.com/acme/api",
        deploy: .init(target: .ecs, count: 2, port: 8080, env: ["LOG_LEVEL": "info", "A": "1"],
                      healthCheck: .init(command: ["CMD-SHELL", "curl -f http://localhost:8080/health || exit 1"], interval: .seconds(15)),
                      ecs: .init(cluster: "prod", cpu: 512, memory: 1024,
                                 secrets: ["DB_URL": "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf"],
                                 executionRoleArn: "arn:aws:iam::123456789012:role/exec", subnets: ["subnet-0a1b2c3d"],
                                 logGroup: "/slipway/api")))

    @Test func rendersTheRegisterTaskDefinitionRequest() throws {
        let definition = try #require(ECSTaskDefinition.render(Self.policy, image: "repo/api@sha256:abc", region: "us-east-1"))
        let json = definition.json
        #expect(json["family"] as? String == "api")
        #expect(json["cpu"] as? String == "512")
        #expect(json["memory"] as? String == "1024")
        #expect(json["networkMode"] as? String == "awsvpc")
        #expect(json["requiresCompatibilities"] as? [String] == ["FARGATE"])
        #expect(json["executionRoleArn"] as? String == "arn:aws:iam::123456789012:role/exec")
        let container = try #require((json["containerDefinitions"] as? [[String: Any]])?.first)
        #expect(container["essential"] as? Bool == true)
        #expect(container["image"] as? String == "repo/api@sha256:abc")
        #expect((container["environment"] as? [[String: String]]) == [["name": "A", "value": "1"], ["name": "LOG_LEVEL", "value": "info"]])
        #expect((container["secrets"] as? [[String: String]]) == [["name": "DB_URL", "valueFrom": "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf"]])
        #expect(((container["healthCheck"] as? [String: Any])?["interval"] as? Int) == 15)
        #expect(((container["logConfiguration"] as? [String: Any])?["options"] as? [String: String])?["awslogs-group"] == "/slipway/api")
        var docker = Self.policy
        docker.deploy = .init()
        #expect(ECSTaskDefinition.render(docker, image: "x", region: "us-east-1") == nil)
    }

    @Test func aNewRevisionOnlyWhenSomethingDiffers() throws {
        let definition = try #require(ECSTaskDefinition.render(Self.policy, image: "repo/api@sha256:abc", region: "us-east-1"))
        var described = definition.json
        // What ECS adds to a registered definition does not count.
        described["taskDefinitionArn"] = "arn:aws:ecs:us-east-1:123456789012:task-definition/api:7"
        described["revision"] = 7
        described["status"] = "ACTIVE"
        #expect(definition.matches(described: described))
        var other = definition
        other["memory"] = .string("2048")
        #expect(!other.matches(described: described))
        var newImage = definition
        newImage.image = "repo/api@sha256:def"
        #expect(!newImage.matches(described: described))
        // ECS's additions inside our values (hostPort, empty lists) do not count.
        var filled = described
        var containers = try #require(filled["containerDefinitions"] as? [[String: Any]])
        containers[0]["portMappings"] = [["containerPort": 8080, "hostPort": 8080, "protocol": "tcp"]]
        containers[0]["mountPoints"] = [Any]()
        containers[0]["cpu"] = 0
        filled["containerDefinitions"] = containers
        filled["volumes"] = [Any]()
        #expect(definition.matches(described: filled))

        // A setting removed from the policy is a difference, though what remains is all there.
        var fewer = Self.policy
        fewer.deploy.env = [:]
        #expect(!ECSTaskDefinition.render(fewer, image: "repo/api@sha256:abc", region: "us-east-1")!.matches(described: described))
        fewer = Self.policy
        fewer.deploy.ecs?.logGroup = nil
        fewer.deploy.ecs?.executionRoleArn = nil
        #expect(!ECSTaskDefinition.render(fewer, image: "repo/api@sha256:abc", region: "us-east-1")!.matches(described: described))
        // A second container (a sidecar added elsewhere) is not our definition.
        var sidecar = described
        sidecar["containerDefinitions"] = containers + [["name": "envoy", "image": "envoy:v1", "essential": false]]
        #expect(!definition.matches(described: sidecar))
    }

    @Test func stoppedTasksFromRealDescribeTasksAnswers() throws {
        let stopped = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: Self.fixtures.appendingPathComponent("grand-challenge-DescribeTasks.response.json"))) as? [String: Any])
        let task = try #require((stopped["tasks"] as? [[String: Any]])?.first)
        let names = (task["containers"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String }
        let sidecar = try #require(names.first { $0.hasSuffix("-timeout") })
        let main = try #require(names.first { !$0.hasSuffix("-timeout") })
        guard case .crashed(let code, let container, _, _) = ECSTaskOutcome.of(task, essential: [sidecar]) else {
            Issue.record("the essential container exited 143; expected a crash")
            return
        }
        #expect(code == 143)
        #expect(container == sidecar)
        #expect(ECSTaskOutcome.of(task, essential: [main]) == .stoppedCleanly)

        let running = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: Self.fixtures.appendingPathComponent("ecs-DescribeTasks-ex1.response.json"))) as? [String: Any])
        #expect(ECSTaskOutcome.of(try #require((running["tasks"] as? [[String: Any]])?.first), essential: []) == .running)

        let failed: [String: Any] = ["lastStatus": "STOPPED", "stopCode": "TaskFailedToStart",
                                     "stoppedReason": "CannotPullContainerError: pull image manifest has been retried 5 time(s)",
                                     "containers": [["name": "api", "lastStatus": "STOPPED"]]]
        #expect(ECSTaskOutcome.of(failed, essential: ["api"]) == .failedToStart(reason: "CannotPullContainerError: pull image manifest has been retried 5 time(s)"))
    }

    /// A rollback's pinned revision runs as it is only while ECS can run it and it is still what the policy says.
    @Test func aPinnedRevisionIsReusedOnlyWhileItCanBe() throws {
        let definition = try #require(ECSTaskDefinition.render(Self.policy, image: "repo/api@sha256:abc", region: "us-east-1"))
        var same = definition.json
        same["status"] = "ACTIVE"
        #expect(definition.canReuse(pinned: same))
        var inactive = same
        inactive["status"] = "INACTIVE"
        #expect(!definition.canReuse(pinned: inactive), "deregistered")
        var changed = same
        changed["memory"] = "4096"
        #expect(!definition.canReuse(pinned: changed), "the policy changed since")
        var elsewhere = changed
        elsewhere["family"] = "api-handmade"
        #expect(definition.canReuse(pinned: elsewhere), "made elsewhere: put back exactly")
        elsewhere["status"] = "INACTIVE"
        #expect(!definition.canReuse(pinned: elsewhere))
    }
}
