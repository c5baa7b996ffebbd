import Foundation
import SlipwayAWS
import SlipwayCore
import SlipwayRuntime
import Testing

/// The ECS runtime against moto with signature checking: what a rollout, a rollback and
/// the reconciler's observation do to a real (emulated) ECS API.
@Suite(.enabled(if: TestStack.enabled))
struct ECSRuntimeMotoTests {
    static func client(secret: String? = nil) throws -> AWSClient {
        let key = try TestStack.value("SLIPWAY_STACK_AWS_ACCESS_KEY_ID")
        let secret = try secret ?? TestStack.value("SLIPWAY_STACK_AWS_SECRET_ACCESS_KEY")
        return AWSClient(region: "us-east-1", environment: ["AWS_ENDPOINT_URL": try TestStack.value("SLIPWAY_STACK_AWS_ENDPOINT")],
                         maxAttempts: 2) {
            SigV4.Credentials(accessKeyID: key, secretAccessKey: secret)
        }
    }

    /// A cluster and a subnet moto accepts (it checks subnets against its EC2).
    static func cluster(_ client: AWSClient, name: String) async throws -> String {
        try await ECSAPI(client: client).createCluster(name)
        let vpc = try await client.query(.ec2, "CreateVpc", version: "2016-11-15", parameters: ["CidrBlock": "10.0.0.0/16"])
        let vpcID = try #require(XMLText.first("vpcId", in: vpc))
        let subnet = try await client.query(.ec2, "CreateSubnet", version: "2016-11-15", parameters: ["VpcId": vpcID, "CidrBlock": "10.0.1.0/24"])
        return try #require(XMLText.first("subnetId", in: subnet))
    }

    static func policy(_ name: String, subnet: String, count: Int = 2) -> Policy {
        Policy(service: name, source: .init(repo: "https://github.com/acme/api.git"), image: "r.example.com/acme/\(name)",
               deploy: .init(target: .ecs, count: count, port: 8080, env: ["LOG_LEVEL": "info"],
                             ecs: .init(cluster: name, cpu: 256, memory: 512, subnets: [subnet], logGroup: "/slipway/\(name)")))
    }

    static func revision(_ policy: Policy, id: Int64, image: String, ref: String? = nil) -> Revision {
        Revision(service: policy.service, deploymentID: id, image: image, sha: nil, count: policy.deploy.count, env: policy.deploy.env,
                 port: policy.deploy.port, policy: policy, ref: ref)
    }

    @Test func createsUpdatesReusesAndPinsTaskDefinitions() async throws {
        let client = try Self.client()
        let ecs = ECSAPI(client: client)
        let runtime = ECSRuntime(client: client)
        let name = "rt-\(UUID().uuidString.prefix(8).lowercased())"
        let policy = Self.policy(name, subnet: try await Self.cluster(client, name: name))

        // No service yet: nothing runs, and it is created with the policy's count.
        #expect(try await runtime.current(Self.revision(policy, id: 1, image: "r.example.com/acme/\(name):v1")) == nil)
        let first = try await runtime.start(Self.revision(policy, id: 1, image: "r.example.com/acme/\(name):v1"))
        let firstRef = try #require(first.ref)
        var service = try #require(try await ecs.describeServices(cluster: name, names: [name]).first)
        #expect(service.taskDefinition == firstRef)
        #expect(service.desiredCount == 2)

        // The same revision again registers nothing new.
        let again = try await runtime.start(Self.revision(policy, id: 2, image: "r.example.com/acme/\(name):v1"))
        #expect(again.ref == firstRef)

        // A new image: a new revision of the family, and the service moves to it.
        let second = try await runtime.start(Self.revision(policy, id: 3, image: "r.example.com/acme/\(name):v2"))
        let secondRef = try #require(second.ref)
        #expect(secondRef != firstRef)
        #expect(secondRef.hasSuffix(":2"))
        service = try #require(try await ecs.describeServices(cluster: name, names: [name]).first)
        #expect(service.taskDefinition == secondRef)
        let described = try #require(try await ecs.describeTaskDefinition(secondRef))
        #expect(DescribedTaskDefinition(described).image == "r.example.com/acme/\(name):v2")
        #expect(DescribedTaskDefinition(described).log?.group == "/slipway/\(name)")

        // A rollback pins the earlier ARN: that exact revision goes back, nothing is registered.
        let back = try await runtime.start(Self.revision(policy, id: 4, image: "r.example.com/acme/\(name):v1", ref: firstRef))
        #expect(back.ref == firstRef)
        service = try #require(try await ecs.describeServices(cluster: name, names: [name]).first)
        #expect(service.taskDefinition == firstRef)
        #expect(try await ecs.describeTaskDefinition(name).flatMap { $0["revision"] as? Int } == 2)

        // The reconciler's view: one unit per service, on the ref it runs, with its desired count.
        let units = try await runtime.observe([policy], knownImages: [:])
        let unit = try #require(units[name]?.first)
        #expect(unit.ref == firstRef)
        #expect(unit.image == "r.example.com/acme/\(name):v1")
        #expect(unit.fields["deploy.count"] == "2")

        // Removing a revision the service no longer runs changes nothing; removing the one it runs scales it to zero.
        try await runtime.remove(Self.revision(policy, id: 3, image: "r.example.com/acme/\(name):v2", ref: secondRef))
        #expect(try await ecs.describeServices(cluster: name, names: [name]).first?.desiredCount == 2)
        try await runtime.remove(Self.revision(policy, id: 4, image: "r.example.com/acme/\(name):v1", ref: firstRef))
        #expect(try await ecs.describeServices(cluster: name, names: [name]).first?.desiredCount == 0)
    }

    @Test func aServiceMadeElsewhereIsReportedAsReplaced() async throws {
        let client = try Self.client()
        let ecs = ECSAPI(client: client)
        let name = "rt-\(UUID().uuidString.prefix(8).lowercased())"
        let subnet = try await Self.cluster(client, name: name)
        let policy = Self.policy(name, subnet: subnet, count: 1)
        var theirs = try #require(ECSTaskDefinition.render(policy, image: "r.example.com/acme/\(name):handmade", region: "us-east-1"))
        theirs.family = "\(name)-handmade"
        let theirRef = try await ecs.registerTaskDefinition(theirs)
        _ = try await ecs.createService(["cluster": name, "serviceName": name, "taskDefinition": theirRef, "desiredCount": 1,
                                         "launchType": "FARGATE", "networkConfiguration": ["awsvpcConfiguration": [
                                             "subnets": [subnet], "securityGroups": [String](), "assignPublicIp": "DISABLED"]]])

        let runtime = ECSRuntime(client: client)
        let revision = Self.revision(policy, id: 1, image: "r.example.com/acme/\(name):v1")
        #expect(try await runtime.current(revision) == RunningRevision(ref: theirRef, image: "r.example.com/acme/\(name):handmade"))
        let started = try await runtime.start(revision)
        #expect(try await ecs.describeServices(cluster: name, names: [name]).first?.taskDefinition == started.ref)

        // Rolled back to it: the hand-made revision itself goes back (another family: put back exactly).
        let back = try await runtime.start(Self.revision(policy, id: 2, image: "r.example.com/acme/\(name):handmade", ref: theirRef))
        #expect(back.ref == theirRef)
        #expect(try await ecs.describeServices(cluster: name, names: [name]).first?.taskDefinition == theirRef)
    }

    @Test func aWrongSecretFailsInPlainWordsAndChangesNothing() async throws {
        let client = try Self.client()
        let ecs = ECSAPI(client: client)
        let name = "rt-\(UUID().uuidString.prefix(8).lowercased())"
        let policy = Self.policy(name, subnet: try await Self.cluster(client, name: name))
        let first = try await ECSRuntime(client: client).start(Self.revision(policy, id: 1, image: "r.example.com/acme/\(name):v1"))

        let wrong = ECSRuntime(client: try Self.client(secret: "not-the-secret"))
        let failure = await #expect(throws: RuntimeFailure.self) {
            try await wrong.start(Self.revision(policy, id: 2, image: "r.example.com/acme/\(name):v2"))
        }
        #expect(failure?.message.contains("SignatureDoesNotMatch") == true)
        #expect(failure?.message.contains("AWS_SECRET_ACCESS_KEY") == true)
        #expect(try await ecs.describeServices(cluster: name, names: [name]).first?.taskDefinition == first.ref)
        #expect(try await ecs.describeTaskDefinition(name).flatMap { $0["revision"] as? Int } == 1)
    }

    @Test func aMissingClusterNamesTheFix() async throws {
        let client = try Self.client()
        let name = "rt-\(UUID().uuidString.prefix(8).lowercased())"
        let policy = Self.policy(name, subnet: "subnet-00000000")
        let failure = await #expect(throws: RuntimeFailure.self) {
            try await ECSRuntime(client: client).start(Self.revision(policy, id: 1, image: "r.example.com/acme/\(name):v1"))
        }
        #expect(failure?.message.contains("create-cluster --cluster-name \(name)") == true)
    }

    /// A pinned revision is reused only while it can be: deregistered, or no longer what the
    /// policy renders for its image (the policy changed since), a current revision is used.
    @Test func aPinnedRevisionThatCannotBeReusedIsNot() async throws {
        let client = try Self.client()
        let ecs = ECSAPI(client: client)
        let runtime = ECSRuntime(client: client)
        let name = "rt-\(UUID().uuidString.prefix(8).lowercased())"
        var policy = Self.policy(name, subnet: try await Self.cluster(client, name: name))
        let v1 = try #require(try await runtime.start(Self.revision(policy, id: 1, image: "r.example.com/acme/\(name):v1")).ref)
        let v2 = try #require(try await runtime.start(Self.revision(policy, id: 2, image: "r.example.com/acme/\(name):v2")).ref)

        // The policy changed since v1 ran: the rollback runs v1's image with today's settings.
        policy.deploy.env["FEATURE"] = "on"
        let changed = try #require(try await runtime.start(Self.revision(policy, id: 3, image: "r.example.com/acme/\(name):v1", ref: v1)).ref)
        #expect(changed != v1 && changed != v2)
        let described = DescribedTaskDefinition(try #require(try await ecs.describeTaskDefinition(changed)))
        #expect(described.image == "r.example.com/acme/\(name):v1")

        // Deregistered: not put back, a revision is registered for the same content instead.
        try await ecs.deregisterTaskDefinition(v2)
        policy.deploy.env["FEATURE"] = nil
        let again = try #require(try await runtime.start(Self.revision(policy, id: 4, image: "r.example.com/acme/\(name):v2", ref: v2)).ref)
        #expect(again != v2)
        #expect(try await ecs.describeServices(cluster: name, names: [name]).first?.taskDefinition == again)
    }
}
