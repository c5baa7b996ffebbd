import AsyncHTTPClient
import Foundation
import SlipwayAWS
import SlipwayCore
import SlipwayECSFake
import SlipwayRuntime

/// deploy/bench/ecs: one reconcile pass over N services on ECS, the way the planner runs
/// it (observe every ecs service, then plan each one), against the paging-faithful fake in
/// another process. Counts the API calls of each pass and the CPU time this process spent.
///   slipway-bench ecs-fake --port P --services N      serves N services over 10 clusters
///   slipway-bench ecs --endpoint URL --services N     one JSON line
enum ECSBench {
    static func cluster(_ index: Int) -> String { "cluster-\(index % 10)" }

    static func serveFake(port: Int, services: Int) async throws {
        let fake = FakeECS()
        for index in 0..<services {
            let name = "svc-\(index)"
            fake.add(.init(cluster: cluster(index), name: name, taskDefinition: "arn:aws:ecs:us-east-1:123456789012:task-definition/\(name):7",
                           desiredCount: 2, runningCount: 2), image: "r.example.com/acme/\(name)@sha256:\(index)")
        }
        try await fake.serve(port: port)
    }

    static func cpuSeconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6
            + Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6
    }

    struct Pass: Encodable {
        var wallSeconds: Double
        var cpuSeconds: Double
        var calls: [String: Int]
        var inSync: Int
    }

    static func run(endpoint: String, services: Int) async throws -> String {
        let client = AWSClient(region: "us-east-1", environment: ["AWS_ENDPOINT_URL": endpoint]) {
            SigV4.Credentials(accessKeyID: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
        }
        var inputs: [(Policy, DeploymentRecord)] = []
        var known: [String: String] = [:]
        for index in 0..<services {
            let name = "svc-\(index)"
            let policy = Policy(service: name, source: .init(repo: "https://github.com/acme/\(name).git"), image: "r.example.com/acme/\(name)",
                                deploy: .init(target: .ecs, count: 2, ecs: .init(cluster: cluster(index), subnets: ["subnet-1"])))
            let ref = "arn:aws:ecs:us-east-1:123456789012:task-definition/\(name):7"
            let image = "r.example.com/acme/\(name)@sha256:\(index)"
            known[ref] = image
            inputs.append((policy, DeploymentRecord(id: Int64(index + 1), service: name, trigger: .image, state: .succeeded, image: image,
                                                    createdAt: Date(), liveAt: Date(), policy: policy, runtimeRef: ref)))
        }
        // Cold: a fresh runtime that knows no task definition (as `slipway plan` would be without history); warm: the history's.
        var passes: [String: Pass] = [:]
        for (label, images) in [("first", [String: String]()), ("steady", known)] {
            _ = try await HTTPClient.shared.execute(HTTPClientRequest(url: "\(endpoint)/calls/reset"), timeout: .seconds(5))
            let runtime = ECSRuntime(client: client)
            let cpu = cpuSeconds()
            let start = ContinuousClock.now
            let observed = try await runtime.observe(inputs.map(\.0), knownImages: images)
            var inSync = 0
            for (policy, record) in inputs {
                let units = (observed[policy.service] ?? []).map { unit -> ObservedUnit in
                    var unit = unit
                    if unit.ref == record.runtimeRef { unit.deploymentID = record.id }
                    return unit
                }
                let plan = Reconciler.plan(ReconcileInput(policy: policy, history: [record], liveID: record.id, observed: units))
                if plan.status == .inSync { inSync += 1 }
            }
            let elapsed = ContinuousClock.now - start
            let response = try await HTTPClient.shared.execute(HTTPClientRequest(url: "\(endpoint)/calls"), timeout: .seconds(5))
            let calls = try JSONDecoder().decode([String: Int].self, from: try await response.body.collect(upTo: 1 << 20))
            passes[label] = Pass(wallSeconds: Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18,
                                 cpuSeconds: cpuSeconds() - cpu, calls: calls, inSync: inSync)
        }
        struct Line: Encodable { var services: Int; var passes: [String: Pass] }
        let data = try JSONEncoder().encode(Line(services: services, passes: passes))
        return String(decoding: data, as: UTF8.self)
    }
}
