import Foundation
import SlipwayAWS
import SlipwayTestSupport
import Testing

/// ECS as a user meets it, against moto with signatures checked: an ECS service made by
/// hand, `slipway deploy --image` moves it to a new task definition, `slipway rollback`
/// puts the hand-made one back, and with a wrong secret key nothing changes.
@Suite(.enabled(if: EndToEnd.enabled), .serialized)
struct ECSEndToEndTests {
    static func client() throws -> AWSClient {
        let key = try EndToEnd.value("SLIPWAY_STACK_AWS_ACCESS_KEY_ID")
        let secret = try EndToEnd.value("SLIPWAY_STACK_AWS_SECRET_ACCESS_KEY")
        return AWSClient(region: "us-east-1", environment: ["AWS_ENDPOINT_URL": try EndToEnd.value("SLIPWAY_STACK_AWS_ENDPOINT")]) {
            SigV4.Credentials(accessKeyID: key, secretAccessKey: secret)
        }
    }

    func cli(_ e2e: EndToEnd, _ arguments: [String]) throws -> String {
        try Command.run(EndToEnd.binary, arguments + ["--env-file", "/dev/null"], environment: e2e.environment).output
    }

    @Test func deployRollbackAndAWrongSecret() async throws {
        let client = try Self.client()
        let ecs = ECSAPI(client: client)
        let name = "e2e-\(UUID().uuidString.prefix(8).lowercased())"
        try await ecs.createCluster(name)
        let vpc = try await client.query(.ec2, "CreateVpc", version: "2016-11-15", parameters: ["CidrBlock": "10.0.0.0/16"])
        let subnetAnswer = try await client.query(.ec2, "CreateSubnet", version: "2016-11-15",
                                                  parameters: ["VpcId": try #require(XMLText.first("vpcId", in: vpc)), "CidrBlock": "10.0.1.0/24"])
        let subnet = try #require(XMLText.first("subnetId", in: subnetAnswer))
        // The service as a team had it before Slipway: made by hand, from its own family.
        let registered = try await client.call(.ecs, "RegisterTaskDefinition", body: try JSONSerialization.data(withJSONObject: [
            "family": "\(name)-handmade", "cpu": "256", "memory": "512", "networkMode": "awsvpc", "requiresCompatibilities": ["FARGATE"],
            "containerDefinitions": [["name": name, "image": "registry.example.com/\(name):handmade", "essential": true]],
        ] as [String: Any]))
        let handmade = try #require(((try JSONSerialization.jsonObject(with: registered) as? [String: Any])?["taskDefinition"]
            as? [String: Any])?["taskDefinitionArn"] as? String)
        // Scaled to zero: moto never moves a deployment past IN_PROGRESS when it should run tasks, and
        // keeps the first deployment's state whatever UpdateService does; this one is COMPLETED.
        _ = try await ecs.createService(["cluster": name, "serviceName": name, "taskDefinition": handmade, "desiredCount": 0,
                                         "launchType": "FARGATE", "networkConfiguration": ["awsvpcConfiguration": [
                                             "subnets": [subnet], "securityGroups": [String](), "assignPublicIp": "DISABLED"]]])
        let aws = ["AWS_ENDPOINT_URL": try EndToEnd.value("SLIPWAY_STACK_AWS_ENDPOINT"), "AWS_REGION": "us-east-1",
                   "AWS_ACCESS_KEY_ID": try EndToEnd.value("SLIPWAY_STACK_AWS_ACCESS_KEY_ID"),
                   "AWS_SECRET_ACCESS_KEY": try EndToEnd.value("SLIPWAY_STACK_AWS_SECRET_ACCESS_KEY")]
        let e2e = try await EndToEnd.start(
            rollbackWindow: "1s", settings: aws,
            deploy: "  target: ecs\n  count: 1\n  env: { GREETING: hello }\n  cluster: \(name)\n  subnets: [\(subnet)]",
            service: name)
        defer { e2e.stop() }
        func serviceDefinition() async throws -> String? {
            try await ecs.describeServices(cluster: name, names: [name]).first?.taskDefinition
        }

        // deploy --image: a new revision of the service's own family, and the service on it.
        let deployed = ContinuousClock.now
        _ = try cli(e2e, ["deploy", name, "--image", "registry.example.com/\(name):v2"])
        // The adopted hand-made revision is recorded during the rollout, so it comes second (by id).
        var status = try await e2e.waitForStatus(timeout: .seconds(60)) { status in
            status.deployments.count == 2 && status.deployments.allSatisfy { $0.state == "succeeded" }
        }
        let deployTime = ContinuousClock.now - deployed
        let v2 = try #require(try await serviceDefinition())
        #expect(v2 != handmade)
        let described = try #require(try await ecs.describeTaskDefinition(v2))
        #expect((described["containerDefinitions"] as? [[String: Any]])?.first?["image"] as? String == "registry.example.com/\(name):v2")
        #expect((described["family"] as? String) == name)
        #expect(try await ecs.describeServices(cluster: name, names: [name]).first?.desiredCount == 1, "the policy's count")
        #expect(status.deployments.last?.reason == nil, "the deployment, then the adopted revision: \(status.deployments)")

        // rollback: the hand-made task definition itself goes back, nothing new is registered.
        let rolledBack = ContinuousClock.now
        let said = try cli(e2e, ["rollback", name])
        #expect(said.contains("handmade"), "\(said)")
        status = try await e2e.waitForStatus(timeout: .seconds(60)) { $0.deployments.count == 3 && $0.deployments.first?.state == "succeeded" }
        let rollbackTime = ContinuousClock.now - rolledBack
        #expect(try await serviceDefinition() == handmade)
        #expect(try await ecs.describeTaskDefinition(name).flatMap { $0["revision"] as? Int } == 1)

        // deploy again: back to the same v2 revision, not a copy of it.
        _ = try cli(e2e, ["deploy", name, "--image", "registry.example.com/\(name):v2"])
        status = try await e2e.waitForStatus(timeout: .seconds(60)) { $0.deployments.count == 4 && $0.deployments.first?.state == "succeeded" }
        #expect(try await serviceDefinition() == v2)

        // plan: in sync; then the service is changed by hand, and plan names the differences.
        let synced = try e2e.plan()
        #expect(synced["status"] as? String == "in-sync", "\(synced)")
        _ = try await ecs.updateService(cluster: name, service: name, taskDefinition: nil, desiredCount: 3)
        var plan = try e2e.plan()
        #expect(plan["status"] as? String == "drifted", "\(plan)")
        let differences = plan["differences"] as? [[String: Any]] ?? []
        #expect(differences.contains { $0["field"] as? String == "deploy.count" && $0["from"] as? String == "1" && $0["to"] as? String == "3" },
                "\(differences)")
        _ = try await ecs.updateService(cluster: name, service: name, taskDefinition: handmade, desiredCount: 1)
        plan = try e2e.plan()
        #expect(plan["status"] as? String == "drifted", "\(plan)")
        // The hand-made revision is deployment 3's (the rollback to it): named so.
        #expect((plan["differences"] as? [[String: Any]] ?? []).map { "\($0["field"] ?? "") \($0["from"] ?? "") → \($0["to"] ?? "")" }
                == ["revision deployment 4 → deployment 3"], "\(plan)")
        _ = try await ecs.updateService(cluster: name, service: name, taskDefinition: v2, desiredCount: 1)
        #expect(try e2e.plan()["status"] as? String == "in-sync")

        // A wrong secret: the deployment fails saying so, and ECS is as it was.
        e2e.stop()
        let wrong = try await e2e.relaunch(settings: ["AWS_SECRET_ACCESS_KEY": "wrong-secret"])
        defer { wrong.stop() }
        _ = try cli(wrong, ["deploy", name, "--image", "registry.example.com/\(name):v3"])
        status = try await wrong.waitForStatus(timeout: .seconds(60)) { $0.deployments.count == 5 && $0.deployments.first?.state == "failed" }
        let reason = status.deployments.first?.reason ?? ""
        #expect(reason.contains("SignatureDoesNotMatch") && reason.contains("AWS_SECRET_ACCESS_KEY"), "\(reason)")
        #expect(reason.contains("the running revision was not touched"), "\(reason)")
        #expect(try await serviceDefinition() == v2)
        #expect(try await ecs.describeTaskDefinition(name).flatMap { $0["revision"] as? Int } == 1)
        print("e2e ecs: deploy --image → service on the new task definition \(EndToEnd.seconds(deployTime)) s; rollback → hand-made revision back \(EndToEnd.seconds(rollbackTime)) s (rollback window 1s)")
    }

    /// No service yet: the first deploy creates it, a second moves it, and rollback puts the
    /// first task definition itself back. Every deployment ends (moto starts no tasks, so
    /// there is nothing to wait for past the window).
    @Test func aServiceSlipwayCreates() async throws {
        let client = try Self.client()
        let ecs = ECSAPI(client: client)
        let name = "e2e-\(UUID().uuidString.prefix(8).lowercased())"
        try await ecs.createCluster(name)
        let vpc = try await client.query(.ec2, "CreateVpc", version: "2016-11-15", parameters: ["CidrBlock": "10.0.0.0/16"])
        let subnetAnswer = try await client.query(.ec2, "CreateSubnet", version: "2016-11-15",
                                                  parameters: ["VpcId": try #require(XMLText.first("vpcId", in: vpc)), "CidrBlock": "10.0.1.0/24"])
        let subnet = try #require(XMLText.first("subnetId", in: subnetAnswer))
        let aws = ["AWS_ENDPOINT_URL": try EndToEnd.value("SLIPWAY_STACK_AWS_ENDPOINT"), "AWS_REGION": "us-east-1",
                   "AWS_ACCESS_KEY_ID": try EndToEnd.value("SLIPWAY_STACK_AWS_ACCESS_KEY_ID"),
                   "AWS_SECRET_ACCESS_KEY": try EndToEnd.value("SLIPWAY_STACK_AWS_SECRET_ACCESS_KEY")]
        let e2e = try await EndToEnd.start(
            rollbackWindow: "1s", settings: aws,
            deploy: "  target: ecs\n  count: 2\n  cluster: \(name)\n  subnets: [\(subnet)]", service: name)
        defer { e2e.stop() }
        func serviceDefinition() async throws -> String? {
            try await ecs.describeServices(cluster: name, names: [name]).first?.taskDefinition
        }

        _ = try cli(e2e, ["deploy", name, "--image", "registry.example.com/\(name):v1"])
        _ = try await e2e.waitForStatus(timeout: .seconds(60)) { $0.deployments.first?.state == "succeeded" }
        let v1 = try #require(try await serviceDefinition())
        #expect(try await ecs.describeServices(cluster: name, names: [name]).first?.desiredCount == 2)

        _ = try cli(e2e, ["deploy", name, "--image", "registry.example.com/\(name):v2"])
        _ = try await e2e.waitForStatus(timeout: .seconds(60)) { $0.deployments.count == 2 && $0.deployments.first?.state == "succeeded" }
        let v2 = try #require(try await serviceDefinition())
        #expect(v2 != v1)

        _ = try cli(e2e, ["rollback", name])
        let status = try await e2e.waitForStatus(timeout: .seconds(60)) { $0.deployments.count == 3 && $0.deployments.first?.state == "succeeded" }
        #expect(try await serviceDefinition() == v1)
        #expect(status.deployments.map(\.state) == ["succeeded", "succeeded", "succeeded"])
        #expect(try await ecs.describeTaskDefinition(name).flatMap { $0["revision"] as? Int } == 2, "nothing registered for the rollback")
    }
}
