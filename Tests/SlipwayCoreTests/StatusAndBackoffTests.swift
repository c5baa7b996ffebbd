import Foundation
import SlipwayCore
import Testing

@Suite struct ServiceStatusTests {
    func deployment(_ id: Int64, _ state: DeploymentState, sha: String? = nil) -> ServiceStatus.Deployment {
        ServiceStatus.Deployment(id: id, sha: sha, state: state, reason: nil, trigger: .push, image: nil, digest: nil,
                                 createdAt: Date(timeIntervalSince1970: 0), updatedAt: Date(timeIntervalSince1970: 0),
                                 liveAt: nil, finishedAt: nil)
    }

    @Test(arguments: [
        ([DeploymentState](), false, ServiceStatus.State.notDeployed),
        ([.succeeded], true, .live),
        ([.succeeded, .building], true, .deploying),
        ([.failed], false, .down),
        ([.rolledBack, .succeeded], true, .live),
    ])
    func state(states: [DeploymentState], live: Bool, expected: ServiceStatus.State) {
        let deployments = states.enumerated().map { deployment(Int64($0.offset + 1), $0.element, sha: "s\($0.offset + 1)") }
        let status = ServiceStatus(service: "web", live: live ? (1, "s1") : nil, deployments: deployments)
        #expect(status.state == expected)
        #expect(status.deployments.map(\.id) == deployments.map(\.id).sorted(by: >))
    }

    @Test func jsonKeepsNullsAndTheContractKeys() throws {
        let status = ServiceStatus(service: "web", live: nil, deployments: [deployment(7, .queued)])
        let object = try JSONSerialization.jsonObject(with: JSONEncoder.slipway.encode([status])) as! [[String: Any]]
        let first = object[0]
        #expect(first["service"] as? String == "web")
        #expect(first["liveSHA"] is NSNull)
        #expect(first["state"] as? String == "deploying")
        let d = (first["deployments"] as! [[String: Any]])[0]
        #expect(d["id"] as? Int == 7)
        #expect(d["state"] as? String == "queued")
        #expect(d["reason"] is NSNull)
        #expect(d["sha"] is NSNull)
        #expect(d["createdAt"] as? String == "1970-01-01T00:00:00.000Z")
    }

    @Test func stateNamesAreTheContract() {
        #expect(DeploymentState.allCases.map(\.rawValue) == [
            "queued", "building", "pushing", "rolling_out", "watching", "succeeded", "failed", "rolled_back",
            "cancelled", "superseded",
        ])
    }
}

@Suite struct BackoffTests {
    @Test(arguments: [
        (1, 0.0, 1000), (1, 1.0, 2000), (2, 0.0, 2000), (3, 0.5, 6000), (20, 1.0, 300_000), (20, 0.0, 150_000),
    ] as [(Int, Double, Int64)])
    func exponentialWithJitterAndCap(attempt: Int, jitter: Double, milliseconds: Int64) {
        #expect(Backoff.delay(attempt: attempt, jitter: jitter).milliseconds == milliseconds)
    }
}
