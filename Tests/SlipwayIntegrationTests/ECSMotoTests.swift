import Foundation
import SlipwayAWS
import SlipwayCore
import Testing

/// The ECS calls a rollout and a rollback make, signed, against moto with signature
/// checking: register a revision, move the service to it, and back.
@Suite(.enabled(if: TestStack.enabled))
struct ECSMotoTests {
    func client() throws -> AWSClient {
        let key = try TestStack.value("SLIPWAY_STACK_AWS_ACCESS_KEY_ID")
        let secret = try TestStack.value("SLIPWAY_STACK_AWS_SECRET_ACCESS_KEY")
        return AWSClient(region: "us-east-1", environment: ["AWS_ENDPOINT_URL": try TestStack.value("SLIPWAY_STACK_AWS_ENDPOINT")]) {
            SigV4.Credentials(accessKeyID: key, secretAccessKey: secret)
        }
    }

    static func tag(_ name: String, in xml: String) -> String? { XMLText.first(name, in: xml) }

    func call(_ client: AWSClient, _ action: String, _ body: [String: Any]) async throws -> [String: Any] {
        let data = try await client.call(.ecs, action, body: try JSONSerialization.data(withJSONObject: body))
        return try JSONSerialization.jsonObject(with: data) as? [String: Any] ?? [:]
    }

    func register(_ client: AWSClient, _ definition: ECSTaskDefinition) async throws -> String {
        let body = definition.json
        let answer = try await call(client, "RegisterTaskDefinition", body)
        return try #require((answer["taskDefinition"] as? [String: Any])?["taskDefinitionArn"] as? String)
    }

    func serviceDefinition(_ client: AWSClient, cluster: String, service: String) async throws -> String? {
        let answer = try await call(client, "DescribeServices", ["cluster": cluster, "services": [service]])
        return (answer["services"] as? [[String: Any]])?.first?["taskDefinition"] as? String
    }

    @Test func rollOutARevisionAndRollBack() async throws {
        let client = try client()
        let name = "it-\(UUID().uuidString.prefix(8).lowercased())"
        var policy = Policy(service: name, source: .init(repo: "https://github.com/acme/api.git"), image: "r.example.com/acme/api",
                            deploy: .init(target: .ecs, count: 2, port: 8080, env: ["LOG_LEVEL": "info"],
                                          ecs: .init(cluster: name, cpu: 256, memory: 512, subnets: ["subnet-0a1b2c3d"])))
        _ = try await call(client, "CreateCluster", ["clusterName": name])
        // moto checks subnets against its EC2: make one.
        let vpc = try await client.query(.ec2, "CreateVpc", version: "2016-11-15", parameters: ["CidrBlock": "10.0.0.0/16"])
        let vpcID = try #require(Self.tag("vpcId", in: vpc))
        let subnetAnswer = try await client.query(.ec2, "CreateSubnet", version: "2016-11-15", parameters: ["VpcId": vpcID, "CidrBlock": "10.0.1.0/24"])
        let subnet = try #require(Self.tag("subnetId", in: subnetAnswer))
        policy.deploy.ecs?.subnets = [subnet]

        let first = try #require(ECSTaskDefinition.render(policy, image: "r.example.com/acme/api:v1", region: "us-east-1"))
        let firstARN = try await register(client, first)
        let described = try await call(client, "DescribeTaskDefinition", ["taskDefinition": firstARN])
        #expect(first.matches(described: try #require(described["taskDefinition"] as? [String: Any])))

        _ = try await call(client, "CreateService", [
            "cluster": name, "serviceName": name, "taskDefinition": firstARN, "desiredCount": 2, "launchType": "FARGATE",
            "networkConfiguration": ["awsvpcConfiguration": ["subnets": [subnet], "securityGroups": [String](), "assignPublicIp": "DISABLED"]],
        ])
        #expect(try await serviceDefinition(client, cluster: name, service: name) == firstARN)

        policy.deploy.env["LOG_LEVEL"] = "debug"
        let second = try #require(ECSTaskDefinition.render(policy, image: "r.example.com/acme/api:v2", region: "us-east-1"))
        #expect(!second.matches(described: try #require(described["taskDefinition"] as? [String: Any])))
        let secondARN = try await register(client, second)
        #expect(secondARN.hasSuffix(":2"))
        _ = try await call(client, "UpdateService", ["cluster": name, "service": name, "taskDefinition": secondARN])
        #expect(try await serviceDefinition(client, cluster: name, service: name) == secondARN)

        // Rollback: the service goes back to the last good revision.
        _ = try await call(client, "UpdateService", ["cluster": name, "service": name, "taskDefinition": firstARN])
        #expect(try await serviceDefinition(client, cluster: name, service: name) == firstARN)
    }
}
