import AsyncHTTPClient
import Foundation
import SlipwayAWS
import SlipwayCore
import SlipwayECSFake
import SlipwayRuntime
import SlipwayTestSupport
import Testing

/// ECS's batch limits and pages, over HTTP against a fake that enforces them (moto takes
/// any number of names and answers every list in one page).
@Suite struct ECSPagingTests {
    static func withFake(_ body: (FakeECS, AWSClient) async throws -> Void) async throws {
        let fake = FakeECS()
        let port = try Scratch.freePort()
        let client = AWSClient(region: "us-east-1", environment: ["AWS_ENDPOINT_URL": "http://127.0.0.1:\(port)"], maxAttempts: 1) {
            SigV4.Credentials(accessKeyID: "AKIDEXAMPLE", secretAccessKey: "secret")
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await fake.serve(port: port) }
            defer { group.cancelAll() }
            for _ in 0..<200 {
                let ready = try? await HTTPClient.shared.execute(HTTPClientRequest(url: "http://127.0.0.1:\(port)/ready"), timeout: .seconds(1))
                if ready?.status == .ok { break }
                try await Task.sleep(for: .milliseconds(20))
            }
            try await body(fake, client)
        }
    }

    @Test func listsArePagedAndDescribesBatched() async throws {
        try await Self.withFake { fake, client in
            for index in 0..<253 {
                fake.add(.init(cluster: "prod", name: "svc-\(index)", taskDefinition: "arn:td/svc-\(index):1", desiredCount: 1, runningCount: 1),
                         image: "r/svc-\(index):v1")
            }
            fake.addTasks(cluster: "prod", service: "svc-0", count: 230)
            let ecs = ECSAPI(client: client)

            #expect(try await ecs.listServices(cluster: "prod").count == 253)
            #expect(fake.calls["ListServices"] == 3, "pages of 100")

            let names = (0..<253).map { "svc-\($0)" } + ["not-there"]
            let services = try await ecs.describeServices(cluster: "prod", names: names)
            #expect(services.count == 253)
            #expect(fake.calls["DescribeServices"] == 26, "10 names per call")

            let tasks = try await ecs.listTasks(cluster: "prod", service: "svc-0", desiredStatus: "RUNNING")
            #expect(tasks.count == 230)
            #expect(try await ecs.describeTasks(cluster: "prod", arns: tasks).count == 230)
            #expect(fake.calls["DescribeTasks"] == 3, "100 ARNs per call")

            // The fake refuses what ECS refuses: one call with 11 names.
            await #expect(throws: AWSError.self) {
                _ = try await client.call(.ecs, "DescribeServices", body: try JSONSerialization.data(withJSONObject: [
                    "cluster": "prod", "services": (0..<11).map { "svc-\($0)" }]))
            }
        }
    }

    @Test func observingUsesOneDescribeServicesCallPerTenServices() async throws {
        try await Self.withFake { fake, client in
            var policies: [Policy] = []
            var known: [String: String] = [:]
            for index in 0..<95 {
                let name = "svc-\(index)"
                fake.add(.init(cluster: index < 50 ? "a" : "b", name: name, taskDefinition: "arn:td/\(name):3", desiredCount: 2, runningCount: 2),
                         image: "r/\(name):v3")
                if index % 2 == 0 { known["arn:td/\(name):3"] = "r/\(name):v3" }
                policies.append(Policy(service: name, source: .init(repo: "https://github.com/acme/\(name).git"), image: "r/\(name)",
                                       deploy: .init(target: .ecs, count: 2, ecs: .init(cluster: index < 50 ? "a" : "b"))))
            }
            policies.append(Policy(service: "gone", source: .init(repo: "https://github.com/acme/gone.git"), image: "r/gone",
                                   deploy: .init(target: .ecs, ecs: .init(cluster: "a"))))
            let units = try await ECSRuntime(client: client).observe(policies, knownImages: known)
            #expect(units.count == 96)
            #expect(units["gone"] == [], "a service ECS does not have runs nothing")
            #expect(units["svc-7"] == [ObservedUnit(deploymentID: nil, sha: nil, image: "r/svc-7:v3", running: 2,
                                                    fields: ["deploy.count": "2"], ref: "arn:td/svc-7:3")])
            #expect(fake.calls["DescribeServices"] == 11, "5 + 6 batches for 50 + 46 names")
            #expect(fake.calls["DescribeTaskDefinition"] == 47, "only the task definitions no deployment recorded")
        }
    }
}
