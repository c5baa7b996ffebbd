import Foundation
import SlipwayAWS
import SlipwayCore
import Testing

@Suite struct ECSTemplateTests {
    @Test func placeholdersTakeWholeValuesAndAbsentOnesLeaveNoTrace() throws {
        let template = try JSONTemplate("""
            {"name": "{{name}}", "count": "{{count}}", "tags": ["{{a}}", "{{b}}"], "label": "svc-{{name}}",
             "nested": {"gone": "{{missing}}", "kept": true}}
            """)
        #expect(template.names == ["name", "count", "a", "b", "missing"])
        let out = try template.render(["name": .string("web"), "count": .number(3), "a": .object(["k": .string("v")])])
        #expect(out == .object([
            "name": .string("web"), "count": .number(3), "tags": .array([.object(["k": .string("v")])]), "label": .string("svc-web"),
            "nested": .object(["kept": .bool(true)]),
        ]))
        #expect(throws: JSONTemplate.Problem.self) { try template.render([:], required: ["name"]) }
        #expect(throws: JSONTemplate.Problem.self) { try JSONTemplate("{not json") }
    }

    /// A name in manifests/ecs that the renderer never fills would silently drop a setting.
    @Test func theManifestsUseOnlyNamesTheRendererFills() {
        #expect(ECSTemplates.taskDefinition.names == [
            "family", "requiresCompatibilities", "cpu", "memory", "executionRoleArn", "taskRoleArn", "container", "image",
            "portMappings", "environment", "secrets", "healthCheck", "logConfiguration",
        ])
        #expect(ECSTemplates.service.names == [
            "cluster", "serviceName", "taskDefinition", "desiredCount", "launchType", "capacityProviderStrategy", "subnets",
            "securityGroups", "assignPublicIp", "service",
        ])
    }

    static func policy(launchType: Policy.LaunchType? = .fargate, capacityProvider: String? = nil) -> Policy {
        Policy(service: "web", source: .init(repo: "https://github.com/acme/web.git"), image: "r.example.com/acme/web",
               deploy: .init(target: .ecs, count: 2, ecs: .init(cluster: "prod", service: "web-svc", launchType: launchType,
                                                                capacityProvider: capacityProvider, subnets: ["subnet-1", "subnet-2"],
                                                                securityGroups: ["sg-1"], assignPublicIp: true)))
    }

    @Test(arguments: [
        (Policy.LaunchType?.some(.fargate), String?.none, "FARGATE", String?.none),
        (Policy.LaunchType?.some(.ec2), String?.none, "EC2", String?.none),
        (Policy.LaunchType?.none, String?.some("FARGATE_SPOT"), String?.none, String?.some("FARGATE_SPOT")),
    ] as [(Policy.LaunchType?, String?, String?, String?)])
    func createServiceRequests(launchType: Policy.LaunchType?, provider: String?, wantLaunchType: String?, wantProvider: String?) throws {
        let request = try #require(ECSTemplates.createService(Self.policy(launchType: launchType, capacityProvider: provider),
                                                              taskDefinition: "arn:td:1", count: 2))
        #expect(request["cluster"] as? String == "prod")
        #expect(request["serviceName"] as? String == "web-svc")
        #expect(request["taskDefinition"] as? String == "arn:td:1")
        #expect(request["desiredCount"] as? Int == 2)
        #expect(request["launchType"] as? String == wantLaunchType)
        #expect(((request["capacityProviderStrategy"] as? [[String: Any]])?.first?["capacityProvider"] as? String) == wantProvider)
        let network = (request["networkConfiguration"] as? [String: Any])?["awsvpcConfiguration"] as? [String: Any]
        #expect(network?["subnets"] as? [String] == ["subnet-1", "subnet-2"])
        #expect(network?["securityGroups"] as? [String] == ["sg-1"])
        #expect(network?["assignPublicIp"] as? String == "ENABLED")
        let breaker = ((request["deploymentConfiguration"] as? [String: Any])?["deploymentCircuitBreaker"] as? [String: Any])
        #expect(breaker?["enable"] as? Bool == true)
        #expect(breaker?["rollback"] as? Bool == false)
        #expect(try JSONSerialization.data(withJSONObject: request).count > 0)
    }

    @Test func aDockerPolicyRendersNothing() {
        var policy = Self.policy()
        policy.deploy = .init()
        #expect(ECSTemplates.createService(policy, taskDefinition: "x", count: 1) == nil)
        #expect(ECSTaskDefinition.render(policy, image: "x", region: "us-east-1") == nil)
    }
}
