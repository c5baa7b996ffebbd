import Foundation
import SlipwayAWS
import Testing

/// deploy/production's ECS manifests for Slipway itself: the task definition registers, the
/// target group checks /ready, and the service is created from them on moto (which validates
/// each request); the IAM policy allows exactly the calls Slipway's AWS client makes.
@Suite(.enabled(if: TestStack.enabled))
struct ProductionManifestTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../..").standardized.path

    static func json(_ name: String) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: "\(root)/deploy/production/ecs/\(name)"))) as! [String: Any]
    }

    @Test func theTaskDefinitionTargetGroupAndServiceAreAcceptedByECS() async throws {
        let client = try ECSRuntimeMotoTests.client()
        let suffix = UUID().uuidString.prefix(8).lowercased()
        let subnet = try await ECSRuntimeMotoTests.cluster(client, name: "slipway-\(suffix)")

        var definition = try Self.json("task-definition.json")
        definition["family"] = "slipway-\(suffix)"
        let registered = try JSONSerialization.jsonObject(with: try await client.call(.ecs, "RegisterTaskDefinition",
                                                                                       body: try JSONSerialization.data(withJSONObject: definition))) as? [String: Any]
        let taskDefinition = try #require(registered?["taskDefinition"] as? [String: Any])
        #expect(taskDefinition["taskDefinitionArn"] as? String != nil)
        let container = try #require((taskDefinition["containerDefinitions"] as? [[String: Any]])?.first)
        #expect(container["stopTimeout"] as? Int == 60)

        let targetGroupSpec = try Self.json("target-group.json")
        #expect(targetGroupSpec["HealthCheckPath"] as? String == "/ready")
        let vpc = try #require(XMLText.first("vpcId", in: try await client.query(.ec2, "CreateVpc", version: "2016-11-15",
                                                                                   parameters: ["CidrBlock": "10.1.0.0/16"])))
        var parameters = targetGroupSpec.compactMapValues { value -> String? in value is [String: Any] ? nil : "\(value)" }
        parameters["Name"] = "slipway-\(suffix)"
        parameters["VpcId"] = vpc
        parameters["Matcher.HttpCode"] = (targetGroupSpec["Matcher"] as? [String: Any])?["HttpCode"] as? String
        let created = try await client.query(.elbv2, "CreateTargetGroup", version: "2015-12-01", parameters: parameters)
        let targetGroup = try #require(XMLText.first("TargetGroupArn", in: created))

        var service = try Self.json("service.json")
        service["cluster"] = "slipway-\(suffix)"
        service["taskDefinition"] = "slipway-\(suffix)"
        service["loadBalancers"] = [["targetGroupArn": targetGroup, "containerName": "slipway", "containerPort": 8080]]
        let group = try #require(XMLText.first("groupId", in: try await client.query(.ec2, "CreateSecurityGroup", version: "2016-11-15", parameters: [
            "GroupName": "slipway-\(suffix)", "GroupDescription": "slipway-replicas"])))
        service["networkConfiguration"] = ["awsvpcConfiguration": ["subnets": [subnet], "securityGroups": [group], "assignPublicIp": "DISABLED"]]
        let answer = try JSONSerialization.jsonObject(with: try await client.call(.ecs, "CreateService",
                                                                                   body: try JSONSerialization.data(withJSONObject: service))) as? [String: Any]
        let made = try #require(answer?["service"] as? [String: Any])
        #expect(made["desiredCount"] as? Int == 2)
        #expect(made["serviceName"] as? String == "slipway")
    }

    /// Every AWS call in Sources/SlipwayAWS is allowed, and nothing else: a new call fails this
    /// test until the policy (and the README's list) names it.
    @Test func theIAMPolicyAllowsWhatSlipwayCallsAndNoMore() throws {
        let prefixes = ["ECSAPI.swift": "ecs", "ECRAPI.swift": "ecr", "ELBv2API.swift": "elasticloadbalancing", "LogsAPI.swift": "logs"]
        var called: Set<String> = []
        for (file, prefix) in prefixes {
            let source = try String(contentsOfFile: "\(Self.root)/Sources/SlipwayAWS/\(file)", encoding: .utf8)
            let pattern = try NSRegularExpression(pattern: #"(?:json|call|pages)\((?:\.[a-z]+, )?"([A-Z][A-Za-z]+)""#)
            for match in pattern.matches(in: source, range: NSRange(source.startIndex..., in: source)) {
                called.insert("\(prefix):\(source[Range(match.range(at: 1), in: source)!])")
            }
        }
        // Made by tests and benchmarks only.
        called.subtract(["ecs:CreateCluster", "ecr:CreateRepository"])
        // Made for Slipway by others: the engine's pushes and pulls to ECR, the registry API's tag lists and
        // deletes (image retention), ECS tagging on create, passing task roles.
        let onItsBehalf: Set = ["ecr:BatchCheckLayerAvailability", "ecr:InitiateLayerUpload", "ecr:UploadLayerPart", "ecr:CompleteLayerUpload",
                                "ecr:PutImage", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:ListImages", "ecs:TagResource",
                                "elasticloadbalancing:AddTags", "iam:PassRole"]
        let statements = try Self.policyStatements()
        let allowed = Set(statements.flatMap { statement -> [String] in
            if let one = statement["Action"] as? String { return [one] }
            return statement["Action"] as? [String] ?? []
        })
        #expect(called.count >= 20, "\(called.sorted())")
        #expect(called.subtracting(allowed).isEmpty, "not allowed: \(called.subtracting(allowed).sorted())")
        #expect(allowed.subtracting(called).subtracting(onItsBehalf).isEmpty, "allowed but never called: \(allowed.subtracting(called).subtracting(onItsBehalf).sorted())")
    }

    static func policyStatements() throws -> [[String: Any]] {
        let data = try Data(contentsOf: URL(fileURLWithPath: "\(root)/deploy/production/ecs/iam-policy.json"))
        return (try JSONSerialization.jsonObject(with: data) as? [String: Any])?["Statement"] as? [[String: Any]] ?? []
    }
}
