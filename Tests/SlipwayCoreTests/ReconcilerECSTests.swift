import Foundation
import SlipwayCore
import Testing

/// Drift on `deploy.target: ecs`: one service runs one revision (a task definition), so
/// what differs from the live deployment is a change to repair, never a leftover to prune.
@Suite struct ReconcilerECSTests {
    static let sha = String(repeating: "a", count: 40)

    static func policy(selfHeal: Bool = false, prune: Bool = true) -> Policy {
        Policy(service: "web", source: .init(repo: "https://github.com/acme/shop.git"), image: "r.example.com/acme/web",
               deploy: .init(target: .ecs, count: 2, ecs: .init(cluster: "prod", subnets: ["subnet-1"])),
               sync: .init(selfHeal: selfHeal, prune: prune))
    }

    static func record(_ id: Int64, _ state: DeploymentState, policy: Policy = policy()) -> DeploymentRecord {
        DeploymentRecord(id: id, service: "web", trigger: .push, state: state, sha: sha, image: "r.example.com/acme/web@sha256:\(id)",
                         digest: "sha256:\(id)", createdAt: Date(timeIntervalSince1970: 1_800_000_000 + Double(id)),
                         liveAt: Date(timeIntervalSince1970: 1_800_000_100 + Double(id)), policy: policy, runtimeRef: "arn:td/web:\(id)")
    }

    static func unit(_ id: Int64?, desired: Int = 2, image: String? = nil) -> ObservedUnit {
        ObservedUnit(deploymentID: id, sha: nil, image: image ?? "r.example.com/acme/web@sha256:\(id ?? 0)", running: desired,
                     fields: ["deploy.count": "\(desired)"], ref: id.map { "arn:td/web:\($0)" } ?? "arn:td/handmade:1")
    }

    func plan(_ policy: Policy = policy(), history: [DeploymentRecord], live: Int64, observed: [ObservedUnit]) -> ServicePlan {
        Reconciler.plan(ReconcileInput(policy: policy, history: history.sorted { $0.id > $1.id }, liveID: live, observed: observed,
                                       registry: [:]))
    }

    @Test func theLiveRevisionAtItsCountIsInSync() {
        let p = plan(history: [Self.record(1, .succeeded)], live: 1, observed: [Self.unit(1)])
        #expect(p.status == .inSync)
    }

    @Test func aDesiredCountChangedByHandIsDrift() {
        let p = plan(history: [Self.record(1, .succeeded)], live: 1, observed: [Self.unit(1, desired: 5)])
        #expect(p.status == .drifted)
        #expect(p.differences.map(\.description) == ["changed outside Slipway: deploy.count 2 → 5"])
        #expect(p.actions.map(\.kind) == [.nothing])
        let healed = plan(Self.policy(selfHeal: true), history: [Self.record(1, .succeeded, policy: Self.policy(selfHeal: true))], live: 1,
                          observed: [Self.unit(1, desired: 5)])
        #expect(healed.actions.map(\.kind) == [.selfHeal])
    }

    @Test func aTaskDefinitionSwappedByHandIsRepairedNotPruned() {
        let p = plan(history: [Self.record(1, .succeeded)], live: 1, observed: [Self.unit(nil, image: "r.example.com/acme/web:handmade")])
        #expect(p.status == .drifted)
        #expect(p.differences.map(\.description)
                == ["changed outside Slipway: revision deployment 1 → r.example.com/acme/web:handmade (arn:td/handmade:1)"])
        #expect(!p.actions.contains { $0.kind == .prune }, "sync.prune is on, yet nothing is pruned")
    }

    @Test func aFailedRevisionStillInPlaceIsRolledBack() {
        let p = plan(history: [Self.record(1, .succeeded), Self.record(2, .failed)], live: 1, observed: [Self.unit(2)])
        #expect(p.actions.first?.kind == .rollback)
        #expect(p.actions.first?.deployments == [2])
    }

    @Test func aServiceDeletedByHandRunsNothing() {
        let p = plan(history: [Self.record(1, .succeeded)], live: 1, observed: [])
        #expect(p.status == .drifted)
        #expect(p.differences.map(\.description) == ["changed outside Slipway: running 2 → 0"])
    }
}
