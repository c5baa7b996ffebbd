import Foundation
import SlipwayAWS
import SlipwayCore
import SlipwayRuntime
import Testing

/// A preview on ECS against moto (ECS, ELBv2, EC2), with signatures checked: opening makes
/// its own service and task-definition family beside the main one, a target group and a
/// host-header rule on the listener; teardown removes all four and leaves main alone; a
/// leak check lists what the account holds afterwards.
@Suite(.enabled(if: TestStack.enabled))
struct ECSPreviewMotoTests {
    /// A VPC with two subnets, an ALB and an HTTP listener answering 404 by default.
    static func listener(_ client: AWSClient, name: String) async throws -> (vpc: String, subnet: String, listener: String) {
        let vpcXML = try await client.query(.ec2, "CreateVpc", version: "2016-11-15", parameters: ["CidrBlock": "10.1.0.0/16"])
        let vpc = try #require(XMLText.first("vpcId", in: vpcXML))
        var subnets: [String] = []
        for (index, zone) in ["us-east-1a", "us-east-1b"].enumerated() {
            let xml = try await client.query(.ec2, "CreateSubnet", version: "2016-11-15",
                                             parameters: ["VpcId": vpc, "CidrBlock": "10.1.\(index).0/24", "AvailabilityZone": zone])
            subnets.append(try #require(XMLText.first("subnetId", in: xml)))
        }
        let balancer = try await client.query(.elbv2, "CreateLoadBalancer", version: "2015-12-01", parameters: [
            "Name": name, "Subnets.member.1": subnets[0], "Subnets.member.2": subnets[1], "Type": "application",
        ])
        let balancerARN = try #require(XMLText.first("LoadBalancerArn", in: balancer))
        let listener = try await client.query(.elbv2, "CreateListener", version: "2015-12-01", parameters: [
            "LoadBalancerArn": balancerARN, "Protocol": "HTTP", "Port": "80",
            "DefaultActions.member.1.Type": "fixed-response", "DefaultActions.member.1.FixedResponseConfig.StatusCode": "404",
        ])
        return (vpc, subnets[0], try #require(XMLText.first("ListenerArn", in: listener)))
    }

    @Test func aPreviewGetsItsServiceFamilyTargetGroupAndRuleAndTeardownRemovesAllFour() async throws {
        let client = try ECSRuntimeMotoTests.client()
        let ecs = ECSAPI(client: client), elb = ELBv2API(client: client)
        let runtime = ECSRuntime(client: client)
        let name = "pv-\(UUID().uuidString.prefix(8).lowercased())"
        try await ecs.createCluster(name)
        let (vpc, subnet, listener) = try await Self.listener(client, name: name)
        var policy = ECSRuntimeMotoTests.policy(name, subnet: subnet, count: 1)
        policy.previews = Policy.Previews(enabled: true, url: "https://pr-{number}.\(name).preview.example.com",
                                          loadBalancer: .init(listenerArn: listener, priorities: 10...20, healthCheckPath: "/healthz", vpcId: vpc))
        // The main service runs first; the preview must not touch it.
        let main = try await runtime.start(ECSRuntimeMotoTests.revision(policy, id: 1, image: "r.example.com/acme/\(name):main"))
        let mainRef = try #require(main.ref)

        let target = DeploymentTarget(service: name, environment: .pullRequest(42))
        var preview = ECSRuntimeMotoTests.revision(PreviewRules.policy(policy, head: .init(number: 42, branch: "feat", sha: "ab", fork: false)),
                                                   id: 2, image: "r.example.com/acme/\(name):pr-42-ab")
        preview.environment = target.environment
        let started = try await runtime.start(preview)
        let previewRef = try #require(started.ref)
        #expect(previewRef.contains("task-definition/\(name)-pr-42:"))
        let service = try #require(try await ecs.describeServices(cluster: name, names: ["\(name)-pr-42"]).first)
        #expect(service.isActive && service.taskDefinition == previewRef)
        let group = try #require(try await elb.targetGroup(named: "slipway-\(name)-pr-42"))
        let rules = try await elb.rules(listener: listener)
        let rule = try #require(rules.first { $0.targetGroups.contains(group.arn) }, "\(rules)")
        #expect(rule.hosts == ["pr-42.\(name).preview.example.com"])
        #expect(rule.priority == "10")
        #expect(try await runtime.previewTargets([policy]) == [target])
        // Starting again (a new commit) reuses the group and its rule.
        _ = try await runtime.start(preview)
        #expect(try await elb.rules(listener: listener).filter { $0.targetGroups.contains(group.arn) }.count == 1)

        try await runtime.tearDown(target, policy: preview.policy, images: [])
        #expect(try await ecs.describeServices(cluster: name, names: ["\(name)-pr-42"]).allSatisfy { !$0.isActive })
        #expect(try await ecs.listTaskDefinitions(family: "\(name)-pr-42").isEmpty)
        #expect(try await elb.targetGroup(named: "slipway-\(name)-pr-42") == nil)
        #expect(try await elb.rules(listener: listener).allSatisfy { $0.targetGroups.isEmpty || $0.priority == "default" })
        #expect(try await runtime.previewTargets([policy]).isEmpty)
        // Again: nothing left to remove, no error.
        try await runtime.tearDown(target, policy: preview.policy, images: [])

        // Leak check: what the account holds for this test is the main service and its family, nothing of the preview.
        let services = try await ecs.listServices(cluster: name).compactMap { $0.split(separator: "/").last.map(String.init) }
        let active = try await ecs.describeServices(cluster: name, names: services).filter(\.isActive).map(\.name)
        let groups = XMLText.all("TargetGroupName", in: try await client.query(.elbv2, "DescribeTargetGroups", version: "2015-12-01"))
        let leaked = (services: active.filter { $0 != name }.count,
                      families: try await ecs.listTaskDefinitions(family: "\(name)-pr-42").count,
                      groups: groups.filter { $0.hasPrefix("slipway-\(name)") }.count,
                      rules: try await elb.rules(listener: listener).filter { !$0.targetGroups.isEmpty }.count)
        #expect(active == [name])
        #expect(try await ecs.listTaskDefinitions(family: name) == [mainRef])
        #expect(leaked.services + leaked.families + leaked.groups + leaked.rules == 0, "\(leaked)")
        print("ecs previews: leaked services \(leaked.services), families \(leaked.families), target groups \(leaked.groups), rules \(leaked.rules)")
    }

    @Test func aLongServiceNamesTargetGroupIsShortenedStably() async throws {
        let long = DeploymentTarget(service: String(repeating: "a", count: 40), environment: .pullRequest(2_147_483_647))
        let name = PreviewRules.shortened("slipway-\(long.runtimeName)", limit: 32)
        #expect(name.count == 32 && name.hasSuffix("-pr-2147483647"))
    }
}
